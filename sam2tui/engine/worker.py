"""The engine worker: one thread that owns the tracker, the video it reads and all inference state.

Commands go in through `submit` (any thread) and run in order; events come out through `on_event`,
one at a time, in order: on the worker's thread, except a propagation's frames and progress, which its
commit thread sends (the worker then waits for that thread before it sends anything else). Every result is
committed to the session store before its event is sent, so whatever a listener sees is already saved. A failing command becomes one `EngineFailed` event (a failed
Propagate ends with it instead of `PropagationDone`); the worker then takes the next command.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sam2tui.engine.tracker import (
    CancelToken,
    ClearPrompt,
    Command,
    EngineFailed,
    Event,
    FrameResults,
    Idle,
    LoadModel,
    ModelLoading,
    ModelReady,
    ModelSpec,
    OpenVideo,
    Progress,
    ProgressFn,
    Propagate,
    PropagationDone,
    RemoveObject,
    Replay,
    SetPrompt,
    Tracker,
    result_from_mask,
)
from sam2tui.errors import EngineError, Sam2TuiError
from sam2tui.masks import decode
from sam2tui.values import FramePrompt, FrameResult, PendingCorrection, Rle
from sam2tui.video import VideoSource

log = logging.getLogger(__name__)

TrackerFactory = Callable[[ModelSpec, ProgressFn], Tracker]
"""Builds the tracker for a model; reports download/load progress through the callback."""

PROGRESS_INTERVAL = 0.1  # seconds between Progress events (at most ~10 per second)
OOM_ADVICE = "try --model sam2.1-tiny or --image-size 512"
COMMIT_QUEUE = 4  # propagated frames waiting for the commit thread before the tracker waits for it


class ResultStore(Protocol):
    """The part of SessionStore the worker writes to (and reads committed results from, to resume)."""

    def put_results(self, results: Sequence[FrameResult]) -> None: ...

    def results(self, frame: int | None = None, obj_id: int | None = None) -> list[FrameResult]: ...

    def pending_corrections(self, obj_id: int | None = None) -> list[PendingCorrection]: ...


def failure_message(error: BaseException, frame: int | None = None) -> str:
    """One line for the user: the error's own for ours, the type and first line otherwise."""
    if isinstance(error, Sam2TuiError):
        return str(error)
    text = str(error).strip()
    if type(error).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        where = f" at frame {frame}" if frame is not None else ""
        return f"out of GPU memory{where}; {OOM_ADVICE}"
    first = text.splitlines()[0] if text else ""
    line = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return line if len(line) <= 300 else line[:297] + "..."


class EngineWorker:
    def __init__(
        self, tracker_factory: TrackerFactory, store: ResultStore, on_event: Callable[[Event], None]
    ) -> None:
        self._factory = tracker_factory
        self._store = store
        self._on_event = on_event
        self._queue: deque[Command] = deque()
        self._wake = threading.Condition()
        self._token: CancelToken | None = None
        self._active = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        # owned by the worker thread
        self._tracker: Tracker | None = None
        self._video: VideoSource | None = None
        self._frame: int | None = None  # the frame being computed, for error messages
        # The label of each (frame, obj_id) where the tracker's output is not it, until the prompts there
        # change: the user's mask where the frame's prompts end with one, or the stored result a Replay found
        # current (`_results_to_keep`). Kept here, where every SetPrompt and Replay passes, so that it holds
        # for any tracker (see `_labelled`).
        self._labels: dict[tuple[int, int], Rle | FrameResult] = {}

    # ---- any thread ----

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the engine worker is already started")
        self._thread = threading.Thread(target=self._run, name="sam2tui-engine", daemon=True)
        self._thread.start()

    def submit(self, command: Command) -> None:
        with self._wake:
            self._queue.append(command)
            self._wake.notify()

    def cancel(self) -> None:
        """Stop the running propagation after its current frame and drop queued Propagate commands."""
        with self._wake:
            if self._token is not None:
                self._token.cancel()
            self._queue = deque(c for c in self._queue if not isinstance(c, Propagate))

    def stop(self, timeout: float | None = None) -> None:
        """Cancel, finish the current command, release the model and the video, end the thread."""
        self.cancel()
        with self._wake:
            self._stopping = True
            self._queue.clear()
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def busy(self) -> bool:
        with self._wake:
            return self._active or bool(self._queue)

    # ---- the worker thread ----

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    break
                command = self._queue.popleft()
                self._active = True
                self._token = CancelToken() if isinstance(command, Propagate) else None
            try:
                self._execute(command)
            except Exception as error:  # the worker must survive any failure of a command
                log.error("engine command %s failed", type(command).__name__, exc_info=error)
                self._emit(EngineFailed(failure_message(error, self._frame), type(command).__name__))
            finally:
                self._frame = None
            with self._wake:
                self._active = False
                self._token = None
                idle = not self._queue and not self._stopping
            if idle:
                self._emit(Idle())
        self._release()

    def _emit(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("engine event listener failed on %s", type(event).__name__)

    def _execute(self, command: Command) -> None:
        if isinstance(command, LoadModel):
            self._load_model(command)
        elif isinstance(command, OpenVideo):
            video = VideoSource.open(command.path)
            if self._video is not None:
                self._video.close()
            self._video = video
            self._labels.clear()
            if self._tracker is not None:
                self._tracker.start(video)
        elif isinstance(command, Replay):
            tracker, video = self._ready()
            tracker.start(video)
            prompts = command.prompts
            kept = self._results_to_keep(prompts, tracker.model_name, command.recompute)
            self._labels = dict(kept)
            for index, prompt in enumerate(prompts):
                self._frame = prompt.frame
                results = tracker.set_prompt(prompt)
                if (prompt.frame, prompt.obj_id) not in kept:
                    self._note_label(prompt)
                # A prompt's results hold every object's mask on its frame: commit a frame once, after its
                # last prompt, not once per object (99 objects on one frame would store 99 x 99 masks).
                if index + 1 == len(prompts) or prompts[index + 1].frame != prompt.frame:
                    self._commit(prompt.frame, results, "replay")
        elif isinstance(command, SetPrompt):
            self._frame = command.prompt.frame
            results = self._ready()[0].set_prompt(command.prompt)
            self._note_label(command.prompt)
            self._commit(command.prompt.frame, results, "prompt")
        elif isinstance(command, ClearPrompt):
            # (the store deletes the result of a frame whose last prompt is cleared: not done here)
            self._frame = command.frame
            results = self._ready()[0].clear_prompt(command.frame, command.obj_id)
            self._labels.pop((command.frame, command.obj_id), None)
            self._commit(command.frame, results, "prompt")
        elif isinstance(command, RemoveObject):
            self._ready()[0].remove_object(command.obj_id)
            for key in [key for key in self._labels if key[1] == command.obj_id]:
                del self._labels[key]
        elif isinstance(command, Propagate):
            self._propagate(command)

    def _load_model(self, command: LoadModel) -> None:
        def progress(message: str, fraction: float | None) -> None:
            self._emit(ModelLoading(message, fraction))

        self._emit(ModelLoading(f"preparing {command.spec.name}", None))
        old, self._tracker = self._tracker, None
        _close(old)
        tracker = self._factory(command.spec, progress)
        self._labels.clear()  # the new tracker holds no prompts until a Replay
        if self._video is not None:
            tracker.start(self._video)
        self._tracker = tracker
        self._emit(ModelReady(tracker.model_name, str(getattr(tracker, "device", ""))))

    def _ready(self) -> tuple[Tracker, VideoSource]:
        if self._tracker is None:
            raise EngineError("no model is loaded yet")
        if self._video is None:
            raise EngineError("no video is open in the engine")
        return self._tracker, self._video

    def _note_label(self, prompt: FramePrompt) -> None:
        mask = prompt.final_mask
        if mask is None:
            self._labels.pop((prompt.frame, prompt.obj_id), None)
        else:
            self._labels[(prompt.frame, prompt.obj_id)] = mask

    def _results_to_keep(
        self, prompts: Sequence[FramePrompt], model: str, recompute: frozenset[tuple[int, int]]
    ) -> dict[tuple[int, int], FrameResult]:
        """The stored results of the replayed (frame, obj_id) pairs that stay the labels: made by this
        model, stored no earlier than the pair's pending prompt edit if it has one (an older result
        predates its prompts: a crash between a click and its result), and not in `recompute`.

        A replay applies a frame's prompts to a fresh state, without the memory and the propagated logits
        that SAM 2 refines when a click corrects a tracked frame, so it can give another mask than the one
        the user saw (IoU 0.59-0.88 measured, docs/architecture.md).
        """
        pending = {(p.frame, p.obj_id): p.edit_seq for p in self._store.pending_corrections()}
        prompted = {(p.frame, p.obj_id) for p in prompts} - recompute
        kept = {}
        for frame in sorted({frame for frame, _ in prompted}):
            for result in self._store.results(frame=frame):
                key = (frame, result.obj_id)
                if key in prompted and result.model == model and result.edit_seq >= pending.get(key, 0):
                    kept[key] = result
        return kept

    def _labelled(self, results: list[FrameResult]) -> list[FrameResult]:
        """The results with the labels where the tracker's output is not the label.

        - A stored result kept by a Replay (`_results_to_keep`) stays as it is.
        - Where the frame's prompts end with a mask, the user's mask, bit for bit. SAM 2 still gets the
          mask as its prompt, but gives back its re-rendering through low-res logits (and yields that again
          for conditioning frames while propagating); the label is the user's mask. The score stays SAM 2's
          object score for the frame. An empty mask gives an empty result.
        """
        out = []
        for result in results:
            label = self._labels.get((result.frame, result.obj_id))
            if isinstance(label, FrameResult):
                result = label
            elif label is not None:
                result = result_from_mask(
                    result.frame, result.obj_id, decode(label), result.score, result.model
                )
            out.append(result)
        return out

    def _commit(self, frame: int, results: list[FrameResult], source: str) -> None:
        results = self._labelled(results)
        if results:
            self._store.put_results(results)
        self._emit(FrameResults(frame, tuple(results), source, committed=True))

    def _propagate(self, command: Propagate) -> None:
        tracker, video = self._ready()
        token = self._token or CancelToken()
        self._frame = command.start
        if command.resume:
            tracker.resume(command.start, command.direction, lambda frame: self._store.results(frame=frame))
        committer = _Committer(self, command.frames_in(len(video)))
        try:
            for results in tracker.propagate(command.start, command.direction, command.max_frames, token):
                if results:
                    committer.put(results)  # committed and announced while the tracker computes on
                    frame = results[0].frame
                    self._frame = frame + (-1 if frame < command.start else 1)
        finally:
            done = committer.finish()  # every frame the tracker finished is committed, even on a failure
        self._emit(PropagationDone(done, token.cancelled))

    def _release(self) -> None:
        _close(self._tracker)
        if self._video is not None:
            self._video.close()
        self._tracker, self._video = None, None


def _close(tracker: Any) -> None:
    close = getattr(tracker, "close", None)
    if callable(close):
        close()


class _Committer:
    """A propagation's commit thread: commits each frame's results in order, then announces them.

    The worker's thread hands the frames over through a bounded queue, so the tracker computes the next
    frame while this one is labelled, written to SQLite and sent. A failed commit ends the propagation:
    `put` and `finish` raise it on the worker's thread.
    """

    def __init__(self, worker: EngineWorker, total: int) -> None:
        self._worker = worker
        self._total = total
        self.done = 0
        self._error: BaseException | None = None
        self._frames: queue.Queue[list[FrameResult] | None] = queue.Queue(COMMIT_QUEUE)
        self._began = self._last_report = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="sam2tui-commit", daemon=True)
        self._thread.start()

    def put(self, results: list[FrameResult]) -> None:
        self._raise_failure()
        self._frames.put(results)

    def finish(self) -> int:
        """Commit what is queued, end the thread; the number of frames committed."""
        self._frames.put(None)
        self._thread.join()
        self._raise_failure()
        return self.done

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while (results := self._frames.get()) is not None:
            if self._error is not None:
                continue  # a commit failed: the later frames are not committed (the queue drains)
            try:
                self._worker._commit(results[0].frame, results, "propagate")
            except Exception as error:  # handed to the worker's thread
                self._error = error
                continue
            self.done += 1
            now = time.monotonic()
            if now - self._last_report >= PROGRESS_INTERVAL or self.done == self._total:
                self._last_report = now
                self._worker._emit(Progress(self.done, self._total, self.done / max(now - self._began, 1e-9)))
