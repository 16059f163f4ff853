"""Which tracked frames need a look: lost (empty mask, negative object score) or doubtful.

Doubtful is a positive score below `low_score`, an area jump or an IoU drop against the previous frame
(when that frame has a present mask), or a mask in more than `max_parts` connected parts. Checks run
cheapest first and stop at the first finding: scores, areas (and usually part counts) are stored; IoU
works on the RLEs; a result without a part count is decoded to count them. IoUs and counted parts are
memoised by mask, so reviewing again after a propagation costs little for the frames already seen.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from sam2tui import masks
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, ReviewThresholds

THRESHOLDS_KEY = "review.thresholds"


class FrameState(str, Enum):
    UNTRACKED = "untracked"
    PRESENT = "present"
    LOST = "lost"
    DOUBTFUL = "doubtful"


@dataclass(frozen=True)
class Flag:
    """A run of consecutive frames of one object with the same state for the same kind of reason.

    `reason` describes the run's worst frame."""

    obj_id: int
    start: int
    end: int  # inclusive
    state: FrameState
    reason: str


@dataclass(frozen=True)
class _Finding:
    state: FrameState
    kind: str  # a run of frames with the same state and kind becomes one Flag
    severity: float  # the run's most severe frame gives the Flag its reason
    reason: str


def frame_states(
    results: Mapping[int, FrameResult], frame_count: int, thresholds: ReviewThresholds
) -> list[FrameState]:
    """The state of each frame 0..frame_count-1 of one object, from its results by frame."""
    states = [FrameState.UNTRACKED] * frame_count
    findings = _findings(results, frame_count, thresholds)
    for frame in results:
        if 0 <= frame < frame_count:
            finding = findings.get(frame)
            states[frame] = FrameState.PRESENT if finding is None else finding.state
    return states


def flags(
    results: Mapping[int, FrameResult], frame_count: int, thresholds: ReviewThresholds, obj_id: int
) -> list[Flag]:
    """The lost and doubtful runs of one object, by frame."""
    found: list[Flag] = []
    run: list[tuple[int, _Finding]] = []

    def close_run() -> None:
        if run:
            worst = max(run, key=lambda item: item[1].severity)[1]
            found.append(Flag(obj_id, run[0][0], run[-1][0], worst.state, worst.reason))
            run.clear()

    for frame, finding in sorted(_findings(results, frame_count, thresholds).items()):
        if run and (
            frame != run[-1][0] + 1 or (finding.state, finding.kind) != (run[0][1].state, run[0][1].kind)
        ):
            close_run()
        run.append((frame, finding))
    close_run()
    return found


def next_flagged(flags: Sequence[Flag], frame: int, forward: bool = True) -> Flag | None:
    """The flag starting nearest after `frame` (or before it: from inside a run, that run's start)."""
    if forward:
        later = [f for f in flags if f.start > frame]
        return min(later, key=lambda f: (f.start, f.obj_id), default=None)
    earlier = [f for f in flags if f.start < frame]
    return max(earlier, key=lambda f: (f.start, -f.obj_id), default=None)


def thresholds_from(store: SessionStore) -> ReviewThresholds:
    """The session's review thresholds; missing or unusable values fall back to the defaults."""
    stored = store.setting(THRESHOLDS_KEY, {})
    defaults = ReviewThresholds()
    if not isinstance(stored, dict):
        return defaults
    extra = stored.get("extra")
    return ReviewThresholds(
        low_score=_number(stored, "low_score", defaults.low_score),
        area_jump=_number(stored, "area_jump", defaults.area_jump),
        min_iou=_number(stored, "min_iou", defaults.min_iou),
        max_parts=int(_number(stored, "max_parts", defaults.max_parts)),
        extra=dict(extra) if isinstance(extra, dict) else {},
    )


def save_thresholds(store: SessionStore, thresholds: ReviewThresholds) -> None:
    store.set_setting(THRESHOLDS_KEY, asdict(thresholds))


def _number(stored: dict[str, Any], key: str, default: float) -> float:
    value = stored.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return value


def _findings(
    results: Mapping[int, FrameResult], frame_count: int, thresholds: ReviewThresholds
) -> dict[int, _Finding]:
    found: dict[int, _Finding] = {}
    for frame, result in results.items():
        if not 0 <= frame < frame_count:
            continue
        previous = results.get(frame - 1)
        if previous is not None and _is_lost(previous):
            previous = None
        finding = _finding(result, previous, thresholds)
        if finding is not None:
            found[frame] = finding
    return found


def _is_lost(result: FrameResult) -> bool:
    return result.score < 0 or result.area == 0


def _finding(result: FrameResult, previous: FrameResult | None, t: ReviewThresholds) -> _Finding | None:
    """Why this frame is lost or doubtful; None when it looks fine."""
    score = result.score
    if score < 0:
        return _Finding(FrameState.LOST, "lost", -score, f"lost (score {score:.1f})")
    if result.area == 0:
        return _Finding(FrameState.LOST, "lost", 0.0, "lost (empty mask)")
    if score < t.low_score:
        return _Finding(FrameState.DOUBTFUL, "score", t.low_score - score, f"low score {score:.1f}")
    if previous is not None:
        change = (result.area - previous.area) / previous.area
        if abs(change) > t.area_jump:
            return _Finding(FrameState.DOUBTFUL, "area", abs(change), f"area jump {change:+.0%}")
        overlap = _iou(previous, result)
        if overlap < t.min_iou:
            return _Finding(FrameState.DOUBTFUL, "iou", 1 - overlap, f"IoU {overlap:.2f} with previous frame")
    if t.max_parts > 0:
        parts = _parts(result)
        if parts > t.max_parts:
            return _Finding(FrameState.DOUBTFUL, "parts", parts, f"mask in {parts} parts")
    return None


class _Memo:
    """A bounded, thread-safe map from a mask key to a number (the oldest entries go first)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: dict[int, float] = {}
        self._lock = threading.Lock()

    def get(self, key: int) -> float | None:
        return self._values.get(key)

    def put(self, key: int, value: float) -> None:
        with self._lock:
            if len(self._values) >= self._size:
                del self._values[next(iter(self._values))]
            self._values[key] = value


_IOUS = _Memo(1 << 17)
_PARTS = _Memo(1 << 17)


def _mask_key(result: FrameResult) -> int:
    height, width = result.rle["size"]
    return hash((height, width, result.rle["counts"]))


def _iou(a: FrameResult, b: FrameResult) -> float:
    key = hash((_mask_key(a), _mask_key(b)))
    value = _IOUS.get(key)
    if value is None:
        value = masks.iou(a.rle, b.rle)
        _IOUS.put(key, value)
    return value


def _parts(result: FrameResult) -> int:
    if result.parts is not None:
        return result.parts
    key = _mask_key(result)
    value = _PARTS.get(key)
    if value is None:
        mask = masks.decode(result.rle)
        if result.box is not None:  # the box is tight: cropping to it keeps every part whole
            x, y, w, h = result.box
            mask = mask[y : y + h, x : x + w]
        value = masks.count_parts(mask)
        _PARTS.put(key, value)
    return int(value)
