"""The app under Pilot with a scripted tracker: clicks, keys, propagation, review, undo, export, quit."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Input

from sam2tui import masks
from sam2tui.engine.worker import EngineWorker
from sam2tui.errors import EngineError
from sam2tui.session.review import FrameState
from sam2tui.session.store import SessionStore
from sam2tui.tui.screens.absent import AbsentRangeScreen
from sam2tui.tui.screens.annotate import AnnotateScreen
from sam2tui.tui.screens.export import ExportScreen
from sam2tui.tui.screens.help import HelpScreen
from sam2tui.tui.screens.new_object import ObjectScreen
from sam2tui.tui.screens.pick_object import PickObjectScreen
from sam2tui.tui.settings import Settings
from sam2tui.tui.widgets.frame_canvas import FrameCanvas, canvas_point
from sam2tui.tui.widgets.objects_panel import ObjectsPanel
from sam2tui.tui.widgets.timeline import LABEL_WIDTH, Timeline, cursor_cells
from sam2tui.values import NEGATIVE, POSITIVE, Direction, LabelState, PromptKind
from tests.fixtures_tui import CLIP_FRAMES, AppRig, app_rig, idle, screen_text, settle
from tests.scripted_tracker import ScriptedTracker

SIZE = (100, 32)
LOST, DOUBTFUL = 12, 15


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[AppRig]:
    made = app_rig(tmp_path, ScriptedTracker(lost=[LOST], doubtful=[DOUBTFUL]))
    yield made
    made.close()


def expected_pixel(canvas: FrameCanvas, cell: tuple[int, int]) -> tuple[float, float] | None:
    """Where a click on a cell of the canvas lands in the video (no pixel-precise mouse in Pilot)."""
    assert canvas.viewport is not None
    return canvas.viewport.to_frame(*canvas_point(cell[0], cell[1], precise=False))


async def ready(pilot, rig: AppRig) -> FrameCanvas:  # type: ignore[no-untyped-def]
    canvas = rig.app.annotate.canvas
    await settle(pilot, lambda: canvas.frame_index == 0 and rig.app.controller.model.ready)
    return canvas


async def test_click_gives_a_prompt_at_the_video_pixel_and_letterbox_clicks_are_ignored(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        assert expected_pixel(canvas, (30, 1)) is None  # the wide clip leaves letterbox rows at the top
        await pilot.click(canvas, offset=(30, 1))
        await pilot.pause(0.1)
        assert rig.store.prompts() == []
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        [prompt] = rig.store.prompts()
        assert (prompt.frame, prompt.obj_id, prompt.kind) == (0, 1, PromptKind.POINT)
        assert prompt.point == pytest.approx(expected_pixel(canvas, (30, 12)))
        assert prompt.label == POSITIVE
        assert rig.app.controller.result(0, 1) is not None  # the mask came back from the engine
        assert "1: object 1" in screen_text(rig.app)


async def test_right_click_and_t_give_negative_points(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await pilot.click(canvas, offset=(34, 12), button=3)
        await pilot.press("t")
        await pilot.click(canvas, offset=(38, 12))
        await pilot.press("t")
        await pilot.click(canvas, offset=(40, 12))
        await idle(pilot, rig)
        assert [p.label for p in rig.store.prompts()] == [POSITIVE, NEGATIVE, NEGATIVE, POSITIVE]


async def test_drag_gives_a_box(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.mouse_down(canvas, offset=(20, 8))
        await pilot.hover(canvas, offset=(30, 14))
        await pilot.mouse_up(canvas, offset=(30, 14))
        await idle(pilot, rig)
        [prompt] = rig.store.prompts()
        assert prompt.kind is PromptKind.BOX
        x0, y0 = expected_pixel(canvas, (20, 8))
        x1, y1 = expected_pixel(canvas, (30, 14))
        assert prompt.box == pytest.approx((x0, y0, x1, y1))


async def test_keyboard_pointer_places_points_and_boxes_without_a_mouse(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        view = rig.app.controller.view
        await pilot.press("v")
        start = canvas.crosshair
        assert start is not None
        await pilot.press("right", "l", "down")  # the pointer moves; the frame does not
        assert view.frame == 0
        x, y = canvas.crosshair
        assert canvas.viewport is not None
        assert canvas.viewport.to_canvas(x, y) == pytest.approx(
            (canvas.viewport.to_canvas(*start)[0] + 2, canvas.viewport.to_canvas(*start)[1] + 1)
        )
        assert view.pointer == (int(x), int(y))
        assert f"x {int(x)} y {int(y)}" in screen_text(rig.app)
        await pilot.press("enter", "h", "backspace")
        await idle(pilot, rig)
        await pilot.press("B", "J", "L", "B")
        await idle(pilot, rig)
        points = rig.store.prompts()
        assert [(p.kind, p.label) for p in points[:2]] == [
            (PromptKind.POINT, POSITIVE),
            (PromptKind.POINT, NEGATIVE),
        ]
        assert points[0].point == pytest.approx((x, y))
        assert points[2].kind is PromptKind.BOX and points[2].box[2:] == pytest.approx(canvas.crosshair)
        assert "Point" in screen_text(rig.app)  # the footer shows the pointer's keys
        await pilot.press("escape", "right")  # pointer off: arrows step through frames again
        assert canvas.crosshair is None and view.frame == 1


async def test_digits_and_n_switch_objects(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(rig.app.screen, ObjectScreen))
        assert rig.app.screen.query_one("#object-class", Input).value == "object"  # the previous class
        await pilot.press(*"dog")
        class_input = rig.app.screen.query_one("#object-class", Input)
        class_input.value = "animal"
        await pilot.press("enter")  # in the name field: it saves, but "animal" is a new class
        assert isinstance(rig.app.screen, ObjectScreen) and "not in the class list" in screen_text(rig.app)
        await pilot.press("enter")  # the second enter creates it
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        ctl = rig.app.controller
        assert [(o.obj_id, o.name, o.class_name) for o in ctl.objects()] == [
            (1, "object 1", "object"),
            (2, "dog", "animal"),
        ]
        assert ctl.view.selected == 2
        await pilot.click(canvas, offset=(50, 12))
        await pilot.press("1")
        assert ctl.view.selected == 1
        await pilot.press("9")
        assert ctl.view.selected == 1 and "no object 9" in ctl.notice
        await idle(pilot, rig)
        assert {(p.obj_id) for p in rig.store.prompts()} == {1, 2}
        assert "▶ 1" in screen_text(rig.app)


async def test_long_object_names_keep_one_line_per_object(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await ready(pilot, rig)
        ctl = rig.app.controller
        ctl.new_object("a rather long object name", "with a long class")
        ctl.new_object("second", "thing")
        ctl.select(1)
        rig.app.annotate.sync()
        await pilot.pause()
        panel = rig.app.annotate.query_one(ObjectsPanel)
        lines = screen_text(rig.app).splitlines()
        first = next(row for row, line in enumerate(lines) if "a rather" in line)
        assert "second" in lines[first + 1]  # the long name is cut short, not wrapped
        await pilot.click(panel, offset=(4, 2))  # the border, object 1's line, object 2's line
        assert ctl.view.selected == 2


async def test_propagation_streams_onto_timeline_and_canvas(rig: AppRig) -> None:
    rig.tracker.delay = 0.05
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        shown: list[int] = []
        show = canvas.show

        def record(index, image, overlay):  # type: ignore[no-untyped-def]
            shown.append(index)
            show(index, image, overlay)

        canvas.show = record  # type: ignore[method-assign]
        await pilot.press("p")
        await idle(pilot, rig)
        assert len(set(shown)) >= 3  # the canvas followed the propagation
        await pilot.pause(0.2)
        ctl = rig.app.controller
        assert "propagated 20 frames" in ctl.notice
        assert ctl.view.frame == 0 and canvas.frame_index == 0  # back where it started
        timeline = rig.app.annotate.query_one(Timeline)
        lane = timeline.visible_lanes()[0].lane
        assert lane.states[LOST] is FrameState.LOST and lane.states[3] is FrameState.PRESENT
        text = screen_text(rig.app)
        assert "✕" in text and "?" in text and "◆" in text


async def test_escape_cancels_and_keeps_finished_frames(rig: AppRig) -> None:
    rig.tracker.hold_at = 5  # the propagation waits before frame 5 until the gate opens
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("p")
        await settle(pilot, rig.tracker.holding.is_set)
        await pilot.pause(0.2)
        assert "propagating" in screen_text(rig.app)
        await pilot.click(canvas, offset=(40, 12))  # refused while propagating
        assert "cannot prompt while propagating" in rig.app.controller.notice
        await pilot.press("v", "escape")  # the first escape leaves pointer mode ...
        assert canvas.crosshair is None and rig.app.controller.busy
        await pilot.press("escape")  # ... the next one cancels
        rig.tracker.gate.set()
        await idle(pilot, rig)
        assert sorted(r.frame for r in rig.store.results()) == [0, 1, 2, 3, 4]
        assert len(rig.store.prompts()) == 1
        assert "cancelled" in rig.app.controller.notice


async def test_review_keys_land_on_flagged_frames_and_say_why(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("p")
        await idle(pilot, rig)
        await pilot.press("]")
        assert rig.app.controller.view.frame == LOST
        await settle(pilot, lambda: canvas.frame_index == LOST)
        assert "lost (score -3.0)" in screen_text(rig.app)
        await pilot.press("]")
        assert rig.app.controller.view.frame == DOUBTFUL
        await pilot.press("[")
        assert rig.app.controller.view.frame == LOST
        await pilot.press("}")
        assert rig.app.controller.view.frame == DOUBTFUL
        await pilot.press("{")
        assert rig.app.controller.view.frame == LOST


async def test_navigation_keys_and_timeline_click(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await ready(pilot, rig)
        view = rig.app.controller.view
        await pilot.press("right", "l")
        assert view.frame == 2
        await pilot.press("L")
        assert view.frame == 12
        await pilot.press("h", "pageup")
        assert view.frame == 1
        await pilot.press("end")
        assert view.frame == CLIP_FRAMES - 1
        await pilot.press("home")
        assert view.frame == 0
        await pilot.press("g")
        await pilot.press("backspace", *"7", "enter")
        assert view.frame == 7
        timeline = rig.app.annotate.query_one(Timeline)
        column = cursor_cells(5, CLIP_FRAMES, timeline.cells).start
        await pilot.click(timeline, offset=(LABEL_WIDTH + column, 1))
        assert view.frame == 5
        await settle(pilot, lambda: rig.app.annotate.canvas.frame_index == 5)


async def test_undo_and_redo_restore_prompts_and_results(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        first = rig.app.controller.result(0, 1)
        await pilot.click(canvas, offset=(44, 12))
        await idle(pilot, rig)
        second = rig.app.controller.result(0, 1)
        assert second != first
        await pilot.press("u")
        await idle(pilot, rig)
        assert len(rig.store.prompts()) == 1
        assert rig.app.controller.result(0, 1) == first
        await pilot.press("ctrl+r")
        await idle(pilot, rig)
        assert len(rig.store.prompts()) == 2
        assert rig.app.controller.result(0, 1) == second
        await pilot.press("ctrl+z", "ctrl+z")
        await idle(pilot, rig)
        assert rig.store.prompts() == [] and rig.store.results() == []
        await pilot.press("ctrl+y")
        await idle(pilot, rig)
        assert rig.store.results(frame=0)[0] == first


async def test_undo_after_a_propagation_shows_its_frames_stale(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("p")
        await idle(pilot, rig)
        assert "stale" not in screen_text(rig.app)
        await pilot.press("u")  # the only prompt goes: what was tracked from it no longer follows
        await idle(pilot, rig)
        await pilot.pause(0.2)
        lane = rig.app.annotate.query_one(Timeline).visible_lanes()[0].lane
        assert lane.labels[1:] == [LabelState.STALE] * (CLIP_FRAMES - 1)
        text = screen_text(rig.app)
        assert f"{CLIP_FRAMES - 1} stale" in text and "▒" in text


async def test_engine_events_reach_the_annotate_screen_under_a_dialog(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await ready(pilot, rig)
        ctl = rig.app.controller
        ctl.click(45, 40)
        await idle(pilot, rig)
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(rig.app.screen, HelpScreen))
        assert ctl.propagate(Direction.BOTH)  # the events go to the screen below the help dialog
        await settle(pilot, lambda: not ctl.busy)
        assert all(ctl.result(frame, 1) is not None for frame in range(CLIP_FRAMES))


async def test_remove_object_asks_first(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("x", "n")
        assert len(rig.app.controller.objects()) == 1
        await pilot.press("x", "y")
        await idle(pilot, rig)
        assert rig.app.controller.objects() == [] and rig.store.results() == []
        await pilot.press("u")
        await idle(pilot, rig)
        assert len(rig.store.results()) == 1


async def test_toggles_hide_layers(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await ready(pilot, rig)
        view = rig.app.controller.view
        await pilot.press("m", "b", "full_stop")
        assert (view.show_masks, view.show_boxes, view.show_points) == (False, False, False)
        await pilot.press("m")
        assert view.show_masks


async def test_export_writes_files_pycocotools_reads(rig: AppRig, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    async with rig.app.run_test(size=(110, 40)) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 14))
        await idle(pilot, rig)
        await pilot.press("p")
        await idle(pilot, rig)
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(rig.app.screen, ExportScreen))
        dialog = rig.app.screen
        assert dialog.query_one("#export-folder", Input).value == str(tmp_path / "clip_export")
        dialog.query_one("#export-folder", Input).value = str(out)
        await pilot.click("#format-mot")
        await pilot.click("#export")
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        assert "exported" in rig.app.controller.notice
    coco = COCO(str(out / "coco.json"))
    assert len(coco.getImgIds()) == CLIP_FRAMES
    annotations = coco.loadAnns(coco.getAnnIds())
    assert len(annotations) == CLIP_FRAMES - 1  # frame LOST has an empty mask
    assert all(coco.annToMask(a).sum() == a["area"] > 0 for a in annotations)
    assert (out / "mot" / "gt" / "gt.txt").is_file()


async def test_a_quit_signal_during_an_export_quits_once_it_is_written(rig: AppRig) -> None:
    """q during an export says to wait; a SIGHUP or SIGTERM has nobody to say it to, so it waits itself."""
    async with rig.app.run_test(size=(110, 40)) as pilot:
        await ready(pilot, rig)
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(rig.app.screen, ExportScreen))
        dialog = rig.app.screen
        assert isinstance(dialog, ExportScreen)
        dialog.running = True  # as while its worker writes the files
        rig.app._terminal_gone(signal.SIGTERM)
        await pilot.pause(1.2)
        assert rig.app.is_running
        dialog.running = False  # written
        await settle(pilot, lambda: not rig.app.is_running)
    assert rig.app.return_code == 0


async def test_help_lists_every_binding(rig: AppRig) -> None:
    async with rig.app.run_test(size=(110, 50)) as pilot:
        await ready(pilot, rig)
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(rig.app.screen, HelpScreen))
        table = rig.app.screen.query_one(DataTable)
        ids = {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        expected = {b.id for b in AnnotateScreen.BINDINGS} | {b.id for b in FrameCanvas.BINDINGS}
        assert expected | {"app.quit", "app.help"} <= ids
        rows = {str(table.get_row_at(i)[2]): str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        # Pointer-mode keys are listed while pointer mode is off, beside the frame keys they shadow then.
        assert rows["canvas.pointer"] == "v" and rows["canvas.pointer_point"] == "⏎"
        assert rows["canvas.pointer_left"] == rows["annotate.previous-frame"]
        await pilot.press("escape")
        assert isinstance(rig.app.screen, AnnotateScreen)


async def test_command_palette_runs_actions(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("ctrl+p")
        await pilot.press(*"propagate both")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot, lambda: len(rig.store.results()) == CLIP_FRAMES)


async def test_keymap_from_settings_remaps_a_binding(tmp_path: Path) -> None:
    rig = app_rig(tmp_path, settings=Settings(keys={"annotate.next-frame": "k"}))
    try:
        async with rig.app.run_test(size=SIZE) as pilot:
            await ready(pilot, rig)
            await pilot.press("k")
            assert rig.app.controller.view.frame == 1
            await pilot.press("right")
            assert rig.app.controller.view.frame == 1  # the override replaces the default keys
    finally:
        rig.close()


async def test_mask_opacity_setting_reaches_the_picture(tmp_path: Path) -> None:
    rig = app_rig(tmp_path, settings=Settings(mask_opacity=0.9))
    try:
        async with rig.app.run_test(size=SIZE) as pilot:
            canvas = await ready(pilot, rig)
            await pilot.click(canvas, offset=(30, 12))
            await idle(pilot, rig)
            assert canvas._overlay.mask_alpha == 0.9 and len(canvas._overlay.masks) == 1
    finally:
        rig.close()


async def test_too_small_terminal_says_the_minimum(rig: AppRig) -> None:
    async with rig.app.run_test(size=(60, 20)) as pilot:
        await pilot.pause(0.2)
        assert "at least 80x24" in screen_text(rig.app)


async def test_quit_stops_the_engine_and_leaves_the_session_complete(rig: AppRig, tmp_path: Path) -> None:
    rig.tracker.delay = 0.02
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("p")
        await idle(pilot, rig)
        await pilot.press("q")
        await settle(pilot, lambda: not rig.app.is_running)
    assert rig.app.return_code == 0
    assert not rig.app.engine.busy
    rig.store.close()
    with SessionStore.open(tmp_path / "clip.sam2tui", rig.video.fingerprint()) as again:
        assert len(again.prompts()) == 1
        assert len(again.results()) == CLIP_FRAMES


async def test_q_with_stale_frames_says_how_many_and_they_wait_for_r_next_time(tmp_path: Path) -> None:
    first = app_rig(tmp_path)
    async with first.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, first)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, first)
        await pilot.press("p")
        await idle(pilot, first)
        await pilot.press("g", "backspace", "5", "enter")
        await pilot.click(canvas, offset=(34, 12))  # a correction on frame 5: frames 1-4 and 6-19 are stale
        await idle(pilot, first)
        await pilot.pause(0.2)
        text = screen_text(first.app)
        assert "18 stale" in text and "▒" in text
        assert "r re-propagate" in text  # the hint, cut to the terminal's width
        await pilot.press("q")
        await settle(pilot, lambda: not first.app.is_running)
    assert (
        first.app.farewell
        == "saved: 18 stale frames in 1 pending correction - r re-propagates them next time"
    )
    first.close()
    again = app_rig(tmp_path)
    try:
        async with again.app.run_test(size=SIZE) as pilot:
            canvas = again.app.annotate.canvas
            # back on frame 5, where the user left off
            await settle(pilot, lambda: canvas.frame_index == 5 and again.app.controller.model.ready)
            await idle(pilot, again)
            assert again.app.controller.stale_count() == 18
            await pilot.press("r")
            await idle(pilot, again)
            await pilot.pause(0.2)
            assert again.app.controller.stale_count() == 0 and again.store.pending_corrections() == []
            assert "stale" not in screen_text(again.app)
            await pilot.press("q")
            await settle(pilot, lambda: not again.app.is_running)
        assert again.app.farewell == ""
    finally:
        again.close()


class LoopLag:
    """The longest stretch the UI's event loop could not run: wall time (what a user feels, including time
    the OS gave the CPU to other processes) and the UI thread's own CPU time (what our code costs)."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst_wall = 0.0
        self.worst_cpu = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            wall, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.period)
            self.worst_wall = max(self.worst_wall, time.perf_counter() - wall - self.period)
            self.worst_cpu = max(self.worst_cpu, time.thread_time() - cpu)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_the_ui_thread_never_blocks_long(rig: AppRig, record_property: pytest.RecordProperty) -> None:
    rig.tracker.delay = 0.01
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.pause(0.2)
        with LoopLag() as lag:
            for column in (30, 34, 38):
                await pilot.click(canvas, offset=(column, 12))
            await idle(pilot, rig)
            await pilot.press("p")
            await idle(pilot, rig)
            for _ in range(CLIP_FRAMES):  # scrub through every frame
                await pilot.press("right")
            await pilot.press("]", "[", "u", "ctrl+r")
            await idle(pilot, rig)
        record_property("ui_loop_max_lag_ms", round(lag.worst_wall * 1000, 1))
        record_property("ui_loop_max_cpu_ms", round(lag.worst_cpu * 1000, 1))
        print(
            f"UI loop: longest stall {lag.worst_wall * 1000:.1f} ms wall, {lag.worst_cpu * 1000:.1f} ms CPU"
        )
        # CPU time is what our callbacks cost; wall time also counts other processes on a shared machine.
        assert lag.worst_cpu < 0.25


async def test_space_plays_to_the_end_and_pauses(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await ready(pilot, rig)
        view = rig.app.controller.view
        await pilot.press("space")
        await settle(pilot, lambda: view.frame == CLIP_FRAMES - 1 and not view.playing)
        await settle(pilot, lambda: rig.app.annotate.canvas.frame_index == CLIP_FRAMES - 1)
        rig.app.annotate.action_play()  # from the end it starts again at frame 0
        assert view.playing and view.frame == 0
        rig.app.annotate.action_play()
        assert not view.playing
        stopped = view.frame
        await pilot.pause(0.2)
        assert view.frame == stopped


async def test_a_resumed_session_shows_its_objects_and_replays_prompts(tmp_path: Path) -> None:
    first = app_rig(tmp_path)
    async with first.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, first)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, first)
        await pilot.press("p")
        await idle(pilot, first)
        await pilot.press("q")
        await settle(pilot, lambda: not first.app.is_running)
    first.close()
    again = app_rig(tmp_path)
    try:
        async with again.app.run_test(size=SIZE) as pilot:
            await ready(pilot, again)
            await idle(pilot, again)
            # the video opened, then Replay: a fresh start and the stored prompt
            assert [call[0] for call in again.tracker.calls] == ["start", "start", "set_prompt"]
            lane = again.app.controller.lane(1)
            assert lane.prompted == {0} and all(s is FrameState.PRESENT for s in lane.states)
            assert "1: object 1" in screen_text(again.app)
    finally:
        again.close()


async def test_an_engine_failure_is_shown_not_raised(tmp_path: Path) -> None:
    def broken(spec, progress):  # type: ignore[no-untyped-def]
        raise EngineError("no CUDA device; try --device cpu")

    rig = app_rig(tmp_path)
    rig.app.engine = EngineWorker(broken, rig.store, rig.app._engine_event)
    rig.app.controller.engine = rig.app.engine
    try:
        async with rig.app.run_test(size=(120, 32)) as pilot:
            await settle(pilot, lambda: bool(rig.app.controller.model.error))
            await pilot.pause(0.1)
            assert "engine failed: no CUDA device; try --device cpu" in screen_text(rig.app)
    finally:
        rig.close()


async def test_unknown_keymap_ids_are_reported(tmp_path: Path) -> None:
    rig = app_rig(tmp_path, settings=Settings(keys={"annotate.fly": "z"}))
    try:
        async with rig.app.run_test(size=SIZE) as pilot:
            await ready(pilot, rig)
            messages = [n.message for n in rig.app._notifications]
            assert any("annotate.fly" in m for m in messages)
    finally:
        rig.close()


async def test_rename_set_class_and_double_click_in_the_objects_list(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        rig.store.add_classes(["person", "dog"])
        await pilot.click(canvas, offset=(30, 12))
        ctl = rig.app.controller
        assert "R renames it" in screen_text(rig.app)  # the first click's hint
        await pilot.press("R")
        await settle(pilot, lambda: isinstance(rig.app.screen, ObjectScreen))
        name = rig.app.screen.query_one("#object-name", Input)
        assert name.has_focus and name.value == "object 1"
        name.value = "rex"
        rig.app.screen.query_one("#object-class", Input).value = "do"
        await pilot.press("enter")  # "do" is no class: asked first, and escape cancels it all
        assert isinstance(rig.app.screen, ObjectScreen)
        await pilot.press("escape")
        assert isinstance(rig.app.screen, AnnotateScreen) and ctl.object(1).name == "object 1"
        await pilot.press("C")
        await settle(pilot, lambda: isinstance(rig.app.screen, ObjectScreen))
        field = rig.app.screen.query_one("#object-class", Input)
        assert field.has_focus
        field.value = ""
        await pilot.press(*"DO", "right")  # the class field completes from the class list
        assert field.value == "dog"
        await pilot.press("enter")  # a known class, whatever its case: saved at once
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        assert (ctl.object(1).name, ctl.object(1).class_name) == ("object 1", "dog")
        panel = rig.app.annotate.query_one(ObjectsPanel)
        await pilot.click(panel, offset=(4, 1), times=2)
        await settle(pilot, lambda: isinstance(rig.app.screen, ObjectScreen))
        await pilot.press(*"rex the great", "enter")  # typing replaces the old name, selected
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        assert ctl.object(1).name == "rex the great"
        assert "rex the great" in screen_text(rig.app)
        await pilot.press("u")
        assert ctl.object(1).name == "object 1" and ctl.object(1).class_name == "dog"


async def test_absent_keys_mark_this_frame_or_a_range(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        ctl = rig.app.controller
        await pilot.press("right", "a")
        await idle(pilot, rig)
        assert ctl.lane(1).labels[1] is LabelState.ABSENT
        await pilot.press("right", "A")
        await settle(pilot, lambda: isinstance(rig.app.screen, AbsentRangeScreen))
        field = rig.app.screen.query_one(Input)
        assert field.value == str(CLIP_FRAMES - 2)  # no later prompt: up to the end
        field.value = "3"
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        await idle(pilot, rig)
        absent = [f for f in range(CLIP_FRAMES) if ctl.lane(1).labels[f] is LabelState.ABSENT]
        assert absent == [1, 2, 3, 4] and "absent on frames 2-4" in screen_text(rig.app)
        await pilot.press("u")
        await idle(pilot, rig)
        assert rig.store.prompted_frames(1) == [0, 1]


async def test_flag_keys_step_through_a_run_and_jump_runs(tmp_path: Path) -> None:
    rig = app_rig(tmp_path, ScriptedTracker(doubtful=[5, 6, 7, 15]))
    try:
        async with rig.app.run_test(size=SIZE) as pilot:
            canvas = await ready(pilot, rig)
            await pilot.click(canvas, offset=(30, 12))
            await idle(pilot, rig)
            await pilot.press("p")
            await idle(pilot, rig)
            view = rig.app.controller.view
            seen = []
            for _ in range(4):
                await pilot.press("]")
                seen.append(view.frame)
            assert seen == [5, 6, 7, 15]
            await pilot.press("]")
            assert "no later flagged frame" in screen_text(rig.app)
            await pilot.press("[")
            assert view.frame == 7 and "no later" not in screen_text(rig.app)  # the notice cleared
            await pilot.press("(")
            assert view.frame == 5
            await pilot.press(")")
            assert view.frame == 15
    finally:
        rig.close()


async def test_help_has_a_legend_of_the_lane_marks_and_home_end_go_to_its_ends(rig: AppRig) -> None:
    async with rig.app.run_test(size=(110, 40)) as pilot:
        await ready(pilot, rig)
        await pilot.press("question_mark")
        await settle(pilot, lambda: isinstance(rig.app.screen, HelpScreen))
        table = rig.app.screen.query_one(DataTable)
        legend = {
            str(table.get_row_at(i)[0])
            for i in range(table.row_count)
            if table.get_row_at(i)[2] == "lane mark"
        }
        assert legend == {"◆", "◇", "█", "?", "✕", "▒", "·", "▼"}
        await pilot.press("end")
        await pilot.pause(0.2)
        assert isinstance(rig.app.screen, HelpScreen)
        assert table.cursor_row == table.row_count - 1 and table.scroll_x == 0
        assert table.max_scroll_y > 0 and table.scroll_y == table.max_scroll_y  # the last rows shown
        await pilot.press("home")
        await pilot.pause(0.2)
        assert table.cursor_row == 0 and table.scroll_y == 0


async def test_the_palette_offers_only_sam2tuis_actions(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await ready(pilot, rig)
        await pilot.press("ctrl+p")
        await settle(pilot, lambda: isinstance(rig.app.screen, CommandPalette))
        found = rig.app.screen.query_one(CommandList)

        async def hits(query: str) -> list[str]:
            rig.app.screen.query_one(Input).value = query
            await pilot.pause(0.5)
            return [str(found.get_option_at_index(i).prompt) for i in range(found.option_count)]

        assert any("Rename the selected object" in hit for hit in await hits("rename"))
        for generic in ("screenshot", "maximize", "theme"):
            assert not any(generic in hit.lower() for hit in await hits(generic))


async def test_a_reopened_session_starts_where_the_user_left_off(tmp_path: Path) -> None:
    first = app_rig(tmp_path)
    async with first.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, first)
        await pilot.click(canvas, offset=(30, 12))
        first.app.controller.new_object("second", "object")
        await pilot.press("1", *["right"] * 7, "plus", "plus")
        await settle(pilot, lambda: canvas.frame_index == 7)
        zoom = canvas.viewport.zoom
        center = canvas.viewport.center
        assert zoom > 1
        await pilot.press("q")
        await settle(pilot, lambda: not first.app.is_running)
    first.close()
    again = app_rig(tmp_path)
    try:
        async with again.app.run_test(size=SIZE) as pilot:
            canvas = again.app.annotate.canvas
            await settle(pilot, lambda: canvas.frame_index == 7 and canvas.viewport is not None)
            await pilot.pause(0.1)
            ctl = again.app.controller
            assert (ctl.view.frame, ctl.view.selected) == (7, 1)
            assert (canvas.viewport.zoom, canvas.viewport.center) == (zoom, center)
    finally:
        again.close()


async def test_the_rename_hint_names_the_key_settings_bind(tmp_path: Path) -> None:
    rig = app_rig(tmp_path, settings=Settings(keys={"annotate.rename_object": "N,f2"}))
    try:
        async with rig.app.run_test(size=SIZE) as pilot:
            canvas = await ready(pilot, rig)
            await pilot.click(canvas, offset=(30, 12))
            assert rig.app.controller.notice.endswith("- N renames it")
    finally:
        rig.close()


async def test_the_progress_row_shows_the_percentage_whole_and_apart_from_the_text(rig: AppRig) -> None:
    rig.tracker.delay = 0.1
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("p")
        await settle(pilot, lambda: rig.app.controller.propagation.done >= 3)
        await pilot.pause(0.2)
        [row] = [
            line for line in screen_text(rig.app).splitlines() if "propagating" in line and "/20" in line
        ]
        assert re.search(r"\d+% propagating \d+/20 frames", row), row
        await pilot.press("escape")
        await idle(pilot, rig)


# ---- per object: hide, solo, lock; identity edits ----


async def two_clicked_objects(pilot, rig: AppRig) -> FrameCanvas:  # type: ignore[no-untyped-def]
    """Object 1 clicked on the left, object 2 (made with the controller) on the right, propagated."""
    canvas = await ready(pilot, rig)
    await pilot.click(canvas, offset=(20, 12))
    await idle(pilot, rig)
    rig.app.controller.new_object("cup", "cup")
    await pilot.click(canvas, offset=(45, 12))
    await idle(pilot, rig)
    await pilot.press("p")
    await idle(pilot, rig)
    return canvas


def panel_row(rig: AppRig, obj_id: int) -> str:
    return next(line for line in screen_text(rig.app).splitlines() if f" {obj_id} ██" in line)


async def test_o_hides_shift_o_solos_and_ctrl_l_locks_the_selected_object(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await two_clicked_objects(pilot, rig)
        ctl = rig.app.controller
        shown = lambda: sorted(m.obj_id for m in canvas._overlay.masks)  # noqa: E731
        assert shown() == [1, 2]
        await pilot.press("1", "o")
        await settle(pilot, lambda: shown() == [2])
        assert "◌" in panel_row(rig, 1) and "◌" not in panel_row(rig, 2)
        await pilot.press("o", "2", "O")
        await settle(pilot, lambda: shown() == [2])
        assert "◉" in panel_row(rig, 2) and "only object 2 shown" in screen_text(rig.app)
        await pilot.press("O")
        await settle(pilot, lambda: shown() == [1, 2])
        await pilot.press("ctrl+l")
        assert "⊘" in panel_row(rig, 2) and ctl.locked == {2}
        before = rig.store.prompts(obj_id=2)
        await pilot.click(canvas, offset=(47, 14))
        await idle(pilot, rig)
        assert rig.store.prompts(obj_id=2) == before and "object 2 is locked" in screen_text(rig.app)
        await pilot.press("ctrl+l")
        assert "⊘" not in panel_row(rig, 2) and ctl.locked == set()


async def test_shift_s_swaps_with_the_object_picked_in_the_dialog(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await two_clicked_objects(pilot, rig)
        ctl = rig.app.controller
        left = ctl.result(8, 1).box
        await pilot.press("1", "g")
        await settle(pilot, lambda: not isinstance(rig.app.screen, AnnotateScreen))
        rig.app.screen.query_one(Input).value = "6"
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(rig.app.screen, PickObjectScreen))
        assert "Swap object 1 from frame 6 on with" in screen_text(rig.app)
        await pilot.press("enter")  # the first (only) other object: 2
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        await idle(pilot, rig)
        assert ctl.result(8, 2).box == left and "swapped from frame 6" in ctl.notice
        await pilot.press("u")
        await idle(pilot, rig)
        assert ctl.result(8, 1).box == left
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(rig.app.screen, PickObjectScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        assert ctl.result(8, 1).box == left


async def test_shift_m_merges_into_the_picked_object_and_shift_y_splits_here(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        await two_clicked_objects(pilot, rig)
        ctl = rig.app.controller
        await pilot.press("2", "M")
        await settle(pilot, lambda: isinstance(rig.app.screen, PickObjectScreen))
        await pilot.press("1")  # the object's number picks it
        await settle(pilot, lambda: isinstance(rig.app.screen, AnnotateScreen))
        await idle(pilot, rig)
        assert [o.obj_id for o in ctl.objects()] == [1] and ctl.result(8, 1).parts == 2
        assert "merged into object 1" in screen_text(rig.app)
        await pilot.press("M")  # no other object left to merge into
        assert isinstance(rig.app.screen, AnnotateScreen) and "merge needs another object" in ctl.notice
        await pilot.press("L", "Y")  # frame 10 on becomes object 2
        await idle(pilot, rig)
        assert [o.obj_id for o in ctl.objects()] == [1, 2] and ctl.view.selected == 2
        assert ctl.result(9, 1) is not None and ctl.result(10, 1) is None and ctl.result(10, 2) is not None
        assert " 2 ██" in screen_text(rig.app)
        await pilot.press("u", "u")
        await idle(pilot, rig)
        assert [o.obj_id for o in ctl.objects()] == [1, 2] and ctl.result(10, 1) is not None


async def test_point_edit_mode_deletes_a_clicked_point_and_drags_one_and_d_deletes_at_the_pointer(
    rig: AppRig,
) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.click(canvas, offset=(30, 12))
        await pilot.click(canvas, offset=(36, 12), button=3)
        await pilot.click(canvas, offset=(42, 12))
        await idle(pilot, rig)
        await pilot.press("D")
        assert rig.app.controller.tool == "points" and "point editing" in screen_text(rig.app)
        await pilot.click(canvas, offset=(36, 12))  # on the negative point: deleted, not a new point
        await idle(pilot, rig)
        assert [p.label for p in rig.store.prompts()] == [POSITIVE, POSITIVE]
        await pilot.mouse_down(canvas, offset=(42, 12))  # a drag from a point moves it
        await pilot.hover(canvas, offset=(48, 16))
        await pilot.mouse_up(canvas, offset=(48, 16))
        await idle(pilot, rig)
        first, moved = rig.store.prompts()
        assert first.point == pytest.approx(expected_pixel(canvas, (30, 12)))
        assert moved.point == pytest.approx(expected_pixel(canvas, (48, 16)))
        sent = [call[1] for call in rig.tracker.calls if call[0] == "set_prompt"][-1]
        assert [p.point for p in sent.steps] == [first.point, moved.point]  # re-applied in order
        await pilot.press("D", "v")  # back to prompting; the keyboard pointer at the centre
        x, y = canvas.crosshair
        await pilot.press("d")  # the point nearest the pointer
        await idle(pilot, rig)
        [left] = rig.store.prompts()
        nearest = min((first, moved), key=lambda p: (p.point[0] - x) ** 2 + (p.point[1] - y) ** 2)
        assert left != nearest
        await pilot.press("u", "u", "u")  # each edit is one undo step
        assert [p.label for p in rig.store.prompts()] == [POSITIVE, NEGATIVE, POSITIVE]


async def test_brush_and_eraser_strokes_zoomed_and_with_the_keyboard_pointer(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        ctl = rig.app.controller
        await pilot.click(canvas, offset=(30, 12))
        await idle(pilot, rig)
        await pilot.press("w", "greater_than_sign")
        assert ctl.tool == "brush" and "brush radius" in screen_text(rig.app)
        await pilot.hover(canvas, offset=(20, 8))
        assert canvas._effective_overlay().brush is not None  # the brush is shown where it paints
        await pilot.mouse_down(canvas, offset=(20, 8))
        await pilot.hover(canvas, offset=(24, 8))
        assert len(rig.store.prompts()) == 1 and ctl.stroke is not None  # saved only on release
        await pilot.mouse_up(canvas, offset=(24, 8))
        await idle(pilot, rig)
        painted = rig.store.prompts()[-1]
        assert painted.kind is PromptKind.MASK and "painted object 1" in screen_text(rig.app)
        mask = masks.decode(painted.mask)
        for cell in ((20, 8), (22, 8), (24, 8), (30, 12)):  # the stroke, and the mask it started from
            x, y = expected_pixel(canvas, cell)
            assert mask[int(y), int(x)], cell
        assert np.array_equal(masks.decode(ctl.result(0, 1).rle), mask)
        await pilot.click(canvas, offset=(40, 14), button=3)  # the right button does not paint nor prompt
        await idle(pilot, rig)
        assert len(rig.store.prompts()) == 2
        await pilot.press("W", "plus", "plus")  # the eraser, zoomed in
        x, y = expected_pixel(canvas, (30, 12))
        await pilot.mouse_down(canvas, offset=(30, 12))
        await pilot.mouse_up(canvas, offset=(30, 12))
        await idle(pilot, rig)
        assert not masks.decode(rig.store.prompts()[-1].mask)[int(y), int(x)]
        await pilot.press("v", "enter")  # a dab of the eraser at the keyboard pointer
        await idle(pilot, rig)
        x, y = canvas.crosshair
        assert (
            len(rig.store.prompts()) == 4 and not masks.decode(rig.store.prompts()[-1].mask)[int(y), int(x)]
        )
        await pilot.press("u", "u", "u")  # one undo step per stroke
        assert [p.kind for p in rig.store.prompts()] == [PromptKind.POINT]


async def test_the_keyboard_pointer_picks_a_point_up_and_puts_it_down_in_point_edit_mode(rig: AppRig) -> None:
    async with rig.app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, rig)
        await pilot.press("v", "enter")  # a point at the crosshair
        await idle(pilot, rig)
        await pilot.press("D", "enter", "l", "l", "j", "enter")  # picked up, carried, put down
        await idle(pilot, rig)
        [moved] = rig.store.prompts()
        assert moved.point == pytest.approx(canvas.crosshair)
        assert rig.app.controller.tool_hint() == "point editing (D ends)"  # after the notice, in the status
        await pilot.press("enter", "h", "escape")  # escape drops the carried point where it was
        await idle(pilot, rig)
        assert rig.store.prompts() == [moved] and canvas.crosshair is not None
