"""`sam2tui track DIR --ray [ADDRESS]`: one Ray task per clip on a Ray cluster (docs/guide.md, "Many clips
on Ray").

The driver (this process) prepares every clip as the serial batch does, then submits one task per clip:
one GPU each where the cluster has GPUs, one CPU otherwise. A task runs `track_clip`, so it commits each
frame to the clip's session as it arrives; sessions, clips and checkpoints must be on storage every node
sees, and sam2tui installed on every node. Tasks count their frames on a small actor that the driver reads
for its one progress bar. A task whose worker or node is lost is not retried here: its clip is listed as
failed, what it tracked is saved, and running the command again continues it.

Ray is an optional extra: it is imported here only, when `--ray` is given.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

from sam2tui.errors import InputError, Sam2TuiError
from sam2tui.track.clip import ClipJob, Progress, TrackingFailed, TrackSettings, track_clip

LOCAL = "local"  # `--ray` alone: start a Ray here (ray.init's own name for that)
ANSWER_TIMEOUT_S = 10.0
"""How long the head node may take to accept a connection. ray.init has no timeout of its own: on an
address nobody answers it retries for minutes, logging to stderr, so the address is tried first."""
POLL_S = 0.5  # how often the driver reads the frame counter


class FrameCounter:
    """The tasks' frames, counted on an actor; the driver takes what was added since it last looked."""

    def __init__(self) -> None:
        self.frames = 0

    def add(self, frames: int) -> None:
        self.frames += frames

    def take(self) -> int:
        frames, self.frames = self.frames, 0
        return frames


class _CountOnActor:
    """A task's Progress: each frame is sent to the counter actor (fire and forget)."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    def update(self, n: int = 1) -> None:
        self.counter.add.remote(n)


def track_task(job: ClipJob, settings: TrackSettings, counter: Any) -> tuple[str, int] | None:
    """The body of a clip's task: None when tracked, else (the one-line problem, its exit status)."""
    try:
        track_clip(job, settings, _CountOnActor(counter))
    except Sam2TuiError as error:
        return str(error), error.exit_code
    return None


class RayBatch:
    """A connection to a Ray cluster that tracks prepared clips as tasks."""

    def __init__(self, ray: Any) -> None:
        self.ray = ray

    @classmethod
    def connect(cls, address: str) -> RayBatch:
        """Connect to the cluster at `address` (LOCAL: start one here); InputError when Ray is missing or
        nobody answers there. A process already connected to Ray (ray.is_initialized()) stays on it."""
        try:
            import ray
        except ImportError:
            raise InputError("--ray", 'Ray is not installed: pip install "sam2tui[ray]"') from None
        if address not in (LOCAL, "auto"):
            _check_answers(address)
        if not ray.is_initialized():
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise InputError(address, f"cannot connect to Ray: {error}") from None
        return cls(ray)

    def track(
        self, jobs: list[ClipJob], settings: TrackSettings, progress: Progress
    ) -> Iterator[tuple[ClipJob, Sam2TuiError | None]]:
        """Track the clips as tasks; yields each job as it ends, with its error (None: tracked)."""
        ray = self.ray
        counter = ray.remote(num_cpus=0)(FrameCounter).remote()
        per_task = {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) > 0 else {"num_cpus": 1}
        task = ray.remote(max_retries=0, **per_task)(track_task)
        pending = {task.remote(job, settings, counter): job for job in jobs}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                progress.update(ray.get(counter.take.remote()))
                for ref in ready:
                    yield pending.pop(ref), self._outcome(ref)
            progress.update(ray.get(counter.take.remote()))
        finally:
            for ref in pending:  # Ctrl+C: the tasks stop; what they tracked is saved
                ray.cancel(ref, force=True)
            ray.kill(counter)

    def _outcome(self, ref: Any) -> Sam2TuiError | None:
        try:
            failure = self.ray.get(ref)
        except self.ray.exceptions.RayError as lost:  # the worker or its node was lost, or a bug
            summary = (str(lost).strip().splitlines() or [type(lost).__name__])[0]
            return TrackingFailed(f"its Ray task was lost ({summary}); run the command again to continue")
        if failure is None:
            return None
        problem, status = failure
        reported = Sam2TuiError(problem)
        reported.exit_code = status
        return reported


def _check_answers(address: str) -> None:
    """InputError unless something accepts a TCP connection at HOST:PORT (a `ray://` address too)."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit():
        raise InputError(address, "expected a Ray address HOST:PORT (the head node's `ray start --head`)")
    try:
        with socket.create_connection((host, int(port)), timeout=ANSWER_TIMEOUT_S):
            pass
    except OSError as error:
        raise InputError(
            address,
            f"no Ray cluster answers there ({error.strerror or error}); is `ray start --head` running?",
        ) from None
