"""A scripted Tracker double: deterministic masks, no model, for UI and logic tests.

Each object's mask on a frame is a disk around the mean of its positive points (or the rectangle of its
box) on the nearest prompted frame, moved by `drift` pixels per frame away from that frame. Negative
points cut a small disk out. Frames listed in `lost` give an empty mask with a negative score, frames in
`doubtful` a low positive score; prompted frames are never lost. Every call is recorded in `calls`.

The testing hook `SAM2TUI_TEST_TRACKER=tests.scripted_tracker:make_tracker` makes the app use it; the
environment variables SCRIPTED_LOST / SCRIPTED_DOUBTFUL (comma-separated frames) and SCRIPTED_DELAY
(seconds per propagated frame) script it from outside the process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from sam2tui.engine.tracker import CancelToken, CommittedReader, result_from_mask
from sam2tui.values import POSITIVE, BoxCorners, Direction, FramePrompt, FrameResult, PromptKind
from sam2tui.video import VideoSource

TRACKED_SCORE = 8.0
DOUBTFUL_SCORE = 1.0
LOST_SCORE = -3.0


class ScriptedTracker:
    def __init__(
        self,
        *,
        radius: int = 10,
        drift: tuple[int, int] = (1, 0),
        lost: Iterable[int] = (),
        doubtful: Iterable[int] = (),
        delay: float = 0.0,
        model_name: str = "scripted",
    ) -> None:
        self.radius = radius
        self.drift = drift
        self.lost = frozenset(lost)
        self.doubtful = frozenset(doubtful)
        self.delay = delay
        self._model_name = model_name
        self.device = "cpu"
        self.calls: list[tuple[Any, ...]] = []
        self.prompts: dict[tuple[int, int], FramePrompt] = {}
        self.size = (0, 0)  # height, width
        self.frame_count = 0
        self.thread_ids: set[int] = set()  # which threads called (one owner expected)
        # Tests may hold this to keep a propagation in flight; it is set (open) by default.
        self.gate = threading.Event()
        self.gate.set()
        self.propagating = threading.Event()  # set once a propagation has begun
        self.hold_at: int | None = None  # a propagation reaching this frame closes the gate and waits there
        self.holding = threading.Event()  # set while it waits there

    @property
    def model_name(self) -> str:
        return self._model_name

    def _record(self, *call: Any) -> None:
        self.thread_ids.add(threading.get_ident())
        self.calls.append(call)

    def start(self, video: VideoSource) -> None:
        self._record("start", str(video.path))
        self.prompts.clear()
        self.size = (video.height, video.width)
        self.frame_count = len(video)

    def set_prompt(self, prompt: FramePrompt) -> list[FrameResult]:
        self._record("set_prompt", prompt)
        if prompt.is_empty:
            self.prompts.pop((prompt.frame, prompt.obj_id), None)
        else:
            self.prompts[(prompt.frame, prompt.obj_id)] = prompt
        return self.results(prompt.frame)

    def clear_prompt(self, frame: int, obj_id: int) -> list[FrameResult]:
        self._record("clear_prompt", frame, obj_id)
        self.prompts.pop((frame, obj_id), None)
        return self.results(frame)

    def remove_object(self, obj_id: int) -> None:
        self._record("remove_object", obj_id)
        for key in [key for key in self.prompts if key[1] == obj_id]:
            del self.prompts[key]

    def propagate(
        self,
        start: int,
        direction: Direction,
        max_frames: int | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[list[FrameResult]]:
        self._record("propagate", start, direction, max_frames)
        self.propagating.set()
        for frame in self._order(start, direction, max_frames):
            if frame == self.hold_at:
                self.gate.clear()
                self.holding.set()
            self.gate.wait()
            self.holding.clear()
            if cancel is not None and cancel.cancelled:
                return
            if self.delay:
                time.sleep(self.delay)
            yield self.results(frame)

    def resume(self, start: int, direction: Direction, read: CommittedReader) -> None:
        """The script has no memory to rebuild: it records the call."""
        self._record("resume", start, direction)

    def _order(self, start: int, direction: Direction, max_frames: int | None) -> list[int]:
        count = self.frame_count if max_frames is None else max_frames
        forward = list(range(start, min(self.frame_count, start + count)))
        backward = list(range(start, max(-1, start - count), -1))
        if direction is Direction.FORWARD:
            return forward
        if direction is Direction.BACKWARD:
            return backward
        return forward + backward[1:]

    # ---- the script ----

    def objects(self) -> list[int]:
        return sorted({obj_id for _, obj_id in self.prompts})

    def results(self, frame: int) -> list[FrameResult]:
        return [self.result(frame, obj_id) for obj_id in self.objects()]

    def result(self, frame: int, obj_id: int) -> FrameResult:
        anchors = [f for f, o in self.prompts if o == obj_id]
        anchor = min(anchors, key=lambda f: (abs(f - frame), f))
        prompted = anchor == frame
        mask = self.mask(self.prompts[(anchor, obj_id)], frame - anchor)
        if frame in self.lost and not prompted:
            mask[:] = False
        if not mask.any():
            score = LOST_SCORE
        elif frame in self.doubtful and not prompted:
            score = DOUBTFUL_SCORE
        else:
            score = TRACKED_SCORE
        return result_from_mask(frame, obj_id, mask, score, self._model_name)

    def mask(self, prompt: FramePrompt, offset: int) -> np.ndarray:
        height, width = self.size
        dx, dy = self.drift[0] * offset, self.drift[1] * offset
        ys, xs = np.mgrid[0:height, 0:width]
        box, points, labels = folded(prompt)
        if box is not None:
            x0, y0, x1, y1 = box
            mask = (xs >= x0 + dx) & (xs <= x1 + dx) & (ys >= y0 + dy) & (ys <= y1 + dy)
        else:
            positives = [p for p, label in zip(points, labels, strict=True) if label == POSITIVE]
            if not positives:
                return np.zeros((height, width), dtype=bool)
            cx = float(np.mean([p[0] for p in positives])) + dx
            cy = float(np.mean([p[1] for p in positives])) + dy
            mask = (xs - cx) ** 2 + (ys - cy) ** 2 <= self.radius**2
        for (px, py), label in zip(points, labels, strict=True):
            if label != POSITIVE:
                mask &= (xs - px - dx) ** 2 + (ys - py - dy) ** 2 > (self.radius // 2) ** 2
        return mask


def folded(prompt: FramePrompt) -> tuple[BoxCorners | None, list[tuple[float, float]], list[int]]:
    """The script's reading of a frame's steps: the latest box, and every click with its label."""
    box = next((p.box for p in reversed(prompt.steps) if p.kind is PromptKind.BOX), None)
    clicks = [p for p in prompt.steps if p.kind is PromptKind.POINT and p.point and p.label is not None]
    return box, [p.point for p in clicks if p.point], [p.label for p in clicks if p.label is not None]


def _frames(name: str) -> list[int]:
    return [int(item) for item in os.environ.get(name, "").split(",") if item.strip()]


def make_tracker(*_args: Any, **_kwargs: Any) -> ScriptedTracker:
    """The factory the testing hook names; scripted by SCRIPTED_LOST / SCRIPTED_DOUBTFUL / SCRIPTED_DELAY."""
    return ScriptedTracker(
        lost=_frames("SCRIPTED_LOST"),
        doubtful=_frames("SCRIPTED_DOUBTFUL"),
        delay=float(os.environ.get("SCRIPTED_DELAY", "0") or 0),
    )
