"""Undo and redo of every edit kind, kept across restarts, compared with snapshots of the store."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sam2tui import masks
from sam2tui.engine.tracker import result_from_mask
from sam2tui.session.history import Edit, EditKind, History
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, Prompt, TrackedObject
from sam2tui.video import VideoFingerprint

H, W = 24, 32


def fingerprint(folder: Path) -> VideoFingerprint:
    return VideoFingerprint(str(folder / "clip.mp4"), 50, W, H, 25.0, "12" * 20)


def result(frame: int, obj_id: int, x: int = 2) -> FrameResult:
    mask = np.zeros((H, W), bool)
    mask[3:9, x : x + 5] = True
    return result_from_mask(frame, obj_id, mask, 6.5, "sam2.1-tiny")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "clip.mp4.sam2tui"


@pytest.fixture
def store(path: Path) -> Iterator[SessionStore]:
    with SessionStore.open(path, fingerprint(path.parent)) as opened:
        yield opened


def state(store: SessionStore) -> tuple[object, ...]:
    """What edits change. Restored prompts get new row ids (an object's after the others, a frame's after
    the object's other frames), so order them per object and frame; the order within a frame, which SAM 2
    applies, stays the creation order (the sort is stable)."""
    prompts = sorted(store.prompts(), key=lambda p: (p.obj_id, p.frame))
    return (store.objects(), prompts, store.frame_prompts(), store.results())


def test_add_prompt_undo_redo(store: SessionStore) -> None:
    history = History(store)
    assert store.history_counts() == (0, 0)  # nothing to undo or redo
    assert history.undo() is None and history.redo() is None
    obj, _ = history.add_object()
    click = Prompt.click(4, obj.obj_id, 10.5, 3)
    edit = history.add_prompt(click)
    assert edit == Edit(EditKind.ADD_PROMPT, 4, obj.obj_id, (click,))
    assert store.prompts() == [click]
    assert history.undo() == edit
    assert store.prompts() == [] and store.history_counts() == (1, 1)
    assert history.redo() == edit
    assert store.prompts() == [click] and store.history_counts() == (2, 0)


def test_undo_of_a_prompt_removes_only_that_prompt(store: SessionStore) -> None:
    history = History(store)
    obj, _ = history.add_object()
    click = Prompt.click(0, obj.obj_id, 1, 1)
    history.add_prompt(click)
    history.add_prompt(Prompt.click(0, obj.obj_id, 5, 5, positive=False))
    history.add_prompt(click)  # the same click twice: undo takes the newest
    history.undo()
    history.undo()
    assert store.prompts() == [click]


def test_clear_prompts_undo_redo(store: SessionStore) -> None:
    history = History(store)
    obj, _ = history.add_object()
    prompts = [Prompt.click(2, 1, 1, 1), Prompt.rectangle(2, 1, (0, 0, 9, 9)), Prompt.click(3, 1, 2, 2)]
    for p in prompts:
        history.add_prompt(p)
    edit = history.clear_prompts(2, obj.obj_id)
    assert edit.kind is EditKind.CLEAR_PROMPTS and edit.prompts == tuple(prompts[:2])
    assert store.prompts() == prompts[2:]
    assert history.undo() == edit
    assert store.prompts(2, 1) == prompts[:2]
    history.redo()
    assert store.prompts() == prompts[2:]


def test_replacing_a_frames_prompts_is_one_edit_undone_in_order(store: SessionStore) -> None:
    history = History(store)
    history.add_object()
    clicks = [Prompt.click(2, 1, 1, 1), Prompt.click(2, 1, 5, 5, False), Prompt.click(2, 1, 9, 2)]
    other = Prompt.click(3, 1, 2, 2)
    history.add_prompts([*clicks, other])
    moved = Prompt.click(2, 1, 7, 7, False)
    edit = history.replace_prompts(2, 1, [clicks[0], moved, clicks[2]])
    assert edit.kind is EditKind.REPLACE_PROMPTS and edit.replaced == tuple(clicks)
    assert store.prompts(2, 1) == [clicks[0], moved, clicks[2]] and store.prompts(3, 1) == [other]
    history.replace_prompts(2, 1, [clicks[0], clicks[2]])  # a point deleted
    assert store.prompts(2, 1) == [clicks[0], clicks[2]]
    history.undo()
    assert store.prompts(2, 1) == [clicks[0], moved, clicks[2]]
    history.undo()
    assert store.prompts(2, 1) == clicks
    history.redo()
    assert store.prompts(2, 1) == [clicks[0], moved, clicks[2]]
    with pytest.raises(ValueError, match="frame 2 only"):
        history.replace_prompts(2, 1, [other])


def test_clearing_nothing_is_not_recorded(store: SessionStore) -> None:
    history = History(store)
    history.add_object()
    edit = history.clear_prompts(7, 1)
    assert edit.prompts == ()
    assert store.history_counts() == (1, 0)


def test_add_object_undo_redo(store: SessionStore) -> None:
    history = History(store)
    obj, edit = history.add_object("horse", "animal")
    assert obj == TrackedObject(1, "horse", "animal", obj.color)
    assert edit == Edit(EditKind.ADD_OBJECT, None, 1, obj=obj)
    store.put_results([result(0, 1)])  # tracked after it was added: results are not an edit
    undone = history.undo()
    assert undone is not None and undone.kind is EditKind.ADD_OBJECT
    assert store.objects() == [] and store.results() == []
    redone = history.redo()
    assert redone is not None and redone.obj == obj
    assert store.objects() == [obj] and store.results() == [result(0, 1)]


def test_update_object_undo_redo_and_its_record(store: SessionStore) -> None:
    history = History(store)
    obj, _ = history.add_object("horse", "animal")
    renamed = TrackedObject(1, "pony", "foal", obj.color)
    edit = history.update_object(renamed)
    assert edit == Edit(EditKind.UPDATE_OBJECT, None, 1, obj=renamed, previous=obj)
    assert Edit.from_json(edit.to_json()) == edit
    assert store.objects() == [renamed]
    assert store.edit_seq() == 0  # a name is no prompt edit: nothing becomes stale
    assert history.undo() == edit and store.objects() == [obj]
    assert history.redo() == edit and store.objects() == [renamed]
    with pytest.raises(ValueError):
        history.update_object(TrackedObject(7, "x", "y", obj.color))


def test_prompts_on_several_frames_are_one_edit(store: SessionStore) -> None:
    history = History(store)
    obj, _ = history.add_object()
    prompts = [Prompt.click(frame, obj.obj_id, 3, 4) for frame in (2, 3, 4)]
    edit = history.add_prompts(prompts)
    assert (edit.kind, edit.frame, edit.prompts) == (EditKind.ADD_PROMPT, 2, tuple(prompts))
    assert store.prompted_frames(obj.obj_id) == [2, 3, 4]
    assert history.undo() == edit and store.prompts() == []
    assert history.redo() == edit and store.prompts() == prompts
    other, _ = history.add_object()
    with pytest.raises(ValueError):
        history.add_prompts([Prompt.click(1, obj.obj_id, 3, 4), Prompt.click(1, other.obj_id, 3, 4)])


def test_remove_object_undo_restores_object_prompts_and_results(store: SessionStore) -> None:
    history = History(store)
    history.add_object()
    second, _ = history.add_object("dog", "animal")
    store.update_object(TrackedObject(second.obj_id, "Rex", "dog", (1, 2, 3)))
    prompts = [Prompt.click(0, 2, 1, 1), Prompt.from_mask(5, 2, masks.encode(np.eye(H, W, dtype=bool)))]
    for p in [Prompt.click(0, 1, 3, 3), *prompts]:
        history.add_prompt(p)
    results = [result(f, 2, x=f) for f in range(6)]
    store.put_results([*results, result(0, 1)])
    before = state(store)

    edit = history.remove_object(2)
    assert edit.obj == TrackedObject(2, "Rex", "dog", (1, 2, 3))
    assert edit.prompts == tuple(prompts) and edit.results == tuple(results)
    assert [o.obj_id for o in store.objects()] == [1] and store.results() == [result(0, 1)]

    assert history.undo() == edit
    assert state(store) == before  # the masks are back without re-tracking

    store.put_results([result(3, 2, x=20)])  # re-tracked between undo and redo
    history.redo()
    assert [o.obj_id for o in store.objects()] == [1]
    history.undo()
    assert store.results(3, 2) == [result(3, 2, x=20)]  # what was removed last, not the first removal


def test_a_new_edit_after_undo_drops_the_redo_tail(store: SessionStore) -> None:
    history = History(store)
    history.add_object()
    history.add_prompt(Prompt.click(0, 1, 1, 1))
    history.add_prompt(Prompt.click(0, 1, 2, 2))
    history.undo()
    history.undo()
    assert store.history_counts() == (1, 2)
    history.add_prompt(Prompt.click(9, 1, 3, 3))
    assert store.history_counts() == (2, 0) and history.redo() is None
    assert store.prompts() == [Prompt.click(9, 1, 3, 3)]


def test_history_survives_a_restart(path: Path) -> None:
    with SessionStore.open(path, fingerprint(path.parent)) as store:
        history = History(store)
        history.add_object()
        history.add_prompt(Prompt.click(1, 1, 1, 1))
        history.add_prompt(Prompt.click(2, 1, 2, 2))
        history.undo()
    with SessionStore.open(path, fingerprint(path.parent)) as store:
        history = History(store)
        assert store.history_counts() == (2, 1)
        redone = history.redo()
        assert redone is not None and redone.prompts == (Prompt.click(2, 1, 2, 2),)
        history.undo()
        history.undo()
        history.undo()
        assert store.objects() == [] and store.history_counts() == (0, 3)
    with SessionStore.open(path, fingerprint(path.parent)) as store:
        history = History(store)
        for _ in range(3):
            history.redo()
        assert store.prompts() == [Prompt.click(1, 1, 1, 1), Prompt.click(2, 1, 2, 2)]


def test_a_failing_edit_changes_nothing(store: SessionStore) -> None:
    history = History(store)
    with pytest.raises(ValueError):
        history.add_prompt(Prompt.click(0, 3, 1, 1))  # no object 3
    with pytest.raises(ValueError):
        history.remove_object(3)
    assert store.prompts() == [] and store.history_counts() == (0, 0)


points = st.floats(-5, 100, allow_nan=False, width=32)
prompt_values = st.one_of(
    st.builds(Prompt.click, st.integers(0, 3), st.integers(1, 3), points, points, st.booleans()),
    st.builds(
        Prompt.rectangle, st.integers(0, 3), st.integers(1, 3), st.tuples(points, points, points, points)
    ),
)
result_values = st.builds(
    lambda frame, obj_id, x, score, parts: FrameResult(
        frame, obj_id, result(frame, obj_id, x).rle, score, (x, 3, 5, 6), 30, "m", parts
    ),
    st.integers(0, 9),
    st.integers(1, 3),
    st.integers(0, 20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.one_of(st.none(), st.integers(0, 9)),
)
edits = st.builds(
    Edit,
    st.sampled_from(EditKind),
    st.one_of(st.none(), st.integers(0, 10_000)),
    st.integers(1, 99),
    st.lists(prompt_values, max_size=4).map(tuple),
    st.one_of(
        st.none(),
        st.builds(
            TrackedObject, st.integers(1, 9), st.text(), st.text(), st.tuples(*[st.integers(0, 255)] * 3)
        ),
    ),
    st.lists(result_values, max_size=3).map(tuple),
    other=st.one_of(st.none(), st.integers(1, 99)),
    replaced=st.lists(prompt_values, max_size=3).map(tuple),
)


@given(edits)
def test_edits_round_trip_through_json(edit: Edit) -> None:
    back = Edit.from_json(edit.to_json())
    assert back == edit
    assert [r.parts for r in back.results] == [r.parts for r in edit.results]  # not part of equality


operations = st.lists(
    st.one_of(
        st.tuples(st.just("prompt"), prompt_values),
        st.tuples(st.just("clear"), st.integers(0, 99)),  # clears the (frame, object) of the n-th prompt
        st.tuples(st.just("delete"), st.integers(0, 99)),  # deletes the n-th prompt from its frame
        st.tuples(st.just("add_object")),
        st.tuples(st.just("remove_object"), st.integers(1, 3)),
        st.tuples(st.just("swap"), st.integers(1, 3), st.integers(1, 3), st.integers(0, 6)),
        st.tuples(st.just("merge"), st.integers(1, 3), st.integers(1, 3)),
        st.tuples(st.just("split"), st.integers(1, 3), st.integers(0, 6)),
        st.tuples(st.just("undo")),
        st.tuples(st.just("redo")),
        st.tuples(st.just("restart")),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_undo_and_redo_walk_back_and_forth_through_the_same_states(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.sam2tui"
        store = SessionStore.open(path, fingerprint(Path(folder)))
        try:
            history = History(store)
            states = [state(store)]  # states[i]: after the first i edits
            cursor = 0
            for op in [("add_object",), ("add_object",), *ops]:
                name = op[0]
                if name == "restart":
                    store.close()
                    store = SessionStore.open(path, fingerprint(Path(folder)))
                    history = History(store)
                    continue
                if name in ("undo", "redo"):
                    edit = history.undo() if name == "undo" else history.redo()
                    if edit is None:
                        assert cursor == (0 if name == "undo" else len(states) - 1)
                        continue
                    cursor += -1 if name == "undo" else 1
                    assert state(store) == states[cursor]
                    continue
                known = {o.obj_id for o in store.objects()}
                if name == "prompt" and op[1].obj_id in known:
                    history.add_prompt(op[1])
                elif name == "clear" and store.prompts():
                    chosen = store.prompts()[op[1] % len(store.prompts())]
                    history.clear_prompts(chosen.frame, chosen.obj_id)
                elif name == "delete" and store.prompts():
                    chosen = store.prompts()[op[1] % len(store.prompts())]
                    kept = store.prompts(chosen.frame, chosen.obj_id)
                    kept.remove(chosen)
                    history.replace_prompts(chosen.frame, chosen.obj_id, kept)
                elif name == "add_object" and len(known) < 3:
                    obj, _ = history.add_object()
                    # Tracked at once: results are no edit, but they leave and come back with their object.
                    # On frames no prompt touches (prompts go on 0-3): a frame left without prompts loses
                    # its result (tests/test_states.py), which is not a state an undo walks back to.
                    store.put_results([result(4, obj.obj_id), result(5, obj.obj_id, x=obj.obj_id)])
                elif name == "remove_object" and op[1] in known:
                    history.remove_object(op[1])
                elif name == "swap" and {op[1], op[2]} <= known and op[1] != op[2]:
                    history.swap_objects(op[1], op[2], op[3])
                elif name == "merge" and {op[1], op[2]} <= known and op[1] != op[2]:
                    history.merge_objects(op[1], op[2])
                elif name == "split" and op[1] in known:
                    new_id = max(known) + 1
                    history.split_object(op[1], op[2], TrackedObject(new_id, "split", "object", (9, 9, 9)))
                else:
                    continue
                states = [*states[: cursor + 1], state(store)]
                cursor += 1
            assert store.history_counts() == (cursor, len(states) - 1 - cursor)
        finally:
            store.close()
