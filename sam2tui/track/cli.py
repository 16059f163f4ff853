"""`sam2tui track VIDEO --prompts FILE`: track without a terminal UI, save into the session, export.

`sam2tui track SESSION --model NAME` re-tracks a session with its own prompts on another model (draft with
tiny in the app, finalise with large): the model is part of what was tracked, so it starts over, and every
stored result records the model that made it.

Continuing: the session keeps, under the setting `track.progress`, the revision of what was tracked (a hash
of the stored prompts, the model and its image size), the frame the propagation started from, and the
furthest frame reached forwards and backwards. Running `track` again with the same prompts and model skips
what is done and goes on from the frame after the furthest one in each direction, after rebuilding SAM 2's
memory of the frames before it from their stored masks (`Propagate(resume=True)`, see
`Sam2Tracker.resume`): the continued frames match an uninterrupted run closely, not bit for bit (docs/
guide.md gives the figures). Any change of prompts or model starts over.

The prompts file is authoritative for the (frame, object) pairs it names: when the session holds other
prompts there they are replaced, identical ones are kept as they are; other prompts of the session (made in
the app) stay. Exit status: 0 done, 2 bad input, 1 the engine failed, 130 interrupted (what was tracked is
saved).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import queue
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sam2tui.engine.checkpoints import resolve_checkpoint
from sam2tui.engine.device import resolve_device
from sam2tui.engine.options import (
    add_model_arguments,
    chosen_tracker,
    cpu_note,
    model_spec,
    require_sam2,
)
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
from sam2tui.errors import InputError, PromptsError, Sam2TuiError
from sam2tui.export import export_session, parse_export_target
from sam2tui.session.states import settle
from sam2tui.session.store import SESSION_SUFFIX, SessionStore, default_session_path
from sam2tui.track.prelabels import add_prelabel_arguments, prelabels_from_args
from sam2tui.track.prompts_file import PromptsFile, load_prompts
from sam2tui.values import Direction
from sam2tui.video import VideoSource, parse_frame_range

PROGRESS_KEY = "track.progress"


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "video",
        type=Path,
        help="video file or folder of frames; or a session file (.sam2tui): re-track it with its own prompts",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--prompts", type=Path, metavar="FILE", help="prompts JSON (see the README)")
    add_prelabel_arguments(parser, source)
    add_model_arguments(parser)
    parser.add_argument(
        "--direction",
        choices=[d.value for d in Direction],
        default="both",
        help="from the first prompted frame (backward: from the last one); default both",
    )
    parser.add_argument(
        "--frames",
        metavar="A:B",
        help="track only frames A to B-1 (0-based; A or B may be left out)",
    )
    parser.add_argument(
        "--session", type=Path, metavar="FILE", help="session file (default: <video>.sam2tui)"
    )
    parser.add_argument(
        "--export", action="append", default=[], metavar="FORMAT:PATH", help="export when done (repeatable)"
    )


def run_track(args: argparse.Namespace) -> int:
    targets = [parse_export_target(text) for text in args.export]
    spec = model_spec(args)
    tracker = chosen_tracker()
    on_cpu = False
    if tracker.runs_sam2:
        require_sam2()
        on_cpu = resolve_device(spec.device).type == "cpu"  # a bad --device is found before any work
    session, video_path = _target(args)
    with VideoSource.open(video_path) as video:
        if args.prompts and (args.keyframes or args.min_score is not None):
            raise PromptsError(args.prompts, "--keyframes and --min-score go with --prompts-from")
        prompts = None
        if args.prompts or args.prompts_from:
            read = partial(load_prompts, args.prompts) if args.prompts else partial(prelabels_from_args, args)
            prompts = read(width=video.width, height=video.height, frame_count=len(video))
        frames = parse_frame_range(args.frames, len(video)) or range(len(video))
        first, last = frames.start, frames.stop - 1
        session = session or default_session_path(video.path, video.fingerprint())
        with SessionStore.open(session, video.fingerprint()) as store:
            if prompts is not None:
                merge_prompts(store, prompts)
            if tracker.runs_sam2:
                resolve_checkpoint(spec, download=True)  # downloads here, with its own progress bar
            plan = Plan.load(store, spec, Direction(args.direction), first, last)
            if on_cpu and plan.passes():
                print(f"sam2tui: {cpu_note(spec)}", file=sys.stderr)
            status = _Run(store, spec, video.path, tracker.factory).track(plan)
            settle(store)  # the corrections this run covered are done with (interrupted: those it reached)
            if status != 0:
                return status
            for fmt, out in targets:
                written = export_session(store, fmt, out, video=video)
                print(f"sam2tui: wrote {fmt} to {', '.join(str(p) for p in written)}", file=sys.stderr)
            print(f"sam2tui: session {store.path}", file=sys.stderr)
    return 0


def _target(args: argparse.Namespace) -> tuple[Path | None, Path]:
    """(session or None for the default one, video): a session file given instead of a video is re-tracked
    with its own prompts, in their order (drafted with one model, finalised with another)."""
    if args.video.suffix != SESSION_SUFFIX:
        if not (args.prompts or args.prompts_from):
            raise InputError(
                args.video, "give --prompts FILE or --prompts-from FORMAT:PATH (or a session file)"
            )
        return args.session, args.video
    if args.prompts or args.prompts_from or args.session:
        raise InputError(args.video, "a session is re-tracked with its own prompts: no --prompts, --session")
    with SessionStore.open_snapshot(args.video) as snapshot:  # only to find its video
        return args.video, Path(snapshot.fingerprint.path)


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
    """A hash of everything the tracked masks depend on: the prompts, the model and its input size."""
    prompts = [asdict(fp) for fp in store.frame_prompts()]
    model = [spec.name, str(spec.checkpoint.resolve()) if spec.checkpoint else "", spec.image_size]
    text = json.dumps([prompts, model], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class _Failed(Exception):
    pass


class _Run:
    """Drives an EngineWorker from the main thread; Ctrl+C cancels after the frame being computed."""

    def __init__(
        self, store: SessionStore, spec: ModelSpec, video_path: Path, factory: TrackerFactory
    ) -> None:
        self.store, self.spec, self.video_path = store, spec, video_path
        self.events: queue.Queue[Event] = queue.Queue()
        self.worker = EngineWorker(factory, store, self.events.put)
        self.interrupted = False
        self.bar: Any = None
        self.plan: Plan | None = None
        self.command: Propagate | None = None

    def track(self, plan: Plan) -> int:
        self.plan = plan
        passes = plan.passes()
        if not passes:
            print("sam2tui: nothing to track: these frames are done for these prompts", file=sys.stderr)
            return 0
        self.worker.start()
        try:
            with self._sigint_cancels():
                self._do(OpenVideo(self.video_path))
                self._do(LoadModel(self.spec))
                self._do(Replay(tuple(self.store.frame_prompts())))
                total = sum(p.max_frames or 0 for p in passes)
                self.bar = tqdm(
                    total=total, unit="frame", desc="tracking", file=sys.stderr, dynamic_ncols=True
                )
                for command in passes:
                    if self.interrupted:
                        break
                    self.command = command
                    self._do(command)
        except _Failed as failure:
            self._close_bar()  # so that the message gets a line of its own
            print(f"sam2tui: {failure}", file=sys.stderr)
            return 1
        finally:
            self._close_bar()
            self.worker.stop(timeout=30)
            # Also on a second Ctrl+C; an error saving it (a full disk) must not hide the one reported.
            with suppress(Sam2TuiError):
                plan.save(self.store)
        if self.interrupted:
            done = [f for f in (plan.forward, plan.backward) if f is not None]
            reached = f" (reached frame {', '.join(map(str, done))})" if done else ""
            print(
                f"sam2tui: interrupted{reached}; what was tracked is saved in {self.store.path}; "
                "run the same command again to continue",
                file=sys.stderr,
            )
            return 130
        return 0

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
                self.bar.update(1)
            if isinstance(event, Idle):
                return

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

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
