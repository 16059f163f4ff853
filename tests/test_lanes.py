"""The results/lanes cache alone: read from a session, kept in step with it, asked for states, flags and runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sam2tui.engine.tracker import result_from_mask
from sam2tui.session.lanes import STALE_REASON, Lanes
from sam2tui.session.review import FrameState
from sam2tui.session.states import label_states
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, LabelState, Prompt, ReviewThresholds
from sam2tui.video import VideoFingerprint

H, W, FRAMES = 40, 60, 20
LOST, DOUBTFUL = 12, 15
U, P, L, D = FrameState.UNTRACKED, FrameState.PRESENT, FrameState.LOST, FrameState.DOUBTFUL
CURRENT, STALE, PROMPTED = LabelState.CURRENT, LabelState.STALE, LabelState.PROMPTED


def tracked(frame: int, obj_id: int = 1) -> FrameResult:
    """A 10x10 square moving right by a pixel a frame; empty (score -3) on LOST, score 1 on DOUBTFUL and
    the frame after it."""
    mask = np.zeros((H, W), bool)
    if frame != LOST:
        mask[10:20, 10 + frame : 20 + frame] = True
    score = -3.0 if frame == LOST else 1.0 if frame in (DOUBTFUL, DOUBTFUL + 1) else 8.0
    return result_from_mask(frame, obj_id, mask, score)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SessionStore]:
    fingerprint = VideoFingerprint(str(tmp_path / "clip.mp4"), FRAMES, W, H, 25.0, "34" * 20)
    with SessionStore.open(tmp_path / "clip.sam2tui", fingerprint) as opened:
        yield opened


def lanes_of(store: SessionStore) -> Lanes:
    lanes = Lanes(store, FRAMES, ReviewThresholds())
    lanes.follow(obj.obj_id for obj in store.objects())
    return lanes


def whole_clip(store: SessionStore, *obj_ids: int) -> None:
    for obj_id in obj_ids:
        store.add_object(obj_id=obj_id)
        store.add_prompt(Prompt.click(0, obj_id, 15, 15))
        store.put_results([tracked(f, obj_id) for f in range(FRAMES)])


def test_lanes_are_read_from_the_session(store: SessionStore) -> None:
    whole_clip(store, 1)
    lanes = lanes_of(store)
    assert 1 in lanes and 2 not in lanes
    states = lanes.lane(1).states
    assert states[LOST] is L and states[DOUBTFUL] is states[DOUBTFUL + 1] is D
    assert all(states[f] is P for f in range(FRAMES) if f not in (LOST, DOUBTFUL, DOUBTFUL + 1))
    assert lanes.lane(1).prompted == {0}
    assert lanes.lane(1).labels == [PROMPTED] + [CURRENT] * (FRAMES - 1)
    assert lanes.any_prompted() and lanes.stale_count() == 0
    assert sorted(lanes.tracked_frames(1)) == list(range(FRAMES))
    assert lanes.result(3, 1) == tracked(3) and lanes.result(3, 2) is None


def test_results_taken_one_by_one_give_the_states_a_full_review_gives(store: SessionStore) -> None:
    store.add_object(obj_id=1)
    lanes = lanes_of(store)
    assert lanes.lane(1).states == [U] * FRAMES and not lanes.any_prompted()
    for frame in reversed(range(FRAMES)):  # out of order: each new result re-judges the frame after it
        store.put_results([tracked(frame)])
        assert lanes.take_frame(frame)
    whole_clip(store, 2)
    assert lanes.lane(1).states == lanes_of(store).lane(2).states


def test_results_of_objects_not_followed_are_ignored(store: SessionStore) -> None:
    store.add_object(obj_id=1)
    store.add_object(obj_id=9)
    lanes = Lanes(store, FRAMES, ReviewThresholds())
    lanes.follow([1])
    store.put_results([tracked(0, obj_id=9)])
    assert not lanes.take_frame(0)
    assert lanes.result(0, 9) is None


def test_follow_forgets_removed_objects_and_reads_new_ones(store: SessionStore) -> None:
    whole_clip(store, 1)
    lanes = lanes_of(store)
    whole_clip(store, 2)
    lanes.follow([2])
    assert 1 not in lanes and lanes.result(0, 1) is None
    assert lanes.lane(2).states[LOST] is L


def test_flag_reasons_and_runs(store: SessionStore) -> None:
    whole_clip(store, 1)
    lanes = lanes_of(store)
    assert lanes.flag_at(LOST, [1]).reason == "lost (score -3.0)"
    assert lanes.flag_at(DOUBTFUL, [1]).reason == "low score 1.0"
    assert lanes.flag_at(3, [1]) is None
    assert lanes.flag_at(LOST, [2, 1]).obj_id == 1  # objects it does not follow are skipped
    runs = [(run.start, run.end, run.reason) for run in lanes.runs(1)]
    # Consecutive doubtful frames make one run.
    assert runs == [(LOST, LOST, "lost"), (DOUBTFUL, DOUBTFUL + 1, "doubtful")]


def test_next_run_visits_every_objects_runs_in_frame_then_object_order(store: SessionStore) -> None:
    whole_clip(store, 1, 2)
    lanes = lanes_of(store)
    order = [(LOST, 1), (LOST, 2), (DOUBTFUL, 1), (DOUBTFUL, 2)]
    here, visited = (0, 0), []
    while (run := lanes.next_run([1, 2], here, forward=True)) is not None:
        here = (run.start, run.obj_id)
        visited.append(here)
    assert visited == order
    back = []
    while (run := lanes.next_run([1, 2], here, forward=False)) is not None:
        here = (run.start, run.obj_id)
        back.append(here)
    assert back == order[::-1][1:]
    assert lanes.next_run([2], (LOST, 1), forward=True).obj_id == 2  # the other object's run on that frame


def corrected_on_frame_5(store: SessionStore) -> Lanes:
    """Object 1 tracked over the clip from a click on frame 0, then clicked on frame 5."""
    whole_clip(store, 1)
    lanes = lanes_of(store)
    store.add_prompt(Prompt.click(5, 1, 20, 15))
    lanes.refresh(1, [5])
    return lanes


def test_a_correction_marks_its_span_stale_until_re_tracked(store: SessionStore) -> None:
    lanes = corrected_on_frame_5(store)
    labels = lanes.lane(1).labels
    assert labels[0] is labels[5] is PROMPTED and lanes.lane(1).prompted == {0, 5}
    assert all(labels[f] is STALE for f in range(1, FRAMES) if f != 5)
    assert lanes.stale_count() == FRAMES - 2
    [correction] = lanes.corrections()
    assert (correction.obj_id, correction.frame) == (1, 5)
    assert correction.describe() == f"frames 1-{FRAMES - 1}"
    assert [(p.obj_id, p.frame) for p in lanes.settled()] == [(1, 0)]  # the first click: tracked since
    assert lanes.flag_at(3, [1]).reason == STALE_REASON
    assert [(run.start, run.end, run.reason) for run in lanes.runs(1)] == [
        (1, 4, "stale"),
        (6, FRAMES - 1, "stale"),  # stale over lost and doubtful: it is to be re-tracked first
    ]
    # Re-tracking the forward span only: the backward one stays stale, the correction stays pending.
    for frame in range(5, FRAMES):
        store.put_results([tracked(frame)])
        lanes.take_frame(frame)
    assert lanes.lane(1).labels == label_states(store, FRAMES)[1]  # the same as computed from scratch
    assert lanes.stale_count() == 4 and [p.frame for p in lanes.settled()] == [0]
    for frame in range(1, 5):
        store.put_results([tracked(frame)])
        lanes.take_frame(frame)
    assert lanes.stale_count() == 0 and lanes.corrections() == []
    settled = lanes.settled()
    assert [(p.obj_id, p.frame) for p in settled] == [(1, 0), (1, 5)]  # the first click's row too
    store.drop_pending(settled)
    lanes.refresh_pending()
    assert lanes.settled() == [] and store.pending_corrections() == []


def test_a_cleared_frame_reads_back_without_its_result(store: SessionStore) -> None:
    lanes = corrected_on_frame_5(store)
    store.put_results([tracked(5)])
    lanes.take_frame(5)
    store.clear_prompts(5, 1)  # the store deletes the result of a frame left without prompts
    lanes.refresh(1, [5])
    assert lanes.result(5, 1) is None and lanes.lane(1).states[5] is U
    assert lanes.lane(1).labels[5] is LabelState.UNTRACKED and lanes.lane(1).prompted == {0}
    assert lanes.lane(1).labels == label_states(store, FRAMES)[1]


# One step of a session: ("click", obj, frame), ("clear", obj, frame), ("track", start, stop) or ("settle",).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("click"), st.sampled_from([1, 2]), st.integers(0, 11)),
        st.tuples(st.just("clear"), st.sampled_from([1, 2]), st.integers(0, 11)),
        st.tuples(st.just("track"), st.integers(0, 11), st.integers(1, 12)),
        st.tuples(st.just("settle")),
    ),
    max_size=14,
)


@given(steps)
@settings(max_examples=60, deadline=None)
def test_the_lanes_kept_in_step_equal_the_states_computed_from_scratch(tmp_path_factory, script) -> None:  # type: ignore[no-untyped-def]
    frames = 12
    folder = tmp_path_factory.mktemp("session")
    fingerprint = VideoFingerprint(str(folder / "clip.mp4"), frames, W, H, 25.0, "78" * 20)
    with SessionStore.open(folder / "clip.sam2tui", fingerprint) as store:
        store.add_object(obj_id=1)
        store.add_object(obj_id=2)
        lanes = Lanes(store, frames, ReviewThresholds())
        lanes.follow([1, 2])
        for step in script:
            if step[0] == "click":
                store.add_prompt(Prompt.click(step[2], step[1], 15, 15))
                lanes.refresh(step[1], [step[2]])
                store.put_results([tracked(step[2], step[1])])  # the engine's answer on that frame
                lanes.take_frame(step[2])
            elif step[0] == "clear":
                store.clear_prompts(step[2], step[1])
                lanes.refresh(step[1], [step[2]])
            elif step[0] == "track":  # what a propagation commits, frame by frame
                for frame in range(step[1], max(step[1], step[2])):
                    store.put_results([tracked(frame, 1), tracked(frame, 2)])
                    lanes.take_frame(frame)
            else:
                store.drop_pending(lanes.settled())
                lanes.refresh_pending()
            assert {obj_id: lanes.lane(obj_id).labels for obj_id in (1, 2)} == label_states(store, frames)
