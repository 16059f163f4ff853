"""Label states: what each (frame, object) is, computed from the session's prompts, results and pending
corrections (sam2tui.session.states), and the store's bookkeeping behind it (edit numbers, pending rows)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sam2tui import masks
from sam2tui.engine.tracker import result_from_mask
from sam2tui.session.history import History
from sam2tui.session.states import count_states, label_states, object_states, settle
from sam2tui.session.store import SessionStore
from sam2tui.values import LabelState, PendingCorrection, Prompt
from sam2tui.video import VideoFingerprint

H, W, FRAMES = 24, 32, 12
P, C, S, U, A = (
    LabelState.PROMPTED,
    LabelState.CURRENT,
    LabelState.STALE,
    LabelState.UNTRACKED,
    LabelState.ABSENT,
)


def square(frame: int, obj_id: int = 1):
    mask = np.zeros((H, W), bool)
    mask[4:12, 4 + frame % 8 : 12 + frame % 8] = True
    return result_from_mask(frame, obj_id, mask, 7.0, "test")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SessionStore]:
    fingerprint = VideoFingerprint(str(tmp_path / "clip.mp4"), FRAMES, W, H, 30.0, "cd" * 20)
    with SessionStore.open(tmp_path / "clip.mp4.sam2tui", fingerprint) as opened:
        yield opened


def states(store: SessionStore, obj_id: int = 1) -> list[LabelState]:
    return label_states(store, FRAMES)[obj_id]


def track(store: SessionStore, frames: range, obj_id: int = 1) -> None:
    store.put_results([square(f, obj_id) for f in frames])


def test_a_prompt_alone_labels_its_frame_and_nothing_else(store: SessionStore) -> None:
    store.add_object()
    store.add_prompt(Prompt.click(5, 1, 10, 10))
    assert states(store) == [U] * 5 + [P] + [U] * 6


def test_propagated_frames_are_current_and_a_correction_makes_its_span_stale(store: SessionStore) -> None:
    store.add_object()
    store.add_prompt(Prompt.click(5, 1, 10, 10))
    track(store, range(FRAMES))
    assert states(store) == [C] * 5 + [P] + [C] * 6
    store.add_prompt(Prompt.click(8, 1, 12, 10))  # a correction: forward to the last tracked, back to 6
    store.put_results([square(8)])  # the engine's answer on the corrected frame
    assert states(store) == [C] * 5 + [P, S, S, P, S, S, S]
    assert [(c.obj_id, c.frame) for c in store.pending_corrections()] == [(1, 5), (1, 8)]


def test_a_propagation_settles_a_correction_only_where_it_covers_its_span(store: SessionStore) -> None:
    store.add_object()
    store.add_prompt(Prompt.click(5, 1, 10, 10))
    track(store, range(FRAMES))
    store.add_prompt(Prompt.click(8, 1, 12, 10))
    track(store, range(9, FRAMES))  # forward from 9 only: 6 and 7 were not redone
    assert states(store) == [C] * 5 + [P, S, S, P, C, C, C]
    settle(store)
    assert [c.frame for c in store.pending_corrections()] == [8]  # the first edit (frame 5) was settled
    track(store, range(6, 8))
    assert states(store) == [C] * 5 + [P, C, C, P, C, C, C]
    assert [c.frame for c in settle(store)] == [8]
    assert store.pending_corrections() == []


def test_pending_corrections_and_staleness_survive_reopening(tmp_path: Path, store: SessionStore) -> None:
    store.add_object()
    store.add_prompt(Prompt.click(2, 1, 10, 10))
    track(store, range(FRAMES))
    store.add_prompt(Prompt.click(2, 1, 14, 10, positive=False))
    before = states(store)
    path, fingerprint = (
        store.path,
        VideoFingerprint(str(tmp_path / "clip.mp4"), FRAMES, W, H, 30.0, "cd" * 20),
    )
    store.close()
    with SessionStore.open(path, fingerprint) as reopened:
        assert states(reopened) == before == [S, S, P] + [S] * 9
        assert [c.frame for c in reopened.pending_corrections()] == [2]


def test_an_empty_mask_prompt_is_absent_and_clearing_prompts_drops_the_frames_result(
    store: SessionStore,
) -> None:
    store.add_object()
    store.add_prompt(Prompt.click(3, 1, 10, 10))
    store.put_results([square(3)])
    store.add_prompt(Prompt.from_mask(6, 1, masks.encode(np.zeros((H, W), bool))))
    assert states(store)[3] == P and states(store)[6] == A
    store.clear_prompts(3, 1)
    assert store.results(frame=3) == []  # what the prompts showed no longer holds
    assert states(store)[3] == U


def test_undo_marks_what_followed_from_the_undone_prompt_stale(store: SessionStore) -> None:
    history = History(store)
    obj, _ = history.add_object()
    history.add_prompt(Prompt.click(0, obj.obj_id, 10, 10))
    history.add_prompt(Prompt.click(0, obj.obj_id, 20, 10))
    track(store, range(FRAMES))
    assert states(store) == [P] + [C] * 11
    history.undo()  # the second click is gone: frames 1.. were tracked with it
    assert states(store) == [P] + [S] * 11
    history.redo()
    assert states(store) == [P] + [S] * 11  # still derived from an older edit: r re-tracks
    track(store, range(1, FRAMES))
    assert states(store) == [P] + [C] * 11


def test_removing_and_restoring_an_object_keeps_what_was_current_and_what_was_stale(
    store: SessionStore,
) -> None:
    history = History(store)
    obj, _ = history.add_object()
    history.add_prompt(Prompt.click(4, obj.obj_id, 10, 10))
    track(store, range(FRAMES))
    history.add_prompt(Prompt.click(9, obj.obj_id, 12, 10))
    before = states(store)
    assert S in before and C in before
    history.remove_object(obj.obj_id)
    assert store.pending_corrections() == []
    history.undo()
    assert states(store) == before
    assert [c.frame for c in store.pending_corrections()] == [4, 9]


def test_object_states_is_pure_and_ignores_frames_outside_the_video() -> None:
    results = {f: square(f) for f in (0, 1, 2, 3, 40)}
    for f in (1, 2, 3):
        object.__setattr__(results[f], "edit_seq", 1)
    pending = [PendingCorrection(1, 0, 2)]
    got = object_states(5, [Prompt.click(0, 1, 1, 1)], results, pending)
    assert got == [P, S, S, S, U]


def test_counts_describe_every_state_in_one_line(store: SessionStore) -> None:
    store.add_object()
    store.add_object()
    store.add_prompt(Prompt.click(0, 1, 10, 10))
    track(store, range(6))
    store.add_prompt(Prompt.click(3, 1, 12, 10))
    counts = count_states(label_states(store, FRAMES))
    assert counts[P] == 2 and counts[S] == 4 and counts[C] == 0 and counts[U] == 6 + FRAMES
    assert counts.describe() == f"2 prompted, 4 stale, {6 + FRAMES} untracked"


def test_a_schema_1_session_is_migrated_with_its_results_current(tmp_path: Path, store: SessionStore) -> None:
    store.add_object()
    store.add_prompt(Prompt.click(1, 1, 10, 10))
    track(store, range(4))
    path, fingerprint = (
        store.path,
        VideoFingerprint(str(tmp_path / "clip.mp4"), FRAMES, W, H, 30.0, "cd" * 20),
    )
    store.close()
    conn = sqlite3.connect(path)
    with conn:  # back to the version-1 layout
        conn.execute("DROP TABLE pending_corrections")
        conn.execute("ALTER TABLE results DROP COLUMN edit_seq")
        conn.execute("ALTER TABLE meta DROP COLUMN edit_seq")
        conn.execute("UPDATE meta SET schema_version = 1")
    conn.close()
    with SessionStore.open(path, fingerprint) as migrated:
        assert states(migrated)[:5] == [C, P, C, C, U]
        migrated.add_prompt(Prompt.click(1, 1, 12, 10))
        assert states(migrated)[:5] == [S, P, S, S, U]
