"""End to end on the real engine: the app with SAM 2 (tiny, random weights, image size 256) on 6 frames.

Random weights make meaningless masks; what is checked is the plumbing: the model loads off the UI thread,
a click gets a result from SAM 2, propagation stores every frame, and quitting stops the engine cleanly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sam2tui.engine.options import sam2_tracker
from sam2tui.engine.tracker import ModelSpec
from sam2tui.session.store import SessionStore
from sam2tui.tui.app import Sam2TuiApp
from sam2tui.values import LabelState
from sam2tui.video import VideoSource
from tests.fixtures_engine import (  # noqa: F401 (fixtures)
    CLIP_FRAMES,
    TEST_IMAGE_SIZE,
    TINY,
    clip_folder_fixture,
    random_checkpoint_fixture,
)
from tests.fixtures_tui import settle

pytestmark = [pytest.mark.engine, pytest.mark.slow]


async def test_click_propagate_quit_with_sam2(
    clip_folder: Path, random_checkpoint: Path, tmp_path: Path
) -> None:
    spec = ModelSpec(TINY, random_checkpoint, "cpu", TEST_IMAGE_SIZE)
    session = tmp_path / "clip.sam2tui"
    with VideoSource.open(clip_folder) as video, SessionStore.open(session, video.fingerprint()) as store:
        app = Sam2TuiApp(video, store, tracker_factory=sam2_tracker, model=spec)
        async with app.run_test(size=(100, 32)) as pilot:
            ctl = app.controller
            canvas = app.annotate.canvas
            await settle(pilot, lambda: canvas.frame_index == 0, timeout=30)
            assert not ctl.model.ready  # the first frame shows before the model is loaded
            await settle(pilot, lambda: ctl.model.ready or bool(ctl.model.error), timeout=240)
            assert ctl.model.ready, ctl.model.error
            assert ctl.model.device == "cpu"
            await pilot.click(canvas, offset=(30, 12))
            await settle(pilot, lambda: ctl.result(0, 1) is not None, timeout=120)
            await pilot.press("p")
            await settle(pilot, lambda: not ctl.busy and not app.engine.busy, timeout=240)
            assert ctl.notice == f"propagated {CLIP_FRAMES} frames"
            assert sorted({r.frame for r in store.results(obj_id=1)}) == list(range(CLIP_FRAMES))
            assert all(r.model for r in store.results())
            # Absent: an empty mask prompt SAM 2 takes as a conditioning frame, kept empty by re-tracking.
            await pilot.press("right", "right", "right", "a")
            await settle(pilot, lambda: not app.engine.busy and ctl.result(3, 1).is_empty, timeout=120)
            await pilot.press("r")
            await settle(pilot, lambda: not ctl.busy and not app.engine.busy, timeout=240)
            assert ctl.result(3, 1).is_empty and ctl.lane(1).labels[3] is LabelState.ABSENT
            assert ctl.stale_count() == 0
            await pilot.press("q")
            await settle(pilot, lambda: not app.is_running, timeout=120)
        assert app.return_code == 0


async def test_lock_and_identity_edits_with_sam2(
    clip_folder: Path, random_checkpoint: Path, tmp_path: Path
) -> None:
    """A locked object's masks survive a full re-propagation by SAM 2; a swap, a merge (with its union mask
    prompt) and a split are replayed into SAM 2 without an engine error, and undo brings the objects back."""
    spec = ModelSpec(TINY, random_checkpoint, "cpu", TEST_IMAGE_SIZE)
    session = tmp_path / "clip.sam2tui"
    with VideoSource.open(clip_folder) as video, SessionStore.open(session, video.fingerprint()) as store:
        app = Sam2TuiApp(video, store, tracker_factory=sam2_tracker, model=spec)
        async with app.run_test(size=(100, 32)) as pilot:
            ctl = app.controller
            canvas = app.annotate.canvas

            async def idle() -> None:
                await pilot.pause(0.05)
                await settle(pilot, lambda: not ctl.busy and not app.engine.busy, timeout=240)

            await settle(pilot, lambda: ctl.model.ready or bool(ctl.model.error), timeout=240)
            assert ctl.model.ready, ctl.model.error
            await pilot.click(canvas, offset=(20, 12))
            ctl.new_object("two", "object")
            await pilot.click(canvas, offset=(45, 12))
            await idle()
            await pilot.press("p")
            await idle()
            await pilot.press("1", "ctrl+l")
            kept = store.results(obj_id=1)
            ctl.propagate(everything=True)
            await idle()
            assert store.results(obj_id=1) == kept and len(store.results(obj_id=2)) == CLIP_FRAMES
            await pilot.press("ctrl+l")
            ctl.seek(2)
            for edit in (lambda: ctl.swap_objects(2), lambda: ctl.merge_objects(2), ctl.split_object):
                if ctl.object(1) is not None:  # after the merge only object 2 is left: it is split
                    ctl.select(1)
                assert edit(), ctl.notice
                await idle()
                assert not ctl.notice.startswith("engine:"), ctl.notice
            assert [o.obj_id for o in ctl.objects()] == [2, 3]
            for _ in range(3):
                assert ctl.undo(), ctl.notice
                await idle()
                assert not ctl.notice.startswith("engine:"), ctl.notice
            assert [o.obj_id for o in ctl.objects()] == [1, 2]
            assert sorted({r.frame for r in store.results(obj_id=1)}) == list(range(CLIP_FRAMES))
            await pilot.press("q")
