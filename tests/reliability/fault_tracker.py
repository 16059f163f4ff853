"""A scripted tracker that fails once, mid-propagation, as a model does: CUDA out of memory or any error.

The one failing tracker double of the tests: the worker, controller and app tests build `FaultyTracker`
directly; a child process gets it through the testing hook
(`SAM2TUI_TEST_TRACKER=tests.reliability.fault_tracker:make_tracker`), scripted by the environment:
    FAULT_AT     the frame whose computation fails (the frames before it are yielded)
    FAULT_KIND   "oom" (torch.cuda.OutOfMemoryError, the default) or "error" (a two-line RuntimeError)
    SCRIPTED_DELAY  seconds per frame, as for the scripted tracker
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from sam2tui.engine.tracker import CancelToken
from sam2tui.values import Direction, FrameResult
from tests.scripted_tracker import ScriptedTracker

OOM_TEXT = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 7.79 GiB of which "
    "1.06 GiB is free.\nIf reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF"
)
ERROR_TEXT = "mat1 and mat2 shapes cannot be multiplied (4x256 and 64x256)\n  at some/internal/place.py:12"


def fault(kind: str) -> BaseException:
    if kind == "oom":
        import torch

        return torch.cuda.OutOfMemoryError(OOM_TEXT)
    return RuntimeError(ERROR_TEXT)


class FaultyTracker(ScriptedTracker):
    """Raises `error` instead of yielding frame `fail_at`, the first time it gets there."""

    def __init__(self, fail_at: int, error: BaseException | None, **options: Any) -> None:
        super().__init__(**options)
        self.fail_at = fail_at
        self.error = error

    def propagate(
        self,
        start: int,
        direction: Direction,
        max_frames: int | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[list[FrameResult]]:
        for results in super().propagate(start, direction, max_frames, cancel):
            if results and results[0].frame == self.fail_at and self.error is not None:
                error, self.error = self.error, None
                raise error
            yield results


def make_tracker(*_args: Any, **_kwargs: Any) -> FaultyTracker:
    kind = os.environ.get("FAULT_KIND", "oom")
    return FaultyTracker(
        int(os.environ.get("FAULT_AT", "5")),
        fault(kind),
        delay=float(os.environ.get("SCRIPTED_DELAY", "0") or 0),
    )
