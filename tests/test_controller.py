"""AnnotationController with the real EngineWorker and a scripted tracker: no Textual involved."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sam2tui import masks
from sam2tui.engine.tracker import Idle, Propagate, PropagationDone, Replay
from sam2tui.session.history import History
from sam2tui.session.review import FrameState
from sam2tui.tui.controller import OBJECT_VIEW_KEY, PLACE_KEY, AnnotationController, Zoom
from sam2tui.values import NEGATIVE, POSITIVE, Direction, LabelState, PromptKind, ReviewThresholds
from tests.fixtures_tui import CLIP_FRAMES, EngineRig, engine_rig, write_clip_folder
from tests.scripted_tracker import ScriptedTracker

LOST, DOUBTFUL = 12, 15


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[EngineRig]:
    folder = write_clip_folder(tmp_path / "clip")
    tracker = ScriptedTracker(lost=[LOST], doubtful=[DOUBTFUL])
    made = engine_rig(folder, tmp_path / "clip.sam2tui", tracker, propagation_window=5)
    yield made
    made.close()


def propagated(rig: EngineRig) -> EngineRig:
    """Object 1 clicked on frame 0 and propagated over the clip."""
    assert rig.controller.click(45, 60)
    rig.drain()
    assert rig.controller.propagate(Direction.BOTH)
    rig.drain()
    return rig


def test_first_click_makes_object_one_and_its_mask(rig: EngineRig) -> None:
    ctl = rig.controller
    assert ctl.objects() == []
    assert ctl.click(45.5, 60.25)
    assert [o.obj_id for o in ctl.objects()] == [1]
    assert ctl.view.selected == 1
    [prompt] = rig.store.prompts(frame=0, obj_id=1)
    assert (prompt.kind, prompt.point, prompt.label) == (PromptKind.POINT, (45.5, 60.25), POSITIVE)
    rig.drain()
    result = ctl.result(0, 1)
    assert result is not None and result.area > 0
    x, y, w, h = result.box
    assert x <= 45.5 <= x + w and y <= 60.25 <= y + h
    assert ctl.lane(1).states[0] is FrameState.PRESENT
    assert ctl.lane(1).prompted == {0}
    assert ctl.pending == []  # nothing was tracked before: no correction


def test_label_toggle_and_explicit_negative_click(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    assert ctl.toggle_label() is False
    ctl.click(50, 60)
    ctl.toggle_label()
    ctl.click(55, 60, positive=False)
    labels = [p.label for p in rig.store.prompts(frame=0, obj_id=1)]
    assert labels == [POSITIVE, NEGATIVE, NEGATIVE]


def test_box_prompt_is_normalised(rig: EngineRig) -> None:
    rig.controller.draw_box((70, 80, 30, 40))
    [prompt] = rig.store.prompts(frame=0, obj_id=1)
    assert prompt.kind is PromptKind.BOX and prompt.box == (30, 40, 70, 80)
    rig.drain()
    assert rig.controller.result(0, 1).box == (30, 40, 41, 41)


def test_objects_new_select_remove_and_undo(rig: EngineRig) -> None:
    ctl = rig.controller
    first = ctl.new_object("car", "vehicle")
    second = ctl.new_object()
    assert (first.obj_id, second.obj_id) == (1, 2)
    assert second.class_name == "vehicle"  # the previous class is the default
    assert ctl.view.selected == 2
    assert not ctl.select(7) and "no object 7" in ctl.notice
    assert ctl.select(1)
    ctl.click(45, 60)
    rig.drain()
    assert ctl.remove_object(1)
    assert [o.obj_id for o in ctl.objects()] == [2] and ctl.view.selected == 2
    rig.drain()
    assert ctl.undo()
    rig.drain()
    assert [o.obj_id for o in ctl.objects()] == [1, 2]
    assert ctl.result(0, 1) is not None  # History kept the results of the removed object
    assert ctl.lane(1).prompted == {0}


def test_propagation_fills_lanes_and_review_jumps(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    states = ctl.lane(1).states
    assert states[LOST] is FrameState.LOST
    assert states[DOUBTFUL] is FrameState.DOUBTFUL
    assert all(
        states[f] is FrameState.PRESENT for f in range(CLIP_FRAMES) if f not in (LOST, DOUBTFUL, LOST + 1)
    )
    assert not ctl.busy
    assert ctl.next_flagged(forward=True, all_objects=False).start == LOST
    assert ctl.view.frame == LOST
    assert ctl.flag_at(LOST).reason == "lost (score -3.0)"
    assert ctl.next_flagged(forward=True, all_objects=True).start == DOUBTFUL
    assert ctl.flag_at(DOUBTFUL).reason == "low score 1.0"
    assert ctl.next_flagged(forward=True, all_objects=True) is None
    assert ctl.view.frame == DOUBTFUL
    assert ctl.next_flagged(forward=False, all_objects=False).start == LOST


def test_review_over_all_objects_visits_every_run_also_on_one_frame(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    ctl.new_object()
    ctl.click(100, 60)
    rig.drain()
    ctl.select(1)
    assert ctl.propagate(Direction.BOTH)
    rig.drain()
    # Both objects are lost on frame 12 and doubtful on frame 15: four runs, two per frame.
    runs = [(LOST, 1), (LOST, 2), (DOUBTFUL, 1), (DOUBTFUL, 2)]
    visited = []
    while (found := ctl.next_flagged(forward=True, all_objects=True)) is not None:
        visited.append((found.start, found.obj_id))
        assert (ctl.view.frame, ctl.view.selected) == visited[-1]
    assert visited == runs
    assert "no later lost or doubtful frame for any object" in ctl.notice
    back = []
    while (found := ctl.next_flagged(forward=False, all_objects=True)) is not None:
        back.append((found.start, found.obj_id))
    assert back == runs[::-1][1:]
    # From a frame with a run of object 2 but object 1 selected, that run comes next.
    ctl.seek(LOST)
    ctl.select(1)
    assert (ctl.next_flagged(forward=True, all_objects=True).obj_id, ctl.view.frame) == (2, LOST)
    # One object's keys keep to the selected object.
    assert ctl.next_flagged(forward=True, all_objects=False).obj_id == 2 and ctl.view.frame == DOUBTFUL


def test_an_idle_sent_before_the_propagation_does_not_end_it(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    deadline = time.monotonic() + 10
    while not any(isinstance(event, Idle) for event in list(rig.events.queue)):  # answered, not yet applied
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert ctl.propagate(Direction.BOTH)
    rig.drain()  # the prompt's Idle arrives while the propagation runs
    assert not ctl.busy and ctl.notice == f"propagated {CLIP_FRAMES} frames"


def test_window_propagation_uses_the_setting(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    rig.drain()
    ctl.seek(10)
    assert ctl.propagate(Direction.BACKWARD, window=True)
    rig.drain()
    assert rig.tracker.calls[-1] == ("propagate", 10, Direction.BACKWARD, 5)
    assert sorted(f for f in range(CLIP_FRAMES) if ctl.result(f, 1)) == [0, 6, 7, 8, 9, 10]


def test_edits_are_refused_while_propagating_and_cancel_keeps_frames(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    rig.drain()
    rig.tracker.gate.clear()  # hold the propagation before its first frame
    assert ctl.propagate(Direction.FORWARD)
    assert rig.tracker.propagating.wait(5)
    assert ctl.busy
    assert not ctl.click(50, 50) and "while propagating" in ctl.notice
    assert not ctl.propagate(Direction.BOTH)
    assert not ctl.undo()
    assert ctl.new_object() is None
    assert ctl.cancel()
    rig.tracker.gate.set()
    events = rig.drain()
    done = [e for e in events if isinstance(e, PropagationDone)]
    assert done and done[0].cancelled
    assert not ctl.busy and "cancelled" in ctl.notice
    assert len(rig.store.prompts()) == 1


def test_correction_offers_the_affected_span_and_r_runs_it(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    ctl.seek(5)
    ctl.click(60, 60)
    rig.drain()
    [pending] = ctl.pending
    assert (pending.obj_id, pending.frame) == (1, 5)
    assert pending.describe() == f"frames 1-{CLIP_FRAMES - 1}"
    assert ctl.pending_hint() == f"r re-propagates the corrected span (frames 1-{CLIP_FRAMES - 1})"
    rig.tracker.calls.clear()
    assert ctl.repropagate()
    rig.drain()
    runs = [call for call in rig.tracker.calls if call[0] == "propagate"]
    assert runs == [
        ("propagate", 5, Direction.FORWARD, CLIP_FRAMES - 5),
        ("propagate", 5, Direction.BACKWARD, 5),
    ]
    assert ctl.pending == [] and not ctl.busy
    assert ctl.notice == f"propagated {CLIP_FRAMES - 5 + 5} frames"  # both passes counted
    assert not ctl.repropagate() and "no correction" in ctl.notice


def test_undo_redo_restore_prompts_and_results(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    ctl.seek(5)
    before = ctl.result(5, 1)
    ctl.click(70, 60)
    rig.drain()
    corrected = ctl.result(5, 1)
    assert corrected != before
    calls = len(rig.tracker.calls)
    assert ctl.undo()
    assert rig.store.prompts(frame=5) == []
    assert ctl.result(5, 1) is None  # stale until re-tracked
    assert ctl.lane(1).states[5] is FrameState.UNTRACKED
    rig.drain()
    # Replay: the tracker restarts and gets the stored prompts again (only frame 0's now).
    assert [call[0] for call in rig.tracker.calls[calls:]] == ["start", "set_prompt"]
    assert (1, 5) in [(c.obj_id, c.frame) for c in ctl.pending]  # re-tracking frame 5 is offered
    assert ctl.redo()
    rig.drain()
    assert len(rig.store.prompts(frame=5)) == 1
    assert ctl.result(5, 1) == corrected
    assert ctl.view.frame == 5


def test_clear_frame_prompts(rig: EngineRig) -> None:
    ctl = rig.controller
    assert not ctl.clear_frame()  # nothing selected yet
    ctl.click(45, 60)
    rig.drain()
    assert ctl.clear_frame()
    rig.drain()
    assert rig.store.prompts() == [] and ctl.result(0, 1) is None
    assert not ctl.clear_frame() and "no prompts" in ctl.notice
    assert ctl.undo()
    rig.drain()
    assert ctl.result(0, 1) is not None


def test_nothing_to_propagate_without_prompts(rig: EngineRig) -> None:
    assert not rig.controller.propagate()
    assert "click on an object" in rig.controller.notice


def test_propagation_progress_and_model_status(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    assert ctl.model.ready and ctl.model.describe() == "scripted ready on cpu"
    assert ctl.propagation.done == ctl.propagation.total == CLIP_FRAMES
    assert "propagated" in ctl.notice
    assert len(rig.tracker.thread_ids) == 1  # one thread owns the tracker


def test_commands_reach_the_engine_in_order(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    ctl.propagate()
    rig.drain()
    kinds = [call[0] for call in rig.tracker.calls]
    assert kinds[-2:] == ["set_prompt", "propagate"]


class IdleEngine:
    """An engine that takes commands and never runs them (cancel drops queued propagations)."""

    def __init__(self) -> None:
        self.commands: list[object] = []
        self.busy = False

    def submit(self, command: object) -> None:
        self.commands.append(command)

    def cancel(self) -> None:
        self.commands = [c for c in self.commands if not isinstance(c, Propagate)]


def test_cancel_before_the_engine_began_ends_the_propagation(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    rig.drain()
    ctl.engine = IdleEngine()
    assert ctl.propagate()
    assert ctl.busy
    assert ctl.cancel()
    assert not ctl.busy and "cancelled" in ctl.notice


def stale_frames_of(ctl: AnnotationController, obj_id: int = 1) -> list[int]:
    return [f for f, label in enumerate(ctl.lane(obj_id).labels) if label is LabelState.STALE]


def prompted_on_0_and_10_and_corrected_on_3(rig: EngineRig) -> AnnotationController:
    """Object 1 prompted on frames 0 and 10, propagated over the clip, then clicked on frame 3: its
    correction's span is frames 1-9 (between the prompts)."""
    ctl = rig.controller
    ctl.click(45, 60)
    ctl.seek(10)
    ctl.click(65, 60)
    rig.drain()
    assert ctl.propagate(Direction.BOTH)
    rig.drain()
    assert ctl.stale_count() == 0 and ctl.pending == []
    ctl.seek(3)
    ctl.click(52, 60)
    rig.drain()
    assert stale_frames_of(ctl) == [1, 2, 4, 5, 6, 7, 8, 9]
    return ctl


def test_a_window_that_misses_the_span_keeps_the_correction_pending(rig: EngineRig) -> None:
    ctl = prompted_on_0_and_10_and_corrected_on_3(rig)
    ctl.seek(12)
    assert not ctl.propagate(Direction.FORWARD, window=True)  # frames 12-16 are current: nothing to do
    assert ctl.propagate(Direction.FORWARD, window=True, everything=True)  # again anyway, nowhere near 1-9
    rig.drain()
    assert stale_frames_of(ctl) == [1, 2, 4, 5, 6, 7, 8, 9]
    assert [(c.obj_id, c.frame) for c in ctl.pending] == [(1, 3)]
    assert [(p.obj_id, p.frame) for p in rig.store.pending_corrections()] == [(1, 3)]
    assert ctl.pending_hint() == "r re-propagates the corrected span (frames 1-9)"
    ctl.seek(12)
    assert ctl.propagate(Direction.BACKWARD, window=True)  # frames 8-12: the span's end only
    rig.drain()
    assert stale_frames_of(ctl) == [1, 2, 4, 5, 6, 7]  # superseded only where it was covered
    assert [(c.obj_id, c.frame) for c in ctl.pending] == [(1, 3)]


def test_a_propagation_covering_the_span_settles_the_correction(rig: EngineRig) -> None:
    ctl = prompted_on_0_and_10_and_corrected_on_3(rig)
    ctl.seek(0)
    assert ctl.propagate(Direction.FORWARD)  # not `r`: any propagation over the span will do
    rig.drain()
    assert ctl.stale_count() == 0
    assert ctl.pending == [] and rig.store.pending_corrections() == []
    assert ctl.pending_hint() == ""
    assert not ctl.repropagate() and "no correction" in ctl.notice


def test_a_correction_survives_a_restart_and_r_re_tracks_it(rig: EngineRig, tmp_path: Path) -> None:
    ctl = propagated(rig).controller
    ctl.seek(5)
    ctl.click(60, 60)
    rig.drain()
    stale = stale_frames_of(ctl)
    assert stale == [f for f in range(1, CLIP_FRAMES) if f != 5]
    assert ctl.quit() == (
        f"saved: {len(stale)} stale frames in 1 pending correction - r re-propagates them next time"
    )
    rig.close()
    tracker = ScriptedTracker(lost=[LOST], doubtful=[DOUBTFUL])
    again = engine_rig(tmp_path / "clip", tmp_path / "clip.sam2tui", tracker, propagation_window=5)
    try:
        ctl = again.controller
        again.worker.submit(Replay(tuple(again.store.frame_prompts())))  # as the app does on resume
        again.drain()
        assert stale_frames_of(ctl) == stale
        assert ctl.pending_hint() == f"r re-propagates the corrected span (frames 1-{CLIP_FRAMES - 1})"
        assert ctl.repropagate()
        again.drain()
        runs = [call for call in tracker.calls if call[0] == "propagate"]
        assert runs == [
            ("propagate", 5, Direction.FORWARD, CLIP_FRAMES - 5),
            ("propagate", 5, Direction.BACKWARD, 5),
        ]
        assert ctl.stale_count() == 0 and ctl.pending == []
        assert again.store.pending_corrections() == []
        assert ctl.quit() == ""
    finally:
        again.close()


def test_undo_and_redo_after_a_propagation_leave_its_frames_stale(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    ctl.seek(5)
    ctl.click(60, 60)
    rig.drain()
    assert ctl.repropagate()
    rig.drain()
    assert ctl.stale_count() == 0
    derived = [f for f in range(1, CLIP_FRAMES) if f != 5]  # tracked from the click on frame 5
    assert ctl.undo()
    rig.drain()
    assert stale_frames_of(ctl) == derived and ctl.stale_count() == len(derived)
    assert ctl.lane(1).labels[5] is LabelState.UNTRACKED and ctl.result(5, 1) is None
    assert ctl.redo()
    rig.drain()
    # The prompts are back, but the results are not brought back as current: stale until re-tracked.
    assert stale_frames_of(ctl) == derived
    assert ctl.lane(1).labels[5] is LabelState.PROMPTED
    assert ctl.next_flagged(forward=True, all_objects=False).start == 6  # the flag keys visit them


def test_propagation_skips_what_is_current_and_continues_from_its_edge(rig: EngineRig) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    rig.drain()
    assert ctl.propagate(Direction.FORWARD, window=True)  # frames 0-4
    rig.drain()
    rig.tracker.calls.clear()
    assert ctl.propagate(Direction.BOTH)  # backwards nothing is left; forwards it goes on from frame 5
    rig.drain()
    assert rig.tracker.calls == [
        ("resume", 5, Direction.FORWARD),
        ("propagate", 5, Direction.FORWARD, None),
    ]
    assert all(ctl.lane(1).labels[f] in (LabelState.CURRENT, LabelState.PROMPTED) for f in range(CLIP_FRAMES))
    rig.tracker.calls.clear()
    assert not ctl.propagate(Direction.BOTH)
    assert "current" in ctl.notice and rig.tracker.calls == []
    assert ctl.propagate(Direction.BOTH, everything=True)  # `P`: track it all again
    rig.drain()
    assert rig.tracker.calls == [("propagate", 0, Direction.BOTH, None)]


def test_a_window_starting_inside_current_frames_is_shortened_to_what_it_would_have_reached(
    rig: EngineRig,
) -> None:
    ctl = rig.controller
    ctl.click(45, 60)
    rig.drain()
    ctl.propagate(Direction.FORWARD, window=True)  # 0-4
    rig.drain()
    ctl.seek(2)
    rig.tracker.calls.clear()
    assert ctl.propagate(Direction.FORWARD, window=True)  # 2-6: only 5 and 6 are left
    rig.drain()
    assert rig.tracker.calls == [("resume", 5, Direction.FORWARD), ("propagate", 5, Direction.FORWARD, 2)]


def test_stale_frames_are_tracked_again_from_the_first_one(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    ctl.seek(8)
    ctl.click(60, 60)  # a correction: frames 1-7 and 9- are stale now
    rig.drain()
    ctl.seek(0)
    rig.tracker.calls.clear()
    assert ctl.propagate(Direction.FORWARD)
    rig.drain()
    # Frame 0 is prompted and frame 1 stale: no tracked frame to skip, so it starts where it is, as ever.
    assert rig.tracker.calls == [("propagate", 0, Direction.FORWARD, None)]
    assert ctl.stale_count() == 0


def test_rename_and_reclass_are_undoable_and_reach_the_exports(rig: EngineRig, tmp_path: Path) -> None:
    ctl = propagated(rig).controller
    rig.store.add_classes(["person", "dog"])  # after the classes of the objects there are
    assert ctl.classes() == ["object", "person", "dog"]
    assert ctl.rename_object(1, "rex", "dog")
    assert (ctl.object(1).name, ctl.object(1).class_name) == ("rex", "dog")
    assert "u undoes" in ctl.notice and ctl.stale_count() == 0  # a name is no prompt edit
    assert ctl.last_class == "dog"
    assert not ctl.rename_object(1, "rex", "dog") and "already" in ctl.notice
    assert ctl.rename_object(1, "", "cat")  # "" keeps the name; a new class joins the list
    assert ctl.classes() == ["object", "person", "dog", "cat"]
    coco = coco_document(rig, tmp_path / "coco.json")
    assert coco["categories"][:4] == [
        {"id": i, "name": n, "supercategory": "object"} for i, n in enumerate(ctl.classes(), 1)
    ]
    assert {a["category_id"] for a in coco["annotations"]} == {4}
    assert ctl.undo() and ctl.object(1).class_name == "dog" and "update object" in ctl.notice
    assert ctl.undo() and (ctl.object(1).name, ctl.object(1).class_name) == ("object 1", "object")
    assert ctl.redo() and ctl.object(1).name == "rex"
    assert not ctl.rename_object(None) and "no object" in ctl.notice


def coco_document(rig: EngineRig, out: Path) -> dict:  # type: ignore[type-arg]
    from sam2tui.export import export_session

    export_session(rig.store, "coco", out)
    return json.loads(out.read_text())


def test_first_click_uses_the_class_lists_first_class_and_says_how_to_rename(rig: EngineRig) -> None:
    ctl = rig.controller
    rig.store.add_classes(["person", "dog"])
    assert ctl.click(45, 60)
    assert ctl.object(1).class_name == "person" and "R renames it" in ctl.notice


def test_absent_on_a_frame_and_over_a_range_is_one_undo_step(rig: EngineRig, tmp_path: Path) -> None:
    ctl = propagated(rig).controller
    ctl.seek(10)
    assert ctl.mark_absent()
    rig.drain()
    assert ctl.lane(1).labels[10] is LabelState.ABSENT
    assert ctl.result(10, 1).is_empty and "absent on frame 10" in ctl.notice
    [prompt] = rig.store.prompts(frame=10, obj_id=1)
    assert prompt.kind is PromptKind.MASK and prompt.mask["size"] == [120, 160]
    ctl.seek(4)
    assert ctl.absent_reach() == 6  # up to the absent frame 10, a prompted frame
    assert ctl.mark_absent(ctl.absent_reach())
    rig.drain()
    assert [f for f in range(CLIP_FRAMES) if ctl.lane(1).labels[f] is LabelState.ABSENT] == list(range(4, 11))
    assert "absent on frames 4-9" in ctl.notice
    assert ctl.repropagate()  # what was tracked after the absent frames is stale until re-tracked
    rig.drain()
    flagged = set()
    ctl.seek(0)
    while ctl.next_flagged_frame(forward=True) is not None:
        flagged.add(ctl.view.frame)
    assert LOST in flagged and not flagged & set(range(4, 11))  # the user's absent frames are no flags
    assert ctl.flag_at(10) is None
    coco = coco_document(rig, tmp_path / "coco.json")
    annotated = {a["image_id"] - 1 for a in coco["annotations"]}
    images = {i["id"] - 1 for i in coco["images"]}
    assert set(range(4, 11)) <= images and not annotated & set(range(4, 11))  # confirmed negatives
    assert ctl.undo()  # the whole range at once
    rig.drain()
    assert [f for f in range(CLIP_FRAMES) if ctl.lane(1).labels[f] is LabelState.ABSENT] == [10]
    assert rig.store.prompted_frames(1) == [0, 10]
    ctl.seek(10)
    assert not ctl.mark_absent() and "already absent" in ctl.notice
    ctl.seek(CLIP_FRAMES - 2)
    assert ctl.mark_absent(50)  # clamped to the video
    assert rig.store.prompted_frames(1)[-2:] == [CLIP_FRAMES - 2, CLIP_FRAMES - 1]


def test_flag_keys_step_frame_by_frame_inside_a_run_and_jump_between_runs(tmp_path: Path) -> None:
    folder = write_clip_folder(tmp_path / "clip")
    made = engine_rig(folder, tmp_path / "clip.sam2tui", ScriptedTracker(doubtful=[5, 6, 7, 15]))
    try:
        ctl = propagated(made).controller
        visited = []
        while ctl.next_flagged_frame(forward=True) is not None:
            visited.append(ctl.view.frame)
            assert ctl.notice == ""  # a successful jump clears what was said before
        assert visited == [5, 6, 7, 15] and "no later flagged frame" in ctl.notice
        assert ctl.next_flagged_frame(forward=False).start == 5 and ctl.view.frame == 7
        assert ctl.next_flagged(forward=False, all_objects=False).start == 5 and ctl.view.frame == 5
        assert ctl.next_flagged(forward=True, all_objects=False).start == 15
    finally:
        made.close()


def test_quit_stores_the_place_and_a_new_controller_starts_there(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    ctl.new_object()
    ctl.select(1)
    ctl.seek(9)
    ctl.note_zoom(Zoom(2.5, (40.0, 30.0)))
    ctl.quit()
    again = AnnotationController(
        rig.store, History(rig.store), CLIP_FRAMES, rig.worker, thresholds=ReviewThresholds()
    )
    assert (again.view.frame, again.view.selected, again.zoom) == (9, 1, Zoom(2.5, (40.0, 30.0)))
    rig.store.set_setting(PLACE_KEY, {"frame": "nine"})  # damaged: no reason to refuse the session
    fresh = AnnotationController(
        rig.store, History(rig.store), CLIP_FRAMES, rig.worker, thresholds=ReviewThresholds()
    )
    assert (fresh.view.frame, fresh.view.selected, fresh.zoom) == (0, 1, Zoom())


# ---- per object: hide, solo, lock; identity edits ----


def two_objects_propagated(rig: EngineRig) -> AnnotationController:
    """Object 1 clicked left, object 2 right, both on frame 0, propagated over the clip."""
    ctl = rig.controller
    assert ctl.click(40, 60)
    ctl.new_object("cup", "cup")
    assert ctl.click(120, 60)
    rig.drain()
    assert ctl.propagate(Direction.BOTH)
    rig.drain()
    return ctl


def box_x(ctl: AnnotationController, frame: int, obj_id: int) -> int:
    result = ctl.result(frame, obj_id)
    assert result is not None and result.box is not None
    return result.box[0]


def test_hide_and_solo_are_view_settings_kept_in_the_session(rig: EngineRig) -> None:
    ctl = two_objects_propagated(rig)
    assert ctl.shows(1) and ctl.shows(2)
    ctl.select(1)
    assert ctl.hide_object() and not ctl.shows(1) and ctl.shows(2) and "hidden" in ctl.notice
    ctl.select(2)
    assert ctl.solo_object() and ctl.shows(2) and not ctl.shows(1)
    ctl.select(1)
    assert ctl.solo_object() and ctl.shows(1) and not ctl.shows(2)  # solo follows the selection
    again = AnnotationController(
        rig.store, History(rig.store), CLIP_FRAMES, rig.worker, thresholds=ReviewThresholds()
    )
    assert (again.hidden, again.solo) == ({1}, 1)
    assert not ctl.solo_object() and "every object shown" in ctl.notice
    assert not ctl.hide_object() and ctl.shows(1)
    ctl.select(2)
    assert ctl.hide_object() and ctl.solo_object()
    assert ctl.remove_object(2) and (ctl.hidden, ctl.solo) == (set(), None)  # a new object 2 is shown
    assert rig.store.setting(OBJECT_VIEW_KEY) == {"hidden": [], "solo": None}
    assert ctl.undo()
    assert len(rig.store.results()) == 2 * CLIP_FRAMES  # no label changed


def test_a_locked_object_takes_no_edit_and_propagation_keeps_its_masks(rig: EngineRig) -> None:
    ctl = two_objects_propagated(rig)
    ctl.select(1)
    kept = rig.store.results(obj_id=1)
    assert ctl.lock_object() and ctl.locked == {1} and rig.store.locked_objects() == {1}
    prompts = rig.store.prompts()
    ctl.seek(5)
    assert not ctl.click(60, 60) and "locked" in ctl.notice
    assert not ctl.mark_absent() and not ctl.clear_frame() and not ctl.remove_object(1)
    assert not ctl.split_object() and "locked" in ctl.notice
    assert not ctl.swap_objects(2) and not ctl.merge_objects(2)
    assert not ctl.delete_point((40, 60)) and "locked" in ctl.notice
    ctl.toggle_tool("brush")
    assert not ctl.paint(40, 60) and "locked" in ctl.notice and ctl.stroke is None
    ctl.toggle_tool("brush")
    assert rig.store.prompts() == prompts
    ctl.select(2)
    assert ctl.click(100, 60, positive=False)  # a correction of object 2 ...
    rig.drain()
    assert ctl.propagate(Direction.BOTH, everything=True)  # ... and everything tracked again
    rig.drain()
    assert rig.store.results(obj_id=1) == kept and ctl.stale_count() == 0
    assert all(r.edit_seq < rig.store.edit_seq() for r in rig.store.results(obj_id=1))
    assert ctl.undo() and rig.store.prompted_frames(2) == [0]  # undoing object 2's click is fine
    rig.drain()
    assert rig.store.results(obj_id=1) == kept
    ctl.select(1)
    assert not ctl.lock_object() and ctl.locked == set()
    assert ctl.click(60, 60)


def test_undo_of_a_locked_objects_edit_is_refused(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    ctl.seek(5)
    assert ctl.click(50, 60)  # a correction: pending, offered to r ...
    rig.drain()
    assert ctl.pending_hint()
    assert ctl.lock_object()
    assert ctl.pending_hint() == "" and not ctl.repropagate()  # ... but not while the object is locked
    assert "no correction" in ctl.notice
    assert not ctl.undo() and "locked" in ctl.notice
    assert rig.store.prompted_frames(1) == [0, 5]


def test_swap_from_this_frame_on_is_undoable(rig: EngineRig) -> None:
    ctl = two_objects_propagated(rig)
    left, right = box_x(ctl, 13, 1), box_x(ctl, 13, 2)
    ctl.select(1)
    ctl.seek(10)
    assert ctl.swap_objects(2) and "swapped from frame 10" in ctl.notice
    rig.drain()
    assert (box_x(ctl, 13, 1), box_x(ctl, 13, 2)) == (right, left)
    assert box_x(ctl, 5, 1) < box_x(ctl, 5, 2)  # before frame 10 nothing changed
    assert ctl.stale_count() == 0  # results moved with their frames: still current
    assert ctl.undo() and "swap objects" in ctl.notice
    rig.drain()
    assert (box_x(ctl, 13, 1), box_x(ctl, 13, 2)) == (left, right)
    assert ctl.redo()
    assert box_x(ctl, 13, 1) == right
    assert not ctl.swap_objects(1) and "another object" in ctl.notice
    assert not ctl.swap_objects(None)


def test_merge_moves_the_object_into_another_and_undo_brings_it_back(rig: EngineRig) -> None:
    ctl = two_objects_propagated(rig)
    before = (rig.store.objects(), rig.store.results(), rig.store.prompts())
    ctl.select(2)
    assert ctl.merge_objects(1) and [o.obj_id for o in ctl.objects()] == [1]
    assert ctl.view.selected == 1 and "merged into object 1" in ctl.notice
    rig.drain()
    merged = ctl.result(8, 1)
    assert merged is not None and merged.parts == 2  # the union of both masks
    assert [p.obj_id for p in rig.store.prompts()] == [1, 1]
    assert ctl.undo()
    rig.drain()
    assert [o.obj_id for o in ctl.objects()] == [1, 2]
    assert rig.store.objects() == before[0]
    assert ctl.result(8, 2) is not None and ctl.result(8, 1).parts == 1


def test_split_at_this_frame_makes_a_new_object_of_the_same_class(rig: EngineRig) -> None:
    ctl = two_objects_propagated(rig)
    ctl.select(2)
    ctl.seek(7)
    assert ctl.split_object() and "object 3" in ctl.notice and "R renames it" in ctl.notice
    new = ctl.object(3)
    assert new is not None and new.class_name == "cup" and ctl.view.selected == 3
    assert sorted(ctl.lane(3).labels[f] is LabelState.CURRENT for f in range(7, CLIP_FRAMES)) == [True] * 13
    assert ctl.result(6, 3) is None and ctl.result(7, 2) is None and ctl.result(6, 2) is not None
    assert ctl.undo()
    rig.drain()
    assert [o.obj_id for o in ctl.objects()] == [1, 2] and ctl.result(7, 2) is not None
    ctl.seek(CLIP_FRAMES - 1)
    ctl.select(2)
    assert ctl.split_object()  # the last frame alone
    assert ctl.undo()
    ctl.propagation.running = True
    assert not ctl.split_object() and "propagating" in ctl.notice


def test_a_deleted_or_moved_point_reapplies_the_frames_clicks_in_order_as_one_undo_step(
    rig: EngineRig,
) -> None:
    ctl = propagated(rig).controller
    ctl.seek(5)
    clicks = [(40.0, 50.0, True), (60.0, 50.0, False), (80.0, 50.0, True)]
    for x, y, positive in clicks:
        assert ctl.click(x, y, positive)
    rig.drain()
    assert ctl.point_near(61, 52) == rig.store.prompts(frame=5, obj_id=1)[1]
    assert ctl.point_near(61, 90, reach=5) is None
    assert not ctl.delete_point((61, 90), reach=5) and "no point of object 1 there" in ctl.notice
    assert ctl.delete_point((62, 49))  # nearest: the negative click
    rig.drain()
    assert [p.point for p in rig.store.prompts(frame=5, obj_id=1)] == [(40.0, 50.0), (80.0, 50.0)]
    sent = [call[1] for call in rig.tracker.calls if call[0] == "set_prompt"][-1]
    assert [p.point for p in sent.steps] == [(40.0, 50.0), (80.0, 50.0)]  # the clicks left, in order
    assert ctl.result(5, 1).box is not None and "deleted a point" in ctl.notice
    assert ctl.lane(1).labels[5] is LabelState.PROMPTED and ctl.pending  # a correction like any other
    assert ctl.move_point((41, 51), (30, 70), reach=4)
    rig.drain()
    [moved, kept] = rig.store.prompts(frame=5, obj_id=1)
    assert (moved.point, moved.label, kept.point) == ((30.0, 70.0), POSITIVE, (80.0, 50.0))
    assert not ctl.move_point((10, 10), (20, 20), reach=4)  # a drag that starts on no point moves nothing
    assert ctl.undo()  # the move
    assert [p.point for p in rig.store.prompts(frame=5, obj_id=1)] == [(40.0, 50.0), (80.0, 50.0)]
    assert ctl.undo()  # the deletion
    assert [p.label for p in rig.store.prompts(frame=5, obj_id=1)] == [POSITIVE, NEGATIVE, POSITIVE]
    ctl.seek(6)
    assert not ctl.delete_point((40, 50)) and "no point of object 1 on this frame" in ctl.notice
    assert not ctl.delete_point(None) and "point at it first" in ctl.notice


def test_a_brush_stroke_is_the_frames_mask_prompt_one_undo_step_per_stroke(rig: EngineRig) -> None:
    ctl = propagated(rig).controller
    ctl.seek(3)
    before = masks.decode(ctl.result(3, 1).rle)
    assert not ctl.paint(10, 10)  # not in a paint mode
    assert ctl.toggle_tool("brush") == "brush" and "brush" in ctl.notice
    radius = ctl.brush_radius
    assert ctl.resize_brush(larger=True) > radius
    ctl.resize_brush(larger=False)
    assert ctl.brush_radius == radius
    assert ctl.paint(10, 10) and ctl.paint(30, 10)  # a drag: dabs joined by a band
    assert rig.store.prompts(frame=3) == []  # nothing stored while the stroke goes on
    shown = masks.decode(ctl.stroke.rle)
    assert shown[10, 10:31].all() and (shown | before).sum() == shown.sum()  # from the current mask on
    assert ctl.end_stroke()
    rig.drain()
    [prompt] = rig.store.prompts(frame=3, obj_id=1)
    assert prompt.kind is PromptKind.MASK and np.array_equal(masks.decode(prompt.mask), shown)
    assert np.array_equal(masks.decode(ctl.result(3, 1).rle), shown)  # the user's mask, bit for bit
    assert ctl.lane(1).labels[3] is LabelState.PROMPTED and ctl.pending
    assert ctl.toggle_tool("eraser") == "eraser"
    assert ctl.paint(10, 10) and ctl.end_stroke() and "erased from object 1" in ctl.notice
    rig.drain()
    erased = masks.decode(rig.store.prompts(frame=3, obj_id=1)[-1].mask)
    assert not erased[10, 10] and erased[10, 30]
    ctl.toggle_tool("brush")
    assert ctl.paint(10, 30)  # a single dab (the keyboard pointer's) ...
    assert ctl.toggle_tool("brush") == "prompt"  # ... ended by leaving the mode
    assert len(rig.store.prompts(frame=3, obj_id=1)) == 3
    assert ctl.undo() and ctl.undo()  # the dab, then the eraser stroke: one step each
    assert len(rig.store.prompts(frame=3, obj_id=1)) == 1
    assert ctl.undo() and rig.store.prompts(frame=3) == []
    ctl.toggle_tool("brush")
    x, y = 45, 60  # inside the mask: a brush dab there changes nothing
    ctl.seek(0)
    assert ctl.paint(x, y) and not ctl.end_stroke() and "changed nothing" in ctl.notice
