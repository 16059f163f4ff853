"""The Tracker interface that the UI and the CLI use, and the messages of the engine worker.

The real implementation is `sam2tui.engine.sam2_tracker.Sam2Tracker`; tests use a scripted double.
A Tracker is not thread-safe: one thread (the worker's) owns it. The worker (`sam2tui.engine.worker`)
builds it on `LoadModel` with a factory `(ModelSpec, progress) -> Tracker`, where
`progress(message, fraction | None)` reports download/load progress (sent on as `ModelLoading` events).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from sam2tui import masks
from sam2tui.values import Direction, FramePrompt, FrameResult
from sam2tui.video import VideoSource

ProgressFn = Callable[[str, "float | None"], None]
"""progress(message, fraction 0..1 or None when unknown): model download and load progress."""

CommittedReader = Callable[[int], Sequence[FrameResult]]
"""read(frame): the results committed on that frame (every object's), for `Tracker.resume`."""


def result_from_mask(
    frame: int, obj_id: int, mask: npt.NDArray[np.bool_], score: float, model: str = ""
) -> FrameResult:
    """A FrameResult for a bool mask at video resolution, with its box, area and number of parts.

    Parts are counted here, inside the box, while the mask is at hand: review needs them and would
    otherwise decode every stored mask again.
    """
    tight = masks.box(mask)
    parts = (
        masks.count_parts(mask[tight[1] : tight[1] + tight[3], tight[0] : tight[0] + tight[2]])
        if tight
        else 0
    )
    return FrameResult(frame, obj_id, masks.encode(mask), float(score), tight, masks.area(mask), model, parts)


@dataclass(frozen=True)
class ModelSpec:
    """Which model to run and where. `name` is a registry name (see checkpoints.py)."""

    name: str = "sam2.1-tiny"
    checkpoint: Path | None = None  # a local file overrides the registry's cached download
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    image_size: int = 1024  # the model's input size, a multiple of 32
    # Track the objects that read the same memory frames as one batch (faster with many objects; masks within
    # float tolerance of sam2's loop, which runs them one by one).
    batch_objects: bool = False


class CancelToken:
    """Set from any thread; checked by the tracker between frames."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class Tracker(Protocol):
    """A video object tracker holding the prompts of one video.

    Every method that produces masks returns `FrameResult`s (RLE at video resolution, object score,
    box, area) for every object that has a prompt anywhere, on the frame concerned.
    """

    @property
    def model_name(self) -> str: ...

    def start(self, video: VideoSource) -> None:
        """Forget all state and get ready to track `video`."""

    def set_prompt(self, prompt: FramePrompt) -> list[FrameResult]:
        """Replace what `prompt.obj_id` has on `prompt.frame` by `prompt`; return that frame's results."""

    def clear_prompt(self, frame: int, obj_id: int) -> list[FrameResult]:
        """Remove the object's prompts on that frame; return that frame's results (may be empty)."""

    def remove_object(self, obj_id: int) -> None:
        """Forget an object everywhere."""

    def propagate(
        self,
        start: int,
        direction: Direction,
        max_frames: int | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[list[FrameResult]]:
        """Track from `start` (inclusive) in `direction`, at most `max_frames` frames each way.

        Yields one list per frame as soon as it is computed. Stops between frames when `cancel` is set.
        """

    def resume(self, start: int, direction: Direction, read: CommittedReader) -> None:
        """Before a propagation from `start`: the frames before it in `direction` are committed (tracked
        earlier, results stored); rebuild the tracker's memory of those it reads from what `read` gives."""


# ---- worker commands (UI/CLI -> worker) ----


@dataclass(frozen=True)
class LoadModel:
    spec: ModelSpec


@dataclass(frozen=True)
class OpenVideo:
    path: Path


@dataclass(frozen=True)
class Replay:
    """Rebuild the tracker's state from stored prompts (on load, undo, model change). The stored results
    of the prompted frames stay the labels where they are current (see `EngineWorker`), except on the
    (frame, obj_id) pairs in `recompute`, whose prompts just changed (an undo, a redo)."""

    prompts: tuple[FramePrompt, ...]
    recompute: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class SetPrompt:
    prompt: FramePrompt


@dataclass(frozen=True)
class ClearPrompt:
    frame: int
    obj_id: int


@dataclass(frozen=True)
class RemoveObject:
    obj_id: int


@dataclass(frozen=True)
class Propagate:
    """Track from `start`. `resume`: the frames before `start` in `direction` are committed: the tracker
    rebuilds its memory of them from their stored results first (see `Tracker.resume`), so that tracking
    continues from them instead of from the prompts' memory alone."""

    start: int
    direction: Direction = Direction.BOTH
    max_frames: int | None = None
    resume: bool = False

    def frames_in(self, frame_count: int) -> int:
        """How many frames this propagation yields in a video of `frame_count` frames (the start once)."""
        limit = frame_count if self.max_frames is None else self.max_frames
        forward = min(limit, frame_count - self.start)
        backward = min(limit, self.start + 1)
        if self.direction is Direction.FORWARD:
            return forward
        if self.direction is Direction.BACKWARD:
            return backward
        return forward + backward - 1


Command = LoadModel | OpenVideo | Replay | SetPrompt | ClearPrompt | RemoveObject | Propagate


# ---- worker events (worker -> UI/CLI); delivered on the worker's thread ----


@dataclass(frozen=True)
class ModelLoading:
    message: str
    fraction: float | None = None  # download/load progress 0..1, None when unknown


@dataclass(frozen=True)
class ModelReady:
    model: str
    device: str


@dataclass(frozen=True)
class FrameResults:
    """Results of one frame, already committed to the session when `committed` is true."""

    frame: int
    results: tuple[FrameResult, ...]
    source: str  # "prompt" | "propagate" | "replay"
    committed: bool = True


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    frames_per_second: float


@dataclass(frozen=True)
class PropagationDone:
    frames_done: int
    cancelled: bool


@dataclass(frozen=True)
class EngineFailed:
    """A command failed; everything committed before it is intact. `message` is one line."""

    message: str
    command: str


@dataclass(frozen=True)
class Idle:
    """The worker has no command left in its queue."""


Event = ModelLoading | ModelReady | FrameResults | Progress | PropagationDone | EngineFailed | Idle
