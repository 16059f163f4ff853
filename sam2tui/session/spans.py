"""Which frames a correction affects, so that re-propagation redoes that span and nothing more.

The rule (also in README and docs/guide.md): a prompt edit of object O on frame f re-tracks
- forward from f up to, not including, O's next prompted frame after f; without one, up to the last frame
  that already has results for O (never past what was tracked before);
- backward likewise, down to O's previous prompted frame.
Prompted frames are SAM 2's conditioning frames: their masks are fixed by their own prompts, so tracking
beyond them is governed by them, not by the edit at f.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sam2tui.values import Direction


@dataclass(frozen=True)
class Span:
    """Track from `start` in `direction` over at most `max_frames` frames (the start included)."""

    start: int
    direction: Direction
    max_frames: int

    @property
    def frames(self) -> range:
        if self.direction is Direction.FORWARD:
            return range(self.start, self.start + self.max_frames)
        return range(self.start - self.max_frames + 1, self.start + 1)


def correction_spans(
    frame: int, prompted_frames: Sequence[int], tracked_frames: Collection[int]
) -> list[Span]:
    """The spans to re-propagate after object O's prompts on `frame` changed.

    `prompted_frames`: O's prompted frames (any order, `frame` may be among them);
    `tracked_frames`: frames that have a stored result for O.
    """
    others = sorted(f for f in set(prompted_frames) if f != frame)
    spans: list[Span] = []
    later_prompt = next((f for f in others if f > frame), None)
    last_tracked = max((f for f in tracked_frames if f > frame), default=None)
    forward_end = later_prompt - 1 if later_prompt is not None else last_tracked
    if forward_end is not None and forward_end > frame:
        spans.append(Span(frame, Direction.FORWARD, forward_end - frame + 1))
    earlier_prompt = next((f for f in reversed(others) if f < frame), None)
    first_tracked = min((f for f in tracked_frames if f < frame), default=None)
    backward_end = earlier_prompt + 1 if earlier_prompt is not None else first_tracked
    if backward_end is not None and backward_end < frame:
        spans.append(Span(frame, Direction.BACKWARD, frame - backward_end + 1))
    return spans
