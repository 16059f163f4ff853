"""Snapshot of the half-block screen: a fixed clip, size and script, so the SVG is the same on every run.

Update after an intended change with `pytest tests/test_tui_snapshot.py --snapshot-update` and look at the
report pytest-textual-snapshot writes on failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from sam2tui.tui.screens.export import ExportScreen
from sam2tui.tui.screens.help import HelpScreen
from tests.fixtures_tui import AppRig, app_rig, click_object, idle, ready, settle
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


# ---- dialogs, pointer mode and the too-small screen ----
# The app runs from the test folder on the relative path `clip`, so the paths it shows (the export folder
# `clip_export`) are the same on every run.

SnapCompare = Callable[..., bool]  # pytest-textual-snapshot's fixture


def cwd_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppRig:
    monkeypatch.chdir(tmp_path)
    return app_rig(Path("."), ScriptedTracker(lost=[LOST], doubtful=[DOUBTFUL]))


def shows(
    snap_compare: SnapCompare,
    rig: AppRig,
    script: Callable[[Pilot[None]], Awaitable[None]],
    size: tuple[int, int] = (100, 32),
) -> bool:
    """Whether the screen after `script` matches the stored snapshot; the rig is closed either way."""
    try:
        return snap_compare(rig.app, terminal_size=size, run_before=script)
    finally:
        rig.close()


def test_export_dialog_after_propagation(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = cwd_rig(tmp_path, monkeypatch)

    async def script(pilot: Pilot[None]) -> None:
        await click_object(pilot, rig)
        await pilot.press("p")
        await idle(pilot, rig)
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(rig.app.screen, ExportScreen))
        await pilot.pause(0.1)

    assert shows(snap_compare, rig, script)


def test_help_screen(snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = cwd_rig(tmp_path, monkeypatch)

    async def script(pilot: Pilot[None]) -> None:
        await ready(pilot, rig)
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(rig.app.screen, HelpScreen))
        await pilot.pause(0.1)

    assert shows(snap_compare, rig, script)


def test_pointer_mode_crosshair_moved_by_keys(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = cwd_rig(tmp_path, monkeypatch)

    async def script(pilot: Pilot[None]) -> None:
        canvas = await click_object(pilot, rig)
        await pilot.press("v")
        await pilot.press("L", "L", "J", "right")  # 8 px jumps right and down, then one pixel
        await settle(pilot, lambda: canvas.crosshair is not None)
        await pilot.pause(0.1)

    assert shows(snap_compare, rig, script)


def test_too_small_terminal(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = cwd_rig(tmp_path, monkeypatch)

    async def script(pilot: Pilot[None]) -> None:
        await ready(pilot, rig)
        await pilot.pause(0.1)

    assert shows(snap_compare, rig, script, size=(60, 20))
