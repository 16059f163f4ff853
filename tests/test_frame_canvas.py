"""FrameCanvas in a tiny app: clicks, drags and the wheel in video pixels; strips match the composed image."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.pilot import Pilot

from sam2tui.masks import encode
from sam2tui.tui.compose import CROSSHAIR, MaskLayer, Overlay, compose
from sam2tui.tui.render.halfblock import quantise
from sam2tui.tui.widgets.frame_canvas import POINTER_JUMP, FrameCanvas, canvas_point, make_canvas

# 320x160 on an 80x24 canvas (80x48 pixels): 0.25 canvas pixels per video pixel, the picture is 80x40
# pixels from canvas y=4, i.e. text rows 2..21; rows 0-1 and 22-23 are letterbox.
FRAME_W, FRAME_H = 320, 160
SIZE = (80, 24)


def gradient_frame() -> np.ndarray:
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W]
    return np.stack([xs * 255 // FRAME_W, ys * 255 // FRAME_H, np.full_like(xs, 90)], axis=-1).astype(
        np.uint8
    )


class CanvasApp(App[None]):
    # Keys an app binds too (frame navigation, cancel): they must reach it while pointer mode is off.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key, f"app_key('{key}')", key) for key in ("left", "l", "escape", "enter", "B")
    ]

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Message] = []
        self.app_keys: list[str] = []

    def action_app_key(self, key: str) -> None:
        self.app_keys.append(key)

    def compose(self) -> ComposeResult:
        yield FrameCanvas(id="canvas")

    def on_mount(self) -> None:
        self.query_one(FrameCanvas).show(0, gradient_frame(), Overlay())

    def on_frame_canvas_clicked(self, message: FrameCanvas.Clicked) -> None:
        self.received.append(message)

    def on_frame_canvas_box_drawn(self, message: FrameCanvas.BoxDrawn) -> None:
        self.received.append(message)

    def on_frame_canvas_pointer_moved(self, message: FrameCanvas.PointerMoved) -> None:
        self.received.append(message)

    def of(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.received if isinstance(m, kind)]


async def mouse(
    pilot: Pilot[None], kind: type[events.MouseEvent], x: float, y: float, button: int = 0
) -> None:
    """Send one mouse event at screen cell coordinates (fractional like a pixel-mouse terminal's)."""
    event = kind(None, x, y, 0, 0, button, False, False, False, screen_x=x, screen_y=y)
    pilot.app.screen._forward_event(event)
    await pilot.pause()


def clicked(app: CanvasApp) -> list[tuple[float, float, int]]:
    return [(m.x, m.y, m.button) for m in app.of(FrameCanvas.Clicked)]  # type: ignore[attr-defined]


def test_canvas_point_uses_cell_centres_without_pixel_mouse() -> None:
    assert canvas_point(10, 5, precise=False) == (10.5, 11.0)
    assert canvas_point(10.25, 5.75, precise=True) == (10.25, 11.5)


async def test_click_posts_the_video_pixel() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#canvas", offset=(10, 5))
        # Cell (10, 5) -> canvas (10.5, 11) -> video ((10.5 - 0) / 0.25, (11 - 4) / 0.25).
        assert clicked(app) == [(42.0, 28.0, 1)]


async def test_right_click_is_button_3() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#canvas", offset=(40, 12), button=3)
        assert clicked(app) == [(162.0, 84.0, 3)]


async def test_letterbox_click_posts_nothing() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#canvas", offset=(40, 0))
        await pilot.click("#canvas", offset=(40, 23))
        assert app.received == []


async def test_fractional_pointer_gives_finer_pixels() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        await mouse(pilot, events.MouseDown, 10.25, 5.75, 1)
        await mouse(pilot, events.MouseUp, 10.25, 5.75, 1)
        assert clicked(app) == [(41.0, 30.0, 1)]


async def test_click_while_zoomed() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        await pilot.hover("#canvas", offset=(40, 12))
        for _ in range(8):
            await pilot.press("plus")
        view = canvas.viewport
        assert view is not None and view.zoom > 4
        await pilot.click("#canvas", offset=(20, 6))
        expected = view.to_frame(20.5, 13.0)
        assert expected is not None
        assert clicked(app) == [(*expected, 1)]
        await pilot.press("0")
        assert canvas.viewport is not None and canvas.viewport.zoom == 1.0


async def test_drag_draws_a_box_and_shows_a_rubber_band() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        await pilot.mouse_down("#canvas", offset=(10, 5))
        await pilot.hover("#canvas", offset=(30, 15))
        assert canvas._effective_overlay().rubber_band == (42.0, 28.0, 122.0, 108.0)
        await pilot.mouse_up("#canvas", offset=(30, 15))
        boxes = [m.box for m in app.of(FrameCanvas.BoxDrawn)]  # type: ignore[attr-defined]
        assert boxes == [(42.0, 28.0, 122.0, 108.0)]
        assert clicked(app) == []
        assert canvas._effective_overlay().rubber_band is None


async def test_drag_into_the_letterbox_is_clamped_and_short_drag_is_a_click() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.mouse_down("#canvas", offset=(30, 15))
        await pilot.hover("#canvas", offset=(10, 0))
        await pilot.mouse_up("#canvas", offset=(10, 0))
        (box,) = [m.box for m in app.of(FrameCanvas.BoxDrawn)]  # type: ignore[attr-defined]
        assert box[1] == 0.0 and box[0] == 42.0 and box[2:] == (122.0, 108.0)
        await pilot.mouse_down("#canvas", offset=(30, 15))
        await pilot.hover("#canvas", offset=(31, 15))
        await pilot.mouse_up("#canvas", offset=(31, 15))
        assert clicked(app) == [(122.0, 108.0, 1)]


async def test_wheel_zooms_about_the_pointer() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.action_zoom_in()  # past the letterbox, so the point can stay put on both axes
        view = canvas.viewport
        assert view is not None and view.image_rect.h == 48
        before = view.to_frame(20.5, 21.0)
        for _ in range(3):
            await mouse(pilot, events.MouseScrollUp, 20, 10)
        zoomed = canvas.viewport
        assert zoomed is not None and zoomed.zoom == pytest.approx(1.25 * 1.15**3)
        assert before is not None and zoomed.to_canvas(*before) == pytest.approx((20.5, 21.0))
        await mouse(pilot, events.MouseScrollDown, 20, 10)
        assert canvas.viewport is not None and canvas.viewport.zoom == pytest.approx(1.25 * 1.15**2)


async def test_pan_keys_move_the_view() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.focus()
        await pilot.press("plus", "plus", "plus")
        view = canvas.viewport
        assert view is not None
        await pilot.press("shift+right")
        moved = canvas.viewport
        assert moved is not None and moved.visible_region.x > view.visible_region.x


def pointer_reports(app: CanvasApp) -> list[tuple[float | None, float | None]]:
    return [(m.x, m.y) for m in app.of(FrameCanvas.PointerMoved)]  # type: ignore[attr-defined]


async def test_pointer_keys_reach_the_app_while_pointer_mode_is_off() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(FrameCanvas).focus()
        await pilot.press("left", "l", "enter", "B", "escape")
        assert app.app_keys == ["left", "l", "enter", "B", "escape"]
        assert app.received == []


async def test_keyboard_pointer_places_points_like_clicks() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.focus()
        await pilot.press("v")
        # The middle of the 80x40-pixel picture: canvas pixel (40, 24) -> video (40.5 / 0.25, 20.5 / 0.25).
        assert canvas.crosshair == (162.0, 82.0)
        assert pointer_reports(app) == [(162.0, 82.0)]
        assert canvas._effective_overlay().crosshair == (162.0, 82.0)
        assert tuple(canvas._picture.cells[12, 44]) != tuple(canvas._picture.cells[12, 50])  # the right arm
        await pilot.press("right", "l", "down", "j", "j", "k")  # 2 pixels right, 2 down
        assert canvas.crosshair == (170.0, 90.0)
        await pilot.press("enter", "backspace")
        assert clicked(app) == [(170.0, 90.0, 1), (170.0, 90.0, 3)]
        await pilot.press("L", "K", "h", "up")
        assert canvas.crosshair == (170.0 + 4 * POINTER_JUMP - 4, 90.0 - 4 * POINTER_JUMP - 4)
        assert pointer_reports(app)[-1] == canvas.crosshair
        assert app.app_keys == []  # none of these reached the app


async def test_keyboard_pointer_draws_a_box_and_escape_backs_out() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.focus()
        await pilot.press("v", "B", "right", "right", "down")
        assert canvas._effective_overlay().rubber_band == (162.0, 82.0, 170.0, 86.0)
        await pilot.press("escape")  # drops the corner, stays in pointer mode
        assert canvas._effective_overlay().rubber_band is None and canvas.crosshair == (170.0, 86.0)
        await pilot.press("B", "B")  # an empty box is no box
        await pilot.press("B", "H", "J", "B")
        boxes = [m.box for m in app.of(FrameCanvas.BoxDrawn)]  # type: ignore[attr-defined]
        assert boxes == [(170.0 - 4 * POINTER_JUMP, 86.0, 170.0, 86.0 + 4 * POINTER_JUMP)]
        await pilot.press("escape")  # leaves pointer mode
        assert canvas.crosshair is None and canvas._effective_overlay().crosshair is None
        assert pointer_reports(app)[-1] == (None, None)
        await pilot.press("escape", "left")  # the app's keys again
        assert app.app_keys == ["escape", "left"]


async def test_keyboard_pointer_stays_on_the_frame_and_the_view_follows_it() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.focus()
        await pilot.press("v", *["H"] * 8, *["K"] * 8)
        assert canvas.crosshair == (2.0, 2.0)  # the centre of the top-left canvas pixel of the picture
        await pilot.press(*["L"] * 12, *["J"] * 8)
        assert canvas.crosshair == (318.0, 158.0)  # and of the bottom-right one
        await pilot.press("0", "v", "v")  # back to the middle
        for _ in range(4):
            await pilot.press("plus")  # zooms about the crosshair: it stays where it is on screen
        view = canvas.viewport
        assert view is not None and view.zoom > 2
        assert view.to_canvas(*canvas.crosshair) == pytest.approx((40.5, 24.5))
        await pilot.press(*["L"] * 12)
        moved = canvas.viewport
        assert moved is not None and moved.visible_region.x > view.visible_region.x  # panned to follow
        assert moved.image_rect.contains(*moved.to_canvas(*canvas.crosshair))
        await pilot.press("shift+left", "shift+left", "shift+left")  # a pan pulls the pointer into view
        panned = canvas.viewport
        assert panned is not None and panned.image_rect.contains(*panned.to_canvas(*canvas.crosshair))


async def test_crosshair_is_drawn_in_the_canvas() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        canvas.focus()
        await pilot.press("v")
        await pilot.pause()
        view = canvas.viewport
        assert view is not None
        composed = compose(gradient_frame(), canvas._effective_overlay(), view, 80, 48)
        assert (composed == CROSSHAIR).all(axis=2).sum() == 4 * 3
        assert (canvas._picture.cells == quantise(composed)).all()


def decode_strip(strip: object) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """(upper, lower) RGB of each cell of a half-block strip."""
    cells = []
    for segment in strip:  # type: ignore[attr-defined]
        style = segment.style
        fg = style.color.triplet if style.color else None
        bg = style.bgcolor.triplet
        for char in segment.text:
            upper, lower = {"▀": (fg, bg), "▄": (bg, fg), "█": (fg, fg), " ": (bg, bg)}[char]
            cells.append((tuple(upper), tuple(lower)))
    return cells


async def test_render_line_matches_the_composed_image() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        mask = np.zeros((FRAME_H, FRAME_W), bool)
        mask[40:120, 100:200] = True
        overlay = Overlay(masks=(MaskLayer(1, encode(mask), (230, 159, 0)),))
        canvas.show(3, gradient_frame(), overlay)
        await pilot.pause()
        view = canvas.viewport
        assert view is not None
        expected = quantise(compose(gradient_frame(), overlay, view, 80, 48))
        for y in range(24):
            cells = decode_strip(canvas.render_line(y))
            assert len(cells) == 80
            got = np.array([[[(c >> 3) for c in px] for px in cell] for cell in cells])
            want = np.stack([(expected[y] >> s) & 31 for s in (10, 5, 0)], axis=-1)
            assert (got == want).all(), y
        assert canvas.renderer == "halfblock"


async def test_unchanged_frame_repaints_only_changed_cells() -> None:
    app = CanvasApp()
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        await pilot.pause()
        canvas._repaint_regions.clear()
        from sam2tui.tui.compose import PointLayer

        canvas.show(0, gradient_frame(), Overlay(points=(PointLayer(160, 80, True),)))
        regions = list(canvas._repaint_regions)
        assert regions and all(r.height == 1 and r.width < 10 for r in regions)


def test_make_canvas_picks_the_widget() -> None:
    assert type(make_canvas("halfblock")) is FrameCanvas
    sharp = make_canvas("sixel")
    assert isinstance(sharp, FrameCanvas) and sharp.renderer == "sixel"
    with pytest.raises(ValueError):
        make_canvas("ascii")


class SharpApp(App[None]):
    def __init__(self, protocol: str) -> None:
        super().__init__()
        self.protocol = protocol
        self.clicks: list[tuple[float, float]] = []

    def on_frame_canvas_clicked(self, message: FrameCanvas.Clicked) -> None:
        self.clicks.append((message.x, message.y))

    def compose(self) -> ComposeResult:
        yield make_canvas(self.protocol, id="canvas")

    def on_mount(self) -> None:
        self.query_one(FrameCanvas).show(0, gradient_frame(), Overlay())


def tail_text(strip: object) -> str:
    segments = list(strip)  # type: ignore[call-overload]
    return "".join(s.text for s in segments if s.control)


async def wait_for(pilot: Pilot[None], condition: object, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize("protocol", ["sixel", "kitty"])
async def test_sharp_canvas_is_progressive(protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLORTERM", "truecolor")  # kitty's image id travels as a colour
    app = SharpApp(protocol)
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        assert canvas.renderer == protocol
        # At once: half blocks, no graphics.
        assert tail_text(canvas.render_line(23)) == ""
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)) != "")
        tail = tail_text(canvas.render_line(23))
        if protocol == "sixel":
            # Cursor saved, moved to the canvas's top-left, Sixel sized to 80x24 cells of 10x20 pixels.
            assert tail.startswith("\x1b7\x1b[1;1H\x1bP") and tail.endswith("\x1b\\\x1b8")
            assert '"1;1;800;480' in tail
            assert "\U0010eeee" not in "".join(s.text for s in canvas.render_line(5))
        else:
            assert "a=t,f=100" in tail and "a=p,U=1" in tail and "c=80,r=24" in tail
            row = "".join(s.text for s in canvas.render_line(5))
            assert row.startswith("\U0010eeee") and row.count("\U0010eeee") == 80
        # A new frame: half blocks again at once, graphics after the pause.
        canvas.show(1, gradient_frame()[::-1].copy(), Overlay())
        assert tail_text(canvas.render_line(23)) == ""
        assert "\U0010eeee" not in "".join(s.text for s in canvas.render_line(5))
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)) != "")
        # Clicks work the same on the sharp picture.
        await pilot.click("#canvas", offset=(10, 5))
        await pilot.pause()


def test_kitty_image_ids_survive_textual_colours() -> None:
    from rich.color import ColorSystem

    from sam2tui.tui.render import kitty

    for serial in range(300):
        wide = kitty.image_id(serial, truecolor=True)
        triplet = kitty.id_color(wide, truecolor=True).triplet
        assert triplet is not None and (triplet.red << 16 | triplet.green << 8 | triplet.blue) == wide
        narrow = kitty.image_id(serial, truecolor=False)
        assert kitty.id_color(narrow, truecolor=False).downgrade(ColorSystem.EIGHT_BIT).number == narrow


async def test_clicks_are_not_lost_while_sharp_images_swap() -> None:
    # textual-image's SixelImage replaced its child per image and dropped clicks meanwhile: ours has none.
    app = SharpApp("sixel")
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        for index in range(1, 5):
            canvas.show(index, np.roll(gradient_frame(), index * 8, axis=1), Overlay())
            await pilot.pause(0.12)  # the image arrives around the click
            await pilot.click("#canvas", offset=(10, 5))
            assert not canvas.children
        await pilot.pause(0.3)
        assert app.clicks == [(42.0, 28.0)] * 4


async def test_sharp_image_gives_way_to_a_dialog() -> None:
    from textual.screen import ModalScreen
    from textual.widgets import Static

    class Dialog(ModalScreen[None]):
        def compose(self) -> ComposeResult:
            yield Static("dialog")

    app = SharpApp("sixel")
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(FrameCanvas)
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)) != "")
        await app.push_screen(Dialog())
        await pilot.pause()
        assert tail_text(canvas.render_line(23)) == ""  # a Sixel would be drawn over the dialog
        app.pop_screen()
        await wait_for(pilot, lambda: tail_text(canvas.render_line(23)) != "")


CLICK_APP = """
import json, sys
import numpy as np
from textual.app import App
from sam2tui.tui.compose import Overlay
from sam2tui.tui.termcaps import detect
from sam2tui.tui.widgets.frame_canvas import FrameCanvas, make_canvas

out = open(sys.argv[1], "w")
caps = detect()

class ClickApp(App):
    CSS = "FrameCanvas { height: 23; }"  # a row below: a Sixel must not touch the last line

    def compose(self):
        yield make_canvas(sys.argv[2], caps)

    def on_mount(self):
        self.query_one(FrameCanvas).show(0, np.full((160, 320, 3), 200, np.uint8), Overlay())

    def on_frame_canvas_clicked(self, m):
        out.write(json.dumps([m.x, m.y, m.button]) + "\\n")
        out.flush()

    def on_frame_canvas_box_drawn(self, m):
        out.write(json.dumps(list(m.box)) + "\\n")
        out.flush()

ClickApp().run()
"""


@pytest.mark.parametrize("pixel_mouse", [False, True])
def test_mouse_reports_through_a_real_terminal(tmp_path: Path, pixel_mouse: bool) -> None:
    """SGR mouse reports (cells, or pixels after in-band resize) through Textual's own parser, in a pty."""
    import json
    import os
    import sys
    import time

    from benchmarks.pty_terminal import PtyTerminal, TerminalProfile

    log = tmp_path / "clicks.jsonl"
    profile = TerminalProfile(cols=80, rows=24, cell=(10, 20), pixel_mouse=pixel_mouse)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "COLORTERM": "truecolor"}
    with PtyTerminal([sys.executable, "-c", CLICK_APP, str(log), "halfblock"], profile, env=env) as term:
        assert term.wait_quiet(quiet=0.5, timeout=30, after=0) is not None
        term.click(10.3, 5.75)
        term.click(40, 12, button=2)
        term.click(40, 0)  # letterbox: nothing
        term.mouse(10, 5)
        term.mouse(30, 15, motion=True)
        term.mouse(30, 15, press=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(log.read_text().splitlines()) < 3:
            time.sleep(0.05)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(events) == 3
    # The canvas is 80x23 cells (80x46 pixels): the 320x160 frame is 80x40 pixels from y=3.
    if pixel_mouse:  # 103 px / 10 = 10.3 cells: finer than a cell
        assert events[0] == pytest.approx([10.3 / 0.25, (11.5 - 3) / 0.25, 1])
    else:
        assert events[0] == [42.0, 32.0, 1]
    assert events[1][2] == 3
    # Drag from cell (10, 5) to (30, 15): the cells' corners with pixel reports, their centres without.
    assert events[2] == ([40.0, 28.0, 120.0, 108.0] if pixel_mouse else [42.0, 32.0, 122.0, 112.0])


def test_sixel_follows_the_half_blocks_in_a_real_terminal(tmp_path: Path) -> None:
    import os
    import sys

    from benchmarks.pty_terminal import PtyTerminal, TerminalProfile

    profile = TerminalProfile(cols=80, rows=24, cell=(10, 20), sixel=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "COLORTERM": "truecolor"}
    argv = [sys.executable, "-c", CLICK_APP, str(tmp_path / "clicks.jsonl"), "sixel"]
    with PtyTerminal(argv, profile, env=env, keep_output=True) as term:
        assert term.wait_quiet(quiet=1.0, timeout=30, after=0) is not None
        output = bytes(term.output)
    # 80x23 cells of 10x20 pixels, drawn from the canvas's top-left after the half-block picture.
    sixel = output.find(b'\x1b7\x1b[1;1H\x1bP0;0;0q"1;1;800;460')
    assert sixel > 0 and output.count(b"\x1bP") == 1
    assert b"48;2;206;206;206" in output[:sixel]  # the grey frame (200 -> 5 bits -> 206) as half blocks first
    assert output.find(b"\x1b\\\x1b8", sixel) > sixel  # Sixel terminated, cursor restored
