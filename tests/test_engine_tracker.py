"""Sam2Tracker on the real SAM 2 code with random weights (tiny model, 256 px input, 6 frames of 160x120)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sam2tui import masks
from sam2tui.engine import sam2_tracker
from sam2tui.engine.sam2_tracker import LazyFrames, Sam2Tracker
from sam2tui.engine.tracker import (
    CancelToken,
    Event,
    FrameResults,
    Idle,
    LoadModel,
    ModelSpec,
    OpenVideo,
    Propagate,
    PropagationDone,
    Replay,
    SetPrompt,
)
from sam2tui.engine.worker import EngineWorker
from sam2tui.session.store import SessionStore
from sam2tui.values import Direction, FramePrompt, FrameResult, Prompt
from sam2tui.video import VideoSource
from tests.fixtures_engine import (
    CLIP_FRAMES,
    TEST_IMAGE_SIZE,
    TINY,
    clip_folder_fixture,  # noqa: F401 - the fixture
    random_checkpoint_fixture,  # noqa: F401 - the fixture
    square_mask,
    tracked_frames,
)

pytestmark = pytest.mark.engine

POINT_1 = FramePrompt(0, 1, (Prompt.click(0, 1, 40.0, 60.0),))
BOX_2 = FramePrompt(3, 2, (Prompt.rectangle(3, 2, (100.0, 50.0, 135.0, 90.0)),))


def clicks(frame: int, obj_id: int, *points: tuple[float, float, bool]) -> FramePrompt:
    """The frame prompt of clicks (x, y, positive) made in this order."""
    return FramePrompt(frame, obj_id, tuple(Prompt.click(frame, obj_id, x, y, p) for x, y, p in points))


@pytest.fixture(scope="module")
def tracker(random_checkpoint: Path) -> Iterator[Sam2Tracker]:
    t = Sam2Tracker(ModelSpec(TINY, random_checkpoint, "cpu", TEST_IMAGE_SIZE))
    yield t
    t.close()


@pytest.fixture(scope="module")
def pipelined(random_checkpoint: Path) -> Iterator[Sam2Tracker]:
    """The tracker as it runs on a GPU: frames prepared and results encoded on threads of their own."""
    t = Sam2Tracker(ModelSpec(TINY, random_checkpoint, "cpu", TEST_IMAGE_SIZE), pipeline=True)
    yield t
    t.close()


@pytest.fixture
def video(clip_folder: Path) -> Iterator[VideoSource]:
    with VideoSource.open(clip_folder) as v:
        yield v


def frames_of(batches: list[list[FrameResult]]) -> list[int]:
    return [batch[0].frame for batch in batches]


def test_two_objects_prompted_on_different_frames_track_both_ways(
    tracker: Sam2Tracker, video: VideoSource
) -> None:
    tracker.start(video)
    assert [r.obj_id for r in tracker.set_prompt(POINT_1)] == [1]
    assert [r.obj_id for r in tracker.set_prompt(BOX_2)] == [2]
    both = list(tracker.propagate(0, Direction.BOTH))
    assert frames_of(both) == [0, 1, 2, 3, 4, 5]
    assert all([r.obj_id for r in batch] == [1, 2] for batch in both)
    assert all(r.model == TINY and np.isfinite(r.score) for batch in both for r in batch)
    # reverse tracking where object 1's only prompt lies ahead: sam2's bfloat16 memory crash without our hook
    backward = list(tracker.propagate(5, Direction.BACKWARD))
    assert frames_of(backward) == [5, 4, 3, 2, 1, 0]
    window = list(tracker.propagate(1, Direction.FORWARD, max_frames=3))
    assert frames_of(window) == [1, 2, 3]
    assert frames_of(list(tracker.propagate(0, Direction.BACKWARD))) == [0]
    assert frames_of(list(tracker.propagate(2, Direction.BOTH, max_frames=2))) == [2, 3, 1]


def test_the_float32_hook_is_what_prevents_the_dtype_crash(tracker: Sam2Tracker, video: VideoSource) -> None:
    hooks = tracker.predictor.memory_attention._forward_pre_hooks
    saved = dict(hooks)
    hooks.clear()
    try:
        tracker.start(video)
        tracker.set_prompt(BOX_2)
        with pytest.raises(RuntimeError, match="dtype"):
            list(tracker.propagate(5, Direction.BACKWARD))
    finally:
        hooks.update(saved)


def test_a_correction_changes_its_frame_and_survives_the_next_propagation(
    tracker: Sam2Tracker, video: VideoSource
) -> None:
    tracker.start(video)
    tracker.set_prompt(POINT_1)
    tracked = {batch[0].frame: batch[0] for batch in tracker.propagate(0, Direction.FORWARD)}
    before = tracked[3]
    ys, xs = np.nonzero(masks.decode(before.rle))
    negative = (float(xs[len(xs) // 2]), float(ys[len(ys) // 2]))  # a pixel inside the tracked mask
    corrected = tracker.set_prompt(clicks(3, 1, (*negative, False)))[0]
    assert masks.iou(corrected.rle, before.rle) < 0.999
    again = {batch[0].frame: batch[0] for batch in tracker.propagate(0, Direction.FORWARD)}
    assert again[3].rle == corrected.rle  # the corrected frame is a conditioning frame now
    assert again[0].rle == tracked[0].rle
    # clearing the correction brings back the propagated mask
    assert tracker.clear_prompt(3, 1) == [before]


def test_clicks_on_a_propagated_frame_give_the_same_mask_one_by_one_or_together(
    tracker: Sam2Tracker, video: VideoSource
) -> None:
    both = clicks(3, 1, (60.0, 60.0, False), (30.0, 90.0, True))
    one_by_one = []
    for together in (False, True):
        tracker.start(video)
        tracker.set_prompt(POINT_1)
        list(tracker.propagate(0, Direction.FORWARD))
        if not together:
            tracker.set_prompt(FramePrompt(3, 1, both.steps[:1]))
        one_by_one.append(tracker.set_prompt(both)[0])
    assert one_by_one[0] == one_by_one[1]


def test_a_mask_prompt_gives_back_the_mask(tracker: Sam2Tracker, video: VideoSource) -> None:
    tracker.start(video)
    mask = square_mask(2)
    result = tracker.set_prompt(FramePrompt(2, 7, (Prompt.from_mask(2, 7, masks.encode(mask)),)))[0]
    assert result.obj_id == 7 and result.score > 0
    assert masks.iou(result.rle, mask) > 0.99
    propagated = {batch[0].frame: batch[0] for batch in tracker.propagate(2, Direction.BOTH)}
    assert masks.iou(propagated[2].rle, mask) > 0.99


def test_reprompting_a_frame_replaces_its_prompt_like_a_replay(
    tracker: Sam2Tracker, video: VideoSource
) -> None:
    tracker.start(video)
    tracker.set_prompt(clicks(0, 1, (40.0, 60.0, True)))
    both = clicks(0, 1, (40.0, 60.0, True), (120.0, 70.0, False))
    interactive = tracker.set_prompt(both)[0]
    tracker.start(video)
    assert tracker.set_prompt(both)[0] == interactive


def test_a_click_on_a_prompted_frame_after_propagating_gives_what_a_replay_gives(
    tracker: Sam2Tracker, video: VideoSource
) -> None:
    both = clicks(0, 1, (40.0, 60.0, True), (120.0, 70.0, False))
    tracker.start(video)
    tracker.set_prompt(FramePrompt(0, 1, both.steps[:1]))
    list(tracker.propagate(0, Direction.FORWARD))
    live = tracker.set_prompt(both)  # frame 0 stays an initial conditioning frame (no memory)
    tracker.start(video)
    assert tracker.set_prompt(both) == live


def test_clear_and_remove(tracker: Sam2Tracker, video: VideoSource) -> None:
    tracker.start(video)
    tracker.set_prompt(POINT_1)
    tracker.set_prompt(BOX_2)
    assert [r.obj_id for r in tracker.clear_prompt(3, 2)] == []  # its only prompt: the object goes
    assert [r.obj_id for r in tracker.clear_prompt(0, 1)] == []
    assert list(tracker.propagate(0, Direction.FORWARD)) == []  # nothing left to track
    tracker.set_prompt(POINT_1)
    tracker.set_prompt(BOX_2)
    tracker.remove_object(1)
    assert [[r.obj_id for r in b] for b in tracker.propagate(3, Direction.FORWARD)] == [[2], [2], [2]]


def test_the_pipeline_gives_the_results_of_the_model_thread_alone(
    tracker: Sam2Tracker, pipelined: Sam2Tracker, video: VideoSource
) -> None:
    assert not tracker.pipeline  # the CPU default
    runs = []
    for t in (tracker, pipelined):
        t.start(video)
        t.set_prompt(POINT_1)
        t.set_prompt(BOX_2)
        runs.append(list(t.propagate(3, Direction.BOTH)))
    assert frames_of(runs[1]) == frames_of(runs[0]) == [3, 4, 5, 2, 1, 0]
    assert runs[1] == runs[0]


def test_a_click_encodes_only_its_object_and_gives_what_a_replay_gives(
    tracker: Sam2Tracker, video: VideoSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = clicks(0, 1, (40.0, 60.0, True)), clicks(0, 2, (120.0, 70.0, True))
    refined = clicks(0, 1, (40.0, 60.0, True), (60.0, 80.0, False))
    tracker.start(video)
    tracker.set_prompt(first)
    tracker.set_prompt(second)
    encoded: list[int] = []
    encode = sam2_tracker.result_from_mask

    def counted(frame: int, obj_id: int, *args: Any, **kwargs: Any) -> FrameResult:
        encoded.append(obj_id)
        return encode(frame, obj_id, *args, **kwargs)

    monkeypatch.setattr(sam2_tracker, "result_from_mask", counted)
    after = tracker.set_prompt(refined)
    assert encoded == [1]  # object 2's result is the one encoded before
    tracker.set_prompt(clicks(3, 1, (50.0, 50.0, True)))  # another frame: the cache is let go
    assert tracker.set_prompt(second) == after  # both encoded again, upscaled together
    assert encoded == [1, 1, 1, 2]
    tracker.start(video)
    tracker.set_prompt(refined)
    assert tracker.set_prompt(second) == after
    assert encoded == [1, 1, 1, 2, 1, 2]  # a fresh state encodes again, each object once


@pytest.mark.parametrize("pipeline", [False, True])
def test_cancel_stops_between_frames(
    tracker: Sam2Tracker, pipelined: Sam2Tracker, video: VideoSource, pipeline: bool
) -> None:
    tracker = pipelined if pipeline else tracker
    tracker.start(video)
    tracker.set_prompt(POINT_1)
    token = CancelToken()
    got = []
    for batch in tracker.propagate(0, Direction.FORWARD, cancel=token):
        got.append(batch[0].frame)
        if len(got) == 2:
            token.cancel()
    assert got == [0, 1]


def test_lazy_frames_equal_sam2s_jpeg_loader_bit_for_bit(
    tracker: Sam2Tracker,
    video: VideoSource,
    clip_folder: Path,
) -> None:
    predictor = tracker.predictor
    theirs = predictor.init_state(str(clip_folder), offload_video_to_cpu=True)
    lazy = LazyFrames(video, TEST_IMAGE_SIZE)
    try:
        ours = predictor.init_lazy_state(lazy)
        assert (ours["video_height"], ours["video_width"]) == (theirs["video_height"], theirs["video_width"])
        for i in range(CLIP_FRAMES):
            assert torch.equal(lazy[i], theirs["images"][i])
        for state in (theirs, ours):
            predictor.add_new_points_or_box(
                state, 0, 1, points=np.array([[40.0, 60.0]]), labels=np.array([1])
            )
        for (fa, _, la), (fb, _, lb) in zip(
            predictor.propagate_in_video(theirs), predictor.propagate_in_video(ours), strict=True
        ):
            assert fa == fb and torch.equal(la, lb)
    finally:
        lazy.close()


def test_tracking_state_stays_bounded(random_checkpoint: Path) -> None:
    class Looped:
        """A long video made of one frame: what matters is how many frames the state keeps."""

        width, height = 64, 48

        def __len__(self) -> int:
            return 50

        def frame(self, index: int, *, prefetch: bool = True) -> np.ndarray:
            rgb = np.full((48, 64, 3), 90, np.uint8)
            rgb[10:30, 10 + index % 20 : 30 + index % 20] = 250
            return rgb

    small = Sam2Tracker(ModelSpec(TINY, random_checkpoint, "cpu", 64))
    try:
        small.start(Looped())
        small.set_prompt(clicks(0, 1, (20.0, 20.0, True)))
        assert len(list(small.propagate(0, Direction.FORWARD))) == 50
        state = small._state
        assert state is not None
        kept = sorted(state["output_dict_per_obj"][0]["non_cond_frame_outputs"])
        window = small.memory_window
        assert window == 16
        # only near the prompted start frame (0), which a backward pass reads, and the last frame (49)
        assert kept == [*range(1, window + 1), *range(49 - window, 50)]
        # a correction on a frame whose sam2 output was pruned still refines its propagated mask
        propagated = small._propagated[(1, 25)][0]
        ys, xs = np.nonzero(masks.decode(propagated.rle))
        inside = (float(xs[len(xs) // 2]), float(ys[len(ys) // 2]))
        corrected = small.set_prompt(clicks(25, 1, (*inside, False)))[0]
        assert corrected.rle != propagated.rle and masks.iou(corrected.rle, propagated.rle) > 0.2
        assert small.clear_prompt(25, 1) == [propagated]
    finally:
        small.close()


class WorkerRun:
    """A worker around the shared tracker, on a session store, as the app drives it."""

    def __init__(self, tracker: Sam2Tracker, store: SessionStore, video: VideoSource) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.worker = EngineWorker(lambda spec, progress: tracker, store, self.events.put)
        self.worker.start()
        self.worker.submit(OpenVideo(video.path))
        self.worker.submit(LoadModel(ModelSpec()))

    def until_idle(self) -> list[Event]:
        seen = []
        while not isinstance(event := self.events.get(timeout=60), Idle):
            seen.append(event)
        return seen


def test_cancelled_propagation_keeps_finished_frames_and_replay_restores_prompted_frames(
    tmp_path: Path, tracker: Sam2Tracker, video: VideoSource
) -> None:
    session = tmp_path / "clip.sam2tui"
    clicks = [Prompt.click(0, 1, 40.0, 60.0), Prompt.click(0, 1, 90.0, 20.0, positive=False)]
    with SessionStore.open(session, video.fingerprint()) as store:
        store.add_object()
        store.add_object()
        run = WorkerRun(tracker, store, video)
        try:
            for n in (1, 2):  # one click after the other, as the user makes them
                store.add_prompts(clicks[n - 1 : n])
                run.worker.submit(SetPrompt(FramePrompt.collect(0, 1, clicks[:n])))
            store.add_prompt(Prompt.rectangle(3, 2, (100.0, 50.0, 135.0, 90.0)))
            run.worker.submit(SetPrompt(BOX_2))
            run.until_idle()
            run.worker.submit(Propagate(0, Direction.FORWARD))
            seen = 0
            while not isinstance(event := run.events.get(timeout=60), PropagationDone):
                seen += isinstance(event, FrameResults)
                if seen == 2:
                    run.worker.cancel()
            assert event.cancelled and 2 <= event.frames_done < CLIP_FRAMES
            run.until_idle()
            assert tracked_frames(store) == sorted({*range(event.frames_done), 3})
            prompted = {
                (r.frame, r.obj_id): r.rle for r in store.results() if (r.frame, r.obj_id) in {(0, 1), (3, 2)}
            }
        finally:
            run.worker.stop(timeout=60)

    # reopened: the stored prompts replayed into a fresh state give the same masks on the prompted frames
    with SessionStore.open(session, video.fingerprint()) as store:
        store.delete_results()
        run = WorkerRun(tracker, store, video)
        try:
            run.worker.submit(Replay(tuple(store.frame_prompts())))
            sources = {e.source for e in run.until_idle() if isinstance(e, FrameResults)}
            assert sources == {"replay"}
            assert {(r.frame, r.obj_id): r.rle for r in store.results()} == prompted
        finally:
            run.worker.stop(timeout=60)


def test_a_corrected_frame_keeps_what_the_user_saw_through_a_replay(
    tmp_path: Path, tracker: Sam2Tracker, video: VideoSource
) -> None:
    """SAM 2 refines a click on a tracked frame from its own propagated logits, with memory; a replay
    (opening the session, undo, an identity edit) applies the click to a fresh state and gets another mask
    (IoU 0.63 here before the worker kept stored labels). The stored one stays the label."""
    with SessionStore.open(tmp_path / "clip.sam2tui", video.fingerprint()) as store:
        store.add_object()
        run = WorkerRun(tracker, store, video)
        try:
            first, correction = POINT_1, clicks(3, 1, (90.0, 20.0, False))
            store.add_prompts(first.steps)  # as the controller does, before the engine computes it
            run.worker.submit(SetPrompt(first))
            run.worker.submit(Propagate(0, Direction.FORWARD))
            run.until_idle()
            (tracked,) = store.results(frame=3)
            store.add_prompts(correction.steps)
            run.worker.submit(SetPrompt(correction))
            run.until_idle()
            (seen,) = store.results(frame=3)
            assert masks.iou(seen.rle, tracked.rle) < 0.99  # the click changed the frame
            run.worker.submit(Replay((first, correction)))
            run.worker.submit(Propagate(0, Direction.FORWARD))
            run.until_idle()
            (after,) = store.results(frame=3)
            assert (after.rle, after.score) == (seen.rle, seen.score)
            assert tracked_frames(store) == list(range(CLIP_FRAMES))
        finally:
            run.worker.stop(timeout=60)
