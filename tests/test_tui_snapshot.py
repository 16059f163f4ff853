"""Snapshot of the half-block screen: a fixed clip, size and script, so the SVG is the same on every run.

Update after an intended change with `pytest tests/test_tui_snapshot.py --snapshot-update` and look at the
report pytest-textual-snapshot writes on failure.
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures_tui import app_rig, idle, settle
from tests.scripted_tracker import ScriptedTracker

LOST, DOUBTFUL = 12, 15


def test_annotate_screen_after_propagation_on_a_lost_frame(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rig = app_rig(tmp_path, ScriptedTracker(lost=[LOST], doubtful=[DOUBTFUL]))

    async def script(pilot) -> None:  # type: ignore[no-untyped-def]
        canvas = rig.app.annotate.canvas
        await settle(pilot, lambda: canvas.frame_index == 0 and rig.app.controller.model.ready)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("n")
        await pilot.press(*"car", "enter", "enter")
        await pilot.click(canvas, offset=(48, 14), button=3)
        await pilot.mouse_down(canvas, offset=(44, 10))
        await pilot.hover(canvas, offset=(54, 16))
        await pilot.mouse_up(canvas, offset=(54, 16))
        await idle(pilot, rig)
        await pilot.press("1", "p")
        await idle(pilot, rig)
        await pilot.press("]")
        await settle(pilot, lambda: canvas.frame_index == LOST)
        await pilot.hover(canvas, offset=(36, 12))
        await pilot.pause(0.1)

    try:
        assert snap_compare(rig.app, terminal_size=(100, 32), run_before=script)
    finally:
        rig.close()
