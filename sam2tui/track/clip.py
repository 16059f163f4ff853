"""Tracking one clip into its session: what `sam2tui track` does for a video, a session, or each clip of a
project folder (serially or as a Ray task), so that all of them run the same code.

Continuing: the session keeps, under the setting `track.progress`, the revision of what was tracked (a hash
of the stored prompts, the model and its image size), the frame the propagation started from, and the
furthest frame reached forwards and backwards. Running `track` again with the same prompts and model skips
what is done and goes on from the frame after the furthest one in each direction, after rebuilding SAM 2's
memory of the frames before it from their stored masks (`Propagate(resume=True)`, see
`Sam2Tracker.resume`): the continued frames match an uninterrupted run closely, not bit for bit (docs/
guide.md gives the figures). Any change of prompts or model starts over.

Prompts given for a clip (a prompts file, pre-labels) are authoritative for the (frame, object) pairs they
name: when the session holds other prompts there they are replaced, identical ones are kept as they are;
other prompts of the session (made in the app) stay.

A clip is tracked in two steps: `prepare_clip` merges the prompts and works out what is left to track (a
batch adds that up for its one progress bar before it starts), `track_clip` tracks it, committing every
frame to the session as it arrives, so a killed run loses at most the frame in flight.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from sam2tui.engine.device import resolve_device
from sam2tui.engine.options import TrackerChoice, model_spec, require_sam2
from sam2tui.engine.tracker import (
    EngineFailed,
    Event,
    FrameResults,
    Idle,
    LoadModel,
    ModelSpec,
    OpenVideo,
    Propagate,
    Replay,
)
from sam2tui.engine.worker import EngineWorker, TrackerFactory
from sam2tui.errors import EngineError, InputError, PromptsError, Sam2TuiError
from sam2tui.export import export_session
from sam2tui.session.states import settle
from sam2tui.session.store import SessionStore, default_session_path
from sam2tui.track.prompts_file import PromptsFile
from sam2tui.values import Direction
from sam2tui.video import VideoSource, parse_frame_range

PROGRESS_KEY = "track.progress"

ReadPrompts = Callable[..., PromptsFile]
"""Reads a clip's prompts, checked against it: called with width=, height=, frame_count= (keywords)."""


class Progress(Protocol):
    """Where tracked frames are counted: a tqdm bar, or a batch's bar over all its clips."""

    def update(self, n: int = 1) -> object: ...


class TrackingFailed(EngineError):
    """The model failed on a clip; what was tracked before is saved."""

    exit_code = 1


class Interrupted(Sam2TuiError):
    """Ctrl+C stopped the tracking after the frame in flight; what was tracked is saved."""

    exit_code = 130


class SkippedClip(InputError):
    """A project's clip that has no session (or one without prompts) to re-track: skipped, not a failure."""


@dataclass(frozen=True)
class TrackSettings:
    """What every clip of one `track` command is tracked with (picklable: a Ray task gets it)."""

    spec: ModelSpec
    direction: Direction
    frames: str | None  # --frames A:B, applied to each clip
    factory: TrackerFactory


@dataclass(frozen=True)
class ClipJob:
    """A prepared clip: its prompts are in its session, `todo` frames are left to track."""

    video: Path
    session: Path
    first: int  # the frames to track, inclusive
    last: int
    todo: int
    classes: tuple[str, ...] = ()  # the session's class list, with the classes of the prompts just merged


def track_settings(
    args: argparse.Namespace, tracker: TrackerChoice, *, check_device: bool = True
) -> TrackSettings:
    """The settings of `track`'s arguments; a missing sam2 or checkpoint file, or a bad --device, fails
    here, before any work (`check_device=False`: the device is another machine's, a Ray worker's)."""
    spec = model_spec(args)
    if tracker.runs_sam2:
        require_sam2()
        if check_device:
            resolve_device(spec.device)
    return TrackSettings(spec, Direction(args.direction), args.frames, tracker.factory)


def prepare_clip(
    video_path: Path,
    session: Path | None,
    settings: TrackSettings,
    read_prompts: ReadPrompts | None,
    *,
    need_session: bool = False,
) -> ClipJob:
    """Open the clip and its session (default: the one beside it), merge `read_prompts`' prompts into it
    and count the frames left to track. `need_session`: SkippedClip unless the clip has a session with
    prompts (re-tracking a project with the sessions' own prompts); nothing is created then."""
    with VideoSource.open(video_path) as video:
        prompts = None
        if read_prompts is not None:
            prompts = read_prompts(width=video.width, height=video.height, frame_count=len(video))
        frames = parse_frame_range(settings.frames, len(video)) or range(len(video))
        session = session or default_session_path(video.path, video.fingerprint())
        if need_session and not session.exists():
            raise SkippedClip(video.path, "no session")
        with SessionStore.open(session, video.fingerprint()) as store:
            if need_session and not store.prompted_frames():
                raise SkippedClip(session, "the session has no prompts")
            if prompts is not None:
                merge_prompts(store, prompts)
            plan = Plan.load(store, settings.spec, settings.direction, frames.start, frames.stop - 1)
            classes = tuple(store.classes())
        todo = sum(p.max_frames or 0 for p in plan.passes())
        return ClipJob(video.path, session, frames.start, frames.stop - 1, todo, classes)


def track_clip(
    job: ClipJob,
    settings: TrackSettings,
    progress: Progress,
    exports: Sequence[tuple[str, Path]] = (),
) -> None:
    """Track what is left of a prepared clip, counting frames on `progress`, then write `exports`.

    Raises TrackingFailed (the model failed), Interrupted (Ctrl+C), or the Sam2TuiError of bad input."""
    with VideoSource.open(job.video) as video, SessionStore.open(job.session, video.fingerprint()) as store:
        plan = Plan.load(store, settings.spec, settings.direction, job.first, job.last)
        try:
            _Run(store, settings.spec, video.path, settings.factory, progress).track(plan)
        finally:
            settle(store)  # the corrections this run covered are done with (interrupted: those it reached)
        for fmt, out in exports:
            written = export_session(store, fmt, out, video=video)
            print(f"sam2tui: wrote {fmt} to {', '.join(str(p) for p in written)}", file=sys.stderr)


def merge_prompts(store: SessionStore, prompts: PromptsFile) -> None:
    """Put the file's objects and prompts into the session (see the module docstring)."""
    existing = {obj.obj_id: obj for obj in store.objects()}
    for obj in prompts.objects:
        if obj.obj_id not in existing:
            store.add_object(obj.name, obj.class_name, obj.color, obj_id=obj.obj_id)
        elif existing[obj.obj_id] != obj:
            store.update_object(obj)
    for (frame, obj_id), group in prompts.frame_prompts().items():
        if store.prompts(frame, obj_id) != group:
            with store.transaction():
                store.clear_prompts(frame, obj_id)
                store.add_prompts(group)


@dataclass
class Plan:
    """What this run tracks: a forward pass and/or a backward pass, resuming where a previous run stopped."""

    revision: str
    start: int  # where tracking from the prompts begins
    direction: Direction
    first: int  # the frames to track, inclusive
    last: int
    forward: int | None = None  # the furthest frame tracked forwards from `start` (None: not begun)
    backward: int | None = None

    @classmethod
    def load(cls, store: SessionStore, spec: ModelSpec, direction: Direction, first: int, last: int) -> Plan:
        prompted = store.prompted_frames()
        if not prompted:
            raise PromptsError(store.path, "the session has no prompts to track from")
        start = max(prompted) if direction is Direction.BACKWARD else min(prompted)
        revision = prompts_revision(store, spec)
        plan = cls(revision, start, direction, first, last)
        saved = store.setting(PROGRESS_KEY) or {}
        if saved.get("revision") == revision and saved.get("start") == start:
            plan.forward, plan.backward = saved.get("forward"), saved.get("backward")
        return plan

    def save(self, store: SessionStore) -> None:
        keys = ("revision", "start", "forward", "backward")
        store.set_setting(PROGRESS_KEY, {k: getattr(self, k) for k in keys})

    def passes(self) -> list[Propagate]:
        """The Propagate commands still to run."""
        todo = []
        if self.direction in (Direction.FORWARD, Direction.BOTH):
            begin = max(self.start, self.first) if self.forward is None else self.forward + 1
            if begin <= self.last:
                resume = self.forward is not None  # the frames before `begin` are committed
                todo.append(Propagate(begin, Direction.FORWARD, self.last - begin + 1, resume))
        if self.direction in (Direction.BACKWARD, Direction.BOTH):
            begin = min(self.start, self.last) if self.backward is None else self.backward - 1
            only_the_start = begin == self.start == self.first and self.direction is Direction.BOTH
            if begin >= self.first and not only_the_start:  # (the forward pass tracks the start frame)
                # the frames after `begin` are committed: by the last run, or by the forward pass
                resume = self.backward is not None or self.direction is Direction.BOTH
                todo.append(Propagate(begin, Direction.BACKWARD, begin - self.first + 1, resume))
        return todo

    def record(self, command: Propagate, frame: int) -> None:
        if command.direction is Direction.FORWARD:
            self.forward = max(frame, self.forward if self.forward is not None else frame)
        else:
            self.backward = min(frame, self.backward if self.backward is not None else frame)


def prompts_revision(store: SessionStore, spec: ModelSpec) -> str:
    """A hash of everything the tracked masks depend on: the prompts, the model, its input size and (only
    when on, so that earlier runs' hashes stand) batched objects, whose masks may differ by float rounding."""
    prompts = [asdict(fp) for fp in store.frame_prompts()]
    model = [spec.name, str(spec.checkpoint.resolve()) if spec.checkpoint else "", spec.image_size]
    if spec.batch_objects:
        model.append("batched objects")
    text = json.dumps([prompts, model], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class _Failed(Exception):
    pass


class _Run:
    """Drives an EngineWorker from the calling thread; Ctrl+C (on the main thread) cancels after the frame
    being computed."""

    def __init__(
        self,
        store: SessionStore,
        spec: ModelSpec,
        video_path: Path,
        factory: TrackerFactory,
        progress: Progress,
    ) -> None:
        self.store, self.spec, self.video_path, self.progress = store, spec, video_path, progress
        self.events: queue.Queue[Event] = queue.Queue()
        self.worker = EngineWorker(factory, store, self.events.put)
        self.interrupted = False
        self.plan: Plan | None = None
        self.command: Propagate | None = None

    def track(self, plan: Plan) -> None:
        self.plan = plan
        passes = plan.passes()
        if not passes:
            return
        self.worker.start()
        try:
            with self._sigint_cancels():
                self._do(OpenVideo(self.video_path))
                self._do(LoadModel(self.spec))
                self._do(Replay(tuple(self.store.frame_prompts())))
                for command in passes:
                    if self.interrupted:
                        break
                    self.command = command
                    self._do(command)
        except _Failed as failure:
            raise TrackingFailed(str(failure)) from None
        finally:
            self.worker.stop(timeout=30)
            # Also on a second Ctrl+C; an error saving it (a full disk) must not hide the one reported.
            with suppress(Sam2TuiError):
                plan.save(self.store)
        if self.interrupted:
            done = [f for f in (plan.forward, plan.backward) if f is not None]
            reached = f" (reached frame {', '.join(map(str, done))})" if done else ""
            raise Interrupted(
                f"interrupted{reached}; what was tracked is saved in {self.store.path}; "
                "run the same command again to continue"
            )

    def _do(self, command: Any) -> None:
        """Run one command on the worker and wait until it is done, handling its events here."""
        self.worker.submit(command)
        while True:
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(event, EngineFailed):
                raise _Failed(event.message)
            if isinstance(event, FrameResults) and event.source == "propagate":
                assert self.plan is not None and self.command is not None
                self.plan.record(self.command, event.frame)
                self.plan.save(self.store)  # per frame: a killed run continues from its last frame
                self.progress.update(1)
            if isinstance(event, Idle):
                return

    @contextmanager
    def _sigint_cancels(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigint(signum: int, frame: Any) -> None:
            if self.interrupted:
                raise KeyboardInterrupt
            self.interrupted = True
            self.worker.cancel()
            print("\nsam2tui: stopping after the current frame (Ctrl+C again to quit now)", file=sys.stderr)

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
