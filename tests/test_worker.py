"""EngineWorker with a scripted tracker: ordering, commit-before-event, cancel, failures, throttling."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sam2tui import masks
from sam2tui.engine.tracker import (
    ClearPrompt,
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
    Propagate,
    PropagationDone,
    RemoveObject,
    Replay,
    SetPrompt,
    result_from_mask,
)
from sam2tui.engine.worker import EngineWorker, failure_message
from sam2tui.errors import EngineError
from sam2tui.session.store import SessionStore
from sam2tui.values import Direction, FramePrompt, Prompt
from sam2tui.video import VideoSource
from tests.fixtures_engine import clip_frames, tracked_frames, write_jpeg_folder
from tests.reliability.fault_tracker import FaultyTracker
from tests.scripted_tracker import LOST_SCORE, ScriptedTracker

FRAMES = 12


class Harness:
    def __init__(self, tmp_path: Path, tracker: ScriptedTracker) -> None:
        folder = write_jpeg_folder(tmp_path / "frames", clip_frames(FRAMES, (64, 48)))
        with VideoSource.open(folder) as video:
            fingerprint = video.fingerprint()
        self.folder = folder
        self.store = SessionStore.open(tmp_path / "s.sam2tui", fingerprint)
        self.store.add_object()
        self.store.add_object()
        self.tracker = tracker
        self.events: queue.Queue[Event] = queue.Queue()
        self.specs: list[ModelSpec] = []
        self.committed_before_event: list[bool] = []
        self.worker = EngineWorker(self.factory, self.store, self.on_event)
        self.worker.start()

    def factory(self, spec: ModelSpec, progress: Any) -> ScriptedTracker:
        self.specs.append(spec)
        progress("loading", 0.5)
        return self.tracker

    def on_event(self, event: Event) -> None:
        if isinstance(event, FrameResults) and event.results:
            stored = self.store.results(frame=event.frame)
            self.committed_before_event.append(all(r in stored for r in event.results))
        self.events.put(event)

    def until_idle(self, timeout: float = 10) -> list[Event]:
        seen = []
        while True:
            event = self.events.get(timeout=timeout)
            seen.append(event)
            if isinstance(event, Idle):
                return seen

    def ready(self) -> None:
        self.worker.submit(OpenVideo(self.folder))
        self.worker.submit(LoadModel(ModelSpec(image_size=256)))
        self.worker.submit(SetPrompt(FramePrompt(2, 1, (Prompt.click(2, 1, 20.0, 20.0),))))
        self.until_idle()

    def close(self) -> None:
        self.worker.stop(timeout=10)
        self.store.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path, ScriptedTracker())
    yield h
    h.close()


def test_load_open_prompt_propagate_commits_before_each_event(harness: Harness) -> None:
    harness.ready()
    harness.worker.submit(Propagate(2, Direction.BOTH))
    events = harness.until_idle()
    frames = [e.frame for e in events if isinstance(e, FrameResults)]
    assert frames == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 0]
    done = [e for e in events if isinstance(e, PropagationDone)]
    assert done == [PropagationDone(FRAMES, cancelled=False)]
    assert all(harness.committed_before_event) and len(harness.committed_before_event) == FRAMES + 1
    assert tracked_frames(harness.store) == list(range(FRAMES))
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total == FRAMES
    assert harness.tracker.thread_ids == {harness.worker._thread.ident}  # type: ignore[union-attr]


def test_model_loading_events_and_ready(harness: Harness) -> None:
    harness.worker.submit(LoadModel(ModelSpec("sam2.1-small", image_size=512)))
    events = harness.until_idle()
    assert harness.specs == [ModelSpec("sam2.1-small", image_size=512)]
    assert ModelLoading("loading", 0.5) in events
    assert ModelReady("scripted", "cpu") in events


def test_commands_before_a_model_fail_cleanly(harness: Harness) -> None:
    harness.worker.submit(SetPrompt(FramePrompt(0, 1, (Prompt.click(0, 1, 5.0, 5.0),))))
    events = harness.until_idle()
    assert events[0] == EngineFailed("no model is loaded yet", "SetPrompt")


def test_cancel_stops_between_frames_and_drops_queued_propagations(tmp_path: Path) -> None:
    h = Harness(tmp_path, ScriptedTracker(delay=0.05))
    try:
        h.ready()
        h.worker.submit(Propagate(0, Direction.FORWARD))
        h.worker.submit(Propagate(5, Direction.BACKWARD))
        h.worker.submit(RemoveObject(2))
        first = h.events.get(timeout=10)
        assert isinstance(first, FrameResults) and first.frame == 0
        h.worker.cancel()
        events = [first, *h.until_idle()]
        done = [e for e in events if isinstance(e, PropagationDone)]
        assert len(done) == 1 and done[0].cancelled and 1 <= done[0].frames_done < FRAMES
        propagated = [e.frame for e in events if isinstance(e, FrameResults)]
        assert propagated == list(range(done[0].frames_done))
        assert set(tracked_frames(h.store)) == {*propagated, 2}  # the finished frames are kept
        calls = [c[0] for c in h.tracker.calls]
        assert calls.count("propagate") == 1 and calls[-1] == "remove_object"  # other commands still run
        assert not h.worker.busy
    finally:
        h.close()


def test_failure_mid_propagation_keeps_earlier_frames_and_worker_usable(tmp_path: Path) -> None:
    h = Harness(tmp_path, FaultyTracker(fail_at=4, error=RuntimeError("boom\nsecond line")))
    try:
        h.ready()
        h.worker.submit(Propagate(0, Direction.FORWARD))
        events = h.until_idle()
        failed = [e for e in events if isinstance(e, EngineFailed)]
        assert failed == [EngineFailed("RuntimeError: boom", "Propagate")]
        assert not any(isinstance(e, PropagationDone) for e in events)
        assert tracked_frames(h.store) == [0, 1, 2, 3]
        h.worker.submit(Propagate(0, Direction.FORWARD))  # still usable; the error was once
        events = h.until_idle()
        assert PropagationDone(FRAMES, False) in events
        assert tracked_frames(h.store) == list(range(FRAMES))
    finally:
        h.close()


def test_out_of_memory_message_names_the_frame(tmp_path: Path) -> None:
    class OutOfMemoryError(RuntimeError):
        pass

    h = Harness(tmp_path, FaultyTracker(fail_at=3, error=OutOfMemoryError("CUDA out of memory. Tried...")))
    try:
        h.ready()
        h.worker.submit(Propagate(0, Direction.FORWARD))
        failed = [e for e in h.until_idle() if isinstance(e, EngineFailed)]
        assert (
            failed[0].message == "out of GPU memory at frame 3; try --model sam2.1-tiny or --image-size 512"
        )
    finally:
        h.close()


def test_replay_restarts_and_commits_prompted_frames(harness: Harness) -> None:
    harness.ready()
    prompts = (
        FramePrompt(1, 1, (Prompt.click(1, 1, 10.0, 10.0),)),
        FramePrompt(6, 2, (Prompt.rectangle(6, 2, (5.0, 5.0, 30.0, 30.0)),)),
    )
    harness.worker.submit(Replay(prompts))
    events = harness.until_idle()
    replayed = [(e.frame, e.source) for e in events if isinstance(e, FrameResults)]
    assert replayed == [(1, "replay"), (6, "replay")]
    assert [c[0] for c in harness.tracker.calls[-3:]] == ["start", "set_prompt", "set_prompt"]
    assert {r.obj_id for r in harness.store.results(frame=6)} == {1, 2}


def test_replay_commits_each_frame_once_with_every_object(harness: Harness) -> None:
    harness.ready()
    for _ in range(2):
        harness.store.add_object()
    prompts = tuple(
        FramePrompt(frame, obj_id, (Prompt.click(frame, obj_id, 10.0 * obj_id, 10.0),))
        for frame in (2, 5)
        for obj_id in (1, 2, 3)
    )
    harness.worker.submit(Replay(prompts))
    events = [e for e in harness.until_idle() if isinstance(e, FrameResults)]
    assert [(e.frame, sorted(r.obj_id for r in e.results)) for e in events] == [
        (2, [1, 2, 3]),
        (5, [1, 2, 3]),
    ]
    assert {(r.frame, r.obj_id) for r in harness.store.results()} >= {
        (f, o) for f in (2, 5) for o in (1, 2, 3)
    }


def test_clearing_the_last_prompt_leaves_no_result_there(harness: Harness) -> None:
    harness.ready()
    harness.store.add_prompt(Prompt.click(2, 1, 20.0, 20.0))
    assert harness.store.results(frame=2, obj_id=1)
    # as the controller does it: the store drops the result with the prompt, the tracker has none left
    harness.store.clear_prompts(2, 1)
    harness.worker.submit(ClearPrompt(2, 1))
    events = harness.until_idle()
    assert FrameResults(2, (), "prompt") in events
    assert harness.store.results(frame=2, obj_id=1) == []


def test_progress_is_throttled(tmp_path: Path) -> None:
    h = Harness(tmp_path, ScriptedTracker(delay=0.03))
    try:
        h.ready()
        h.worker.submit(Propagate(0, Direction.FORWARD))
        progress = [e for e in h.until_idle() if isinstance(e, Progress)]
        # 12 frames in ~0.36 s: about 4 reports (every 0.1 s) plus the last, never one per frame
        assert 2 <= len(progress) < FRAMES and progress[-1].done == FRAMES
    finally:
        h.close()


def test_listener_errors_do_not_stop_the_worker(tmp_path: Path) -> None:
    h = Harness(tmp_path, ScriptedTracker())
    calls = threading.Event()

    def explode(event: Event) -> None:
        h.events.put(event)
        calls.set()
        raise ValueError("listener bug")

    h.worker._on_event = explode  # type: ignore[method-assign]
    try:
        h.ready()
        assert calls.is_set()
    finally:
        h.close()


def test_frames_to_track_and_failure_message() -> None:
    assert Propagate(3, Direction.FORWARD).frames_in(10) == 7
    assert Propagate(3, Direction.BACKWARD).frames_in(10) == 4
    assert Propagate(3, Direction.BOTH).frames_in(10) == 10
    assert Propagate(3, Direction.BOTH, 2).frames_in(10) == 3
    assert failure_message(EngineError("no video")) == "no video"
    assert failure_message(KeyError("x")) == "KeyError: 'x'"


def test_a_frame_whose_prompts_end_with_a_mask_stores_that_mask_whatever_the_tracker_gives(
    harness: Harness,
) -> None:
    harness.ready()
    mask = np.zeros((48, 64), bool)
    mask[5:9, 30:50] = True
    mask[40, 0] = True  # a speck that a low-res re-rendering would lose
    label = FramePrompt(4, 2, (Prompt.from_mask(4, 2, masks.encode(mask)),))
    harness.worker.submit(SetPrompt(label))
    harness.worker.submit(Propagate(0, Direction.FORWARD))
    harness.until_idle()
    (stored,) = harness.store.results(frame=4, obj_id=2)
    assert np.array_equal(masks.decode(stored.rle), mask)
    assert stored.score == LOST_SCORE  # the tracker's own score there (the scripted one ignores masks)
    harness.worker.submit(Replay((label,)))
    harness.until_idle()
    assert harness.store.results(frame=4, obj_id=2) == [stored]
    # a click after the mask: the tracker's result again (the scripted one: a disk around the click)
    harness.worker.submit(SetPrompt(FramePrompt(4, 2, (*label.steps, Prompt.click(4, 2, 20.0, 20.0)))))
    harness.until_idle()
    assert masks.decode(harness.store.results(frame=4, obj_id=2)[0].rle)[20, 20]


def test_a_replay_keeps_the_stored_labels_that_are_current_with_their_prompts(harness: Harness) -> None:
    """A replay applies the prompts to a fresh state. For a click that corrected a tracked frame SAM 2 gives
    another mask there (it refined its own propagated logits, with memory): the stored result the user saw
    stays the label, through the replay and the propagations after it, until the frame's prompts change.
    A result older than the frame's pending prompt edit, or made by another model, is recomputed."""
    harness.ready()
    click = Prompt.click(2, 1, 20.0, 20.0)
    prompt = FramePrompt(2, 1, (click,))
    harness.store.add_prompt(click)  # as the controller stores it: a pending correction of frame 2
    seen_mask = np.zeros((48, 64), bool)
    seen_mask[30:40, 40:60] = True  # not the scripted disk around the click
    seen = result_from_mask(2, 1, seen_mask, 5.0, "scripted")
    harness.store.put_results([seen])
    harness.worker.submit(Replay((prompt,)))
    harness.worker.submit(Propagate(0, Direction.FORWARD))
    harness.until_idle()
    (kept,) = harness.store.results(frame=2, obj_id=1)
    assert (kept.rle, kept.score) == (seen.rle, seen.score)
    assert len(tracked_frames(harness.store)) == FRAMES  # the others were tracked
    # a further click: the tracker's result again
    harness.worker.submit(SetPrompt(FramePrompt(2, 1, (click, Prompt.click(2, 1, 10.0, 10.0)))))
    harness.until_idle()
    assert harness.store.results(frame=2, obj_id=1)[0].rle != seen.rle
    # named as changed (an undo there), stored before the frame's latest prompt edit (a crash between a
    # click and its result), or made by another model: the replay recomputes it
    for case in ("changed", "older", "another model"):
        harness.store.put_results(
            [replace(seen, model="another model" if case == "another model" else "scripted")]
        )
        if case == "older":
            harness.store.add_prompt(click)
        harness.worker.submit(Replay((prompt,), frozenset({(2, 1)} if case == "changed" else ())))
        harness.until_idle()
        assert harness.store.results(frame=2, obj_id=1)[0].rle != seen.rle, case


def test_a_resumed_propagation_lets_the_tracker_rebuild_its_memory_first(harness: Harness) -> None:
    harness.ready()
    harness.worker.submit(Propagate(5, Direction.FORWARD, 3, resume=True))
    harness.worker.submit(Propagate(5, Direction.FORWARD, 3))
    harness.until_idle()
    calls = [c for c in harness.tracker.calls if c[0] in ("resume", "propagate")]
    assert calls == [
        ("resume", 5, Direction.FORWARD),
        ("propagate", 5, Direction.FORWARD, 3),
        ("propagate", 5, Direction.FORWARD, 3),
    ]


def test_frame_prompt_keeps_the_steps_in_order_from_the_latest_mask() -> None:
    empty = masks.encode(np.zeros((48, 64), bool))
    full = masks.encode(np.ones((48, 64), bool))
    a, b = Prompt.click(3, 1, 5.0, 5.0), Prompt.rectangle(3, 1, (1.0, 1.0, 9.0, 9.0))
    other = Prompt.click(4, 1, 5.0, 5.0)
    assert FramePrompt.collect(3, 1, [a, other, b, a]).steps == (a, b, a)
    mask = Prompt.from_mask(3, 1, empty)
    absent = FramePrompt.collect(3, 1, [a, b, mask])
    assert absent.steps == (mask,) and absent.is_absent and absent.final_mask == empty
    refined = FramePrompt.collect(3, 1, [a, mask, b])
    assert refined.steps == (mask, b) and not refined.is_absent and refined.final_mask is None
    assert not FramePrompt.collect(3, 1, [Prompt.from_mask(3, 1, full)]).is_absent
    assert FramePrompt.collect(3, 1, [other]).is_empty
