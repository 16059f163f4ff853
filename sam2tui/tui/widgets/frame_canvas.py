"""The frame canvas: a video frame with its overlays as half blocks, zoom/pan, clicks and drags in video pixels.

A Line-API widget (`render_line` returns Strips of '▀'-style cells, two pixels each). The canvas is exactly
`cols x rows*2` pixels; the frame is letterboxed inside it by `Viewport`, so a click maps to a video pixel
through `Viewport.to_frame` alone (zoom included). Pictures are cached per (frame index, viewport, overlay
version, size); only the cells that changed are sent to the terminal (a click that adds a point repaints
a few cells, not the frame).

Every mouse action has a key (terminals without mouse reports, docs/architecture.md, "Terminal facts"): `v` shows a keyboard
pointer, a crosshair that moves one canvas pixel per arrow/hjkl press and places points and boxes where it
stands, posting the same messages as the mouse. Its keys are only active while it is shown, so otherwise
arrows, hjkl and escape reach the screen (frame navigation, cancel).

Sharp view (Sixel / kitty graphics, `make_canvas` gives the canvas an encoder, render/sharp.py): every
`show()` paints half blocks at once; after `IDLE_DELAY` without a change, a thread worker composes the same
picture at the encoder's pixel size and encodes it, and the canvas swaps it in if the picture is still
current. One encode runs at a time; a request made meanwhile waits for it and only the newest survives.
A change of the overlay alone on a still frame (a click, a drag, the keyboard pointer) keeps the sharp image
on screen and sends at once only the part that changed (`SharpEncoder.encode_update`), not the half blocks
and then a whole new image. Both views show the same letterboxed picture, so `Viewport.to_frame` holds for
both. The canvas has no children: textual-image's SixelImage replaced its child widget per image and clicks
arriving meanwhile were lost (docs/architecture.md, "Terminal facts").

Text mode with `edges` ("octant", "sextant"): the picture is composed at 2x4 or 2x3 samples per cell and the
cells on a mask's contour are drawn as those block characters (render/blocks.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import time
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.filter import ANSIToTruecolor, LineFilter
from textual.geometry import Region
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from sam2tui.tui.compose import BrushLayer, Overlay, PointLayer, compose, compose_labelled
from sam2tui.tui.render.blocks import EDGE_MODES, edge_picture
from sam2tui.tui.render.halfblock import HalfBlockPainter, quantise
from sam2tui.tui.render.kitty import KittyEncoder
from sam2tui.tui.render.sharp import CanvasCells, SharpEncoder
from sam2tui.tui.render.sixel import SixelEncoder
from sam2tui.tui.termcaps import RENDERERS, TermCaps
from sam2tui.tui.viewport import Viewport
from sam2tui.values import BoxCorners

ZOOM_STEP = 1.25  # per key press
WHEEL_STEP = 1.15  # per wheel notch (terminals send several per gesture)
PAN_STEP = 0.1  # fraction of the visible region per key press
MIN_DRAG = 3.0  # canvas pixels a left drag must span (either axis) to be a box rather than a click
POINTER_JUMP = 8  # canvas pixels per shifted pointer key (H/J/K/L)
CACHED_PICTURES = 32
IDLE_DELAY = 0.15  # seconds without a change before the sharp image is made
UPDATE_DELAY = 0.01  # before an update of the sharp image (a timer needs a delay above 0)
CACHED_IMAGES = 4
SHARP_ENCODERS: dict[str, type[SharpEncoder]] = {kind.name: kind for kind in (SixelEncoder, KittyEncoder)}
LEFT, RIGHT = 1, 3
POINT_REACH = 2.0  # canvas pixels from a point mark within which a press picks it (a cell is 1x2)
PAINT_TOOLS = frozenset({"brush", "eraser"})

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Picture:
    """One composed canvas: quantised cells and the Strips built from them so far."""

    cells: np.ndarray  # (rows, cols, 2) packed colours of the upper and lower pixel of each cell (3: glyphs)
    strips: list[Strip | None]


@dataclasses.dataclass(frozen=True)
class _Request:
    """What to encode: everything the worker needs, captured on the UI thread."""

    key: tuple[object, ...]
    encoder: SharpEncoder
    image: np.ndarray
    overlay: Overlay
    view: Viewport
    size: tuple[int, int]  # pixels of the encoded image
    cells: CanvasCells
    before: _Sharp | None = None  # the image on screen, when an update of it can replace a whole image


@dataclasses.dataclass(frozen=True)
class _Sharp:
    """The sharp image on screen: what it shows (`_sharp_key`), the sequences that last changed it (the
    whole image, or an update of part of it) and the composed picture (what a next update starts from)."""

    key: tuple[object, ...]
    data: str
    rgb: np.ndarray


def canvas_point(x: float, y: float, precise: bool) -> tuple[float, float]:
    """Canvas pixel under a pointer at content cell coordinates (x, y).

    With pixel mouse reports (`precise`) the fraction is real; otherwise the pointer is somewhere in the
    cell and its centre is the best guess. A cell is 1 canvas pixel wide and 2 tall.
    """
    if precise:
        return x, y * 2.0
    return math.floor(x) + 0.5, math.floor(y) * 2.0 + 1.0


POINTER_ACTIONS = frozenset({"move_pointer", "place_point", "box_corner", "pointer_escape"})


def _move_binding(keys: str, dx: int, dy: int, name: str, how_far: str) -> Binding:
    """A pointer-mode key that moves the crosshair by (dx, dy) canvas pixels."""
    return Binding(
        keys,
        f"move_pointer({dx}, {dy})",
        f"Pointer {name}",
        id=f"canvas.pointer_{name.replace(' ', '_')}",
        tooltip=f"Pointer mode: move the crosshair {how_far}",
        show=False,
    )


class CanvasMessage(Message):
    """What the canvas posts: `control` is the canvas, so handlers can tell which one spoke."""

    def __init__(self, canvas: FrameCanvas) -> None:
        super().__init__()
        self.canvas = canvas

    @property
    def control(self) -> FrameCanvas:
        return self.canvas


class FrameCanvas(Widget, can_focus=True):
    """Shows one video frame with its overlay; reports clicks, drags and the pointer in video pixels."""

    # Textual's text selection sets the screen's selection state on every press and clears it on release:
    # each repaints the whole screen (125 KB at 160x48, and the Sixel image again). A picture has no text.
    ALLOW_SELECT: ClassVar[bool] = False

    DEFAULT_CSS = """
    FrameCanvas {
        width: 1fr;
        height: 1fr;
        background: black;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # View and pointer toggle: not in the footer (the app's keys matter more at 80-100 columns); `?` lists
        # them.
        Binding(
            "plus,equals_sign",
            "zoom_in",
            "Zoom in",
            id="canvas.zoom_in",
            tooltip="Zoom in (also: wheel up)",
            show=False,
        ),
        Binding(
            "minus",
            "zoom_out",
            "Zoom out",
            id="canvas.zoom_out",
            tooltip="Zoom out (also: wheel down)",
            show=False,
        ),
        Binding(
            "0", "reset_view", "Fit frame", id="canvas.reset_view", tooltip="Show the whole frame", show=False
        ),
        Binding("shift+left", "pan(-1, 0)", "Pan left", id="canvas.pan_left", show=False),
        Binding("shift+right", "pan(1, 0)", "Pan right", id="canvas.pan_right", show=False),
        Binding("shift+up", "pan(0, -1)", "Pan up", id="canvas.pan_up", show=False),
        Binding("shift+down", "pan(0, 1)", "Pan down", id="canvas.pan_down", show=False),
        Binding(
            "v",
            "toggle_pointer",
            "Pointer",
            id="canvas.pointer",
            tooltip=(
                "Keyboard pointer on/off (no mouse needed): arrows/hjkl move the crosshair a pixel, H/J/K/L"
                f" {POINTER_JUMP} (shift+arrows still pan), enter/backspace place points, B draws a box"
            ),
            show=False,
        ),
        # Pointer mode only (see check_action): while it is off, these keys reach the screen's bindings
        # (frame navigation, cancel). While it is on, the footer shows how to place things.
        _move_binding("left,h", -1, 0, "left", "one pixel left"),
        _move_binding("right,l", 1, 0, "right", "one pixel right"),
        _move_binding("up,k", 0, -1, "up", "one pixel (half a cell) up"),
        _move_binding("down,j", 0, 1, "down", "one pixel (half a cell) down"),
        _move_binding("H", -POINTER_JUMP, 0, "far left", f"{POINTER_JUMP} pixels left"),
        _move_binding("L", POINTER_JUMP, 0, "far right", f"{POINTER_JUMP} pixels right"),
        _move_binding("K", 0, -POINTER_JUMP, "far up", f"{POINTER_JUMP} pixels up"),
        _move_binding("J", 0, POINTER_JUMP, "far down", f"{POINTER_JUMP} pixels down"),
        Binding(
            "enter",
            "place_point(1)",
            "Point",
            id="canvas.pointer_point",
            tooltip=(
                "Pointer mode: a point at the crosshair with the current label (like a left click); in"
                " point-edit mode it picks up the point there, and puts it down again; with the brush, a dab"
            ),
        ),
        Binding(
            "backspace",
            "place_point(3)",
            "Negative",
            id="canvas.pointer_negative",
            tooltip="Pointer mode: a negative point at the crosshair (like a right click)",
        ),
        Binding(
            "B",
            "box_corner",
            "Box",
            id="canvas.pointer_box",
            tooltip="Pointer mode: the first press anchors a box corner, the second draws the box (a drag)",
        ),
        Binding(
            "escape",
            "pointer_escape",
            "Pointer off",
            id="canvas.pointer_off",
            tooltip="Pointer mode: drop the anchored box corner (or the point picked up), else leave pointer mode",
        ),
    ]

    class Clicked(CanvasMessage):
        """A click on the picture, in video pixels. `button`: 1 left, 3 right."""

        def __init__(self, canvas: FrameCanvas, x: float, y: float, button: int) -> None:
            super().__init__(canvas)
            self.x = x
            self.y = y
            self.button = button

    class BoxDrawn(CanvasMessage):
        """A left drag ended: the box (x0, y0, x1, y1) in video pixels, x0 <= x1, y0 <= y1."""

        def __init__(self, canvas: FrameCanvas, box: BoxCorners) -> None:
            super().__init__(canvas)
            self.box = box

    class PointDragged(CanvasMessage):
        """In point-edit mode, a left drag that started on the selected object's point `start` ended at `end`
        (video pixels)."""

        def __init__(self, canvas: FrameCanvas, start: tuple[float, float], end: tuple[float, float]) -> None:
            super().__init__(canvas)
            self.start = start
            self.end = end

    class Painted(CanvasMessage):
        """In a paint mode, the brush at video pixel (x, y): a press, a move while pressed, or a key's dab."""

        def __init__(self, canvas: FrameCanvas, x: float, y: float) -> None:
            super().__init__(canvas)
            self.x = x
            self.y = y

    class StrokeEnded(CanvasMessage):
        """In a paint mode, the button was released (or a key's dab is done): the stroke is complete."""

    class PointerMoved(CanvasMessage):
        """The video pixel under the mouse or the keyboard pointer; None when it is off the picture."""

        def __init__(self, canvas: FrameCanvas, x: float | None, y: float | None) -> None:
            super().__init__(canvas)
            self.x = x
            self.y = y

    def __init__(
        self,
        *,
        encoder: SharpEncoder | None = None,
        edges: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._frame_index = -1
        self._image: np.ndarray | None = None
        self._overlay = Overlay()
        self._view: Viewport | None = None
        self._painter = HalfBlockPainter()
        self._pictures: LRUCache[tuple[object, ...], _Picture] = LRUCache(CACHED_PICTURES)
        self._picture: _Picture | None = None
        self._picture_key: tuple[object, ...] | None = None  # what _picture shows
        self._shown: np.ndarray | None = None  # the cells the terminal has (None: unknown, repaint all)
        self._pixel_mouse = False  # seen a fractional pointer: the terminal reports pixels
        self._pointer: tuple[float, float] | None = None  # last canvas point under the pointer
        self._press: tuple[float, float, int] | None = None  # canvas x, y and button of the current press
        self._rubber_band: BoxCorners | None = None
        self._crosshair: tuple[float, float] | None = None  # the keyboard pointer (video pixels); None: off
        self._anchor: tuple[float, float] | None = None  # a box corner placed with the keyboard pointer
        self._encoder = encoder  # None: half blocks only
        if edges is not None and edges not in EDGE_MODES:
            raise ValueError(f"unknown edge glyphs {edges!r}; expected one of {', '.join(EDGE_MODES)}")
        self._edges = edges  # "octant" / "sextant": mask edges in finer block characters
        self._sharp: _Sharp | None = None  # the sharp image the rows show
        self._still_timer: Timer | None = None
        self._changed_at = 0.0  # monotonic time of the last picture change
        self._encoding = False  # a worker is encoding (one at a time)
        self._waiting: _Request | None = None  # the newest request made meanwhile
        self._images: LRUCache[tuple[object, ...], tuple[str, np.ndarray]] = LRUCache(CACHED_IMAGES)
        self._tool = "prompt"  # what the left button does (the controller's tool, set by the screen)
        self._brush_radius = 1.0  # video pixels
        self._dragged: tuple[PointLayer, tuple[float, float]] | None = None  # a point being moved, and where
        self._carried: PointLayer | None = None  # a point the keyboard pointer picked up (point-edit mode)

    # -- public API -------------------------------------------------------------------------------------------

    @property
    def renderer(self) -> str:
        """How frames reach the terminal: "halfblock", "octant" or "sextant" (text), or the sharp encoder's name
        ("sixel", "kitty")."""
        if self._encoder is not None:
            return self._encoder.name
        return self._edges or "halfblock"

    @property
    def encoder(self) -> SharpEncoder | None:
        return self._encoder

    def set_encoder(self, encoder: SharpEncoder | None) -> None:
        """Show still frames with `encoder` from now on (None: half blocks only)."""
        if encoder is self._encoder:
            return
        self._encoder = encoder
        if self._sharp is not None:
            self._drop_sharp()
        # An encode in flight is the old encoder's (its key differs): wait for stillness afresh.
        self._changed_at = time.monotonic()
        self._restart_still_timer()

    @property
    def viewport(self) -> Viewport | None:
        """The current geometry (None until a frame is shown on a laid-out canvas)."""
        return self._view

    @property
    def frame_index(self) -> int:
        return self._frame_index

    @property
    def crosshair(self) -> tuple[float, float] | None:
        """The keyboard pointer in video pixels; None while pointer mode is off."""
        return self._crosshair

    def set_tool(self, tool: str, brush_radius: float) -> None:
        """What the left button does: "prompt", "points" (a press on a point picks it), "brush" or "eraser"
        (a press paints; the brush is shown, `brush_radius` video pixels)."""
        if (tool, brush_radius) != (self._tool, self._brush_radius):
            self._tool, self._brush_radius = tool, brush_radius
            self._carried = None
            self._update_picture()

    @property
    def pointer_at(self) -> tuple[float, float] | None:
        """Where the user points, in video pixels: the keyboard pointer when it is on, else the last mouse
        position over the picture (None: neither)."""
        if self._crosshair is not None:
            return self._crosshair
        if self._view is None or self._pointer is None:
            return None
        return self._view.to_frame(*self._pointer)

    @property
    def point_reach(self) -> float:
        """How near a click must be to a point mark to pick it, in video pixels (it shrinks with zoom)."""
        return POINT_REACH if self._view is None else self._view.to_frame_length(POINT_REACH)

    def show(self, frame_index: int, image: np.ndarray, overlay: Overlay) -> None:
        """Display `image` (HxWx3 uint8 RGB, frame `frame_index`) with `overlay`. Cheap: composes at canvas size."""
        height, width = image.shape[:2]
        if self._image is None or self._image.shape[:2] != (height, width):
            self._pictures.clear()  # another video (or size): cached pictures of this index are stale
        self._frame_index, self._image, self._overlay = frame_index, image, overlay
        self._update_picture()

    # -- picture ----------------------------------------------------------------------------------------------

    def _canvas_size(self) -> tuple[int, int] | None:
        width, height = self.content_size
        return (width, height * 2) if width > 0 and height > 0 else None

    def _effective_overlay(self) -> Overlay:
        band = self._rubber_band
        if band is None and self._anchor is not None and self._crosshair is not None:
            band = _corners(self._anchor, self._crosshair)
        brush = self._brush_layer()
        moving = self._moving_point()
        if band is None and self._crosshair is None and brush is None and moving is None:
            return self._overlay
        overlay = dataclasses.replace(self._overlay, rubber_band=band, crosshair=self._crosshair, brush=brush)
        if moving is not None:  # the point follows the drag
            point, (x, y) = moving
            points = tuple(dataclasses.replace(p, x=x, y=y) if p == point else p for p in overlay.points)
            overlay = dataclasses.replace(overlay, points=points)
        return overlay

    def _moving_point(self) -> tuple[PointLayer, tuple[float, float]] | None:
        """A point being moved and where it is now: dragged by the mouse or carried by the keyboard pointer."""
        if self._dragged is not None:
            return self._dragged
        if self._carried is not None and self._crosshair is not None:
            return self._carried, self._crosshair
        return None

    def _brush_layer(self) -> BrushLayer | None:
        """The brush outline at the pointer while painting."""
        at = self.pointer_at if self._tool in PAINT_TOOLS else None
        if at is None:
            return None
        return BrushLayer(*at, self._brush_radius, erase=self._tool == "eraser")

    def _update_picture(self) -> None:
        """Show the current state: half blocks now, and with an encoder the sharp image once it stays still."""
        before = self._sharp_key()
        self._compose_picture()
        key = self._sharp_key()
        if key is None:
            return
        if key == before and (self._sharp is not None or self._still_timer is not None or self._encoding):
            return  # the same picture shown again (e.g. after an engine event): keep what is on its way
        if self._sharp is not None and self._sharp.key != key and not self._updatable(key):
            self._drop_sharp()
        self._changed_at = time.monotonic()
        # An update is small and the image on screen waits for it: no need to wait for stillness.
        self._restart_still_timer(UPDATE_DELAY if self._updatable(key) else IDLE_DELAY)

    def _updatable(self, key: tuple[object, ...]) -> bool:
        """Whether the image on screen can be updated to show `key` (an overlay change: same encoder, frame,
        view and cells) instead of being replaced; it stays on screen meanwhile (render/sharp.py)."""
        sharp, encoder = self._sharp, self._encoder
        if sharp is None or encoder is None or not encoder.updates:
            return False
        (old_encoder, old_picture, old_cells), (new_encoder, new_picture, new_cells) = sharp.key, key
        assert isinstance(old_picture, tuple) and isinstance(new_picture, tuple)
        return (old_encoder, old_picture[:2], old_cells) == (new_encoder, new_picture[:2], new_cells)

    def _compose_picture(self) -> None:
        """Compose the current state (or take it from the cache) and mark the cells that changed."""
        size = self._canvas_size()
        if self._image is None or size is None:
            return
        height, width = self._image.shape[:2]
        if self._view is None or (self._view.frame_w, self._view.frame_h) != (width, height):
            self._view = Viewport(width, height, *size)
            if self._crosshair is not None:  # another video: the old position means nothing here
                self._crosshair, self._anchor = self._view_centre(), None
        elif (self._view.canvas_w, self._view.canvas_h) != size:
            self._view = self._view.resized(*size)
        overlay = self._effective_overlay()
        key = (self._frame_index, self._view, overlay.version_key())
        picture = self._pictures.get(key)
        if picture is None:
            if self._edges is None:
                cells = quantise(compose(self._image, overlay, self._view, *size))
            else:
                (cw, ch), _ = EDGE_MODES[self._edges]
                cols, rows = size[0], size[1] // 2
                fine = compose_labelled(self._image, overlay, self._view, cols * cw, rows * ch)
                cells = edge_picture(*fine, self._edges)
            picture = _Picture(cells, [None] * cells.shape[0])
            self._pictures.set(key, picture)
        self._picture, self._picture_key = picture, key
        self._refresh_changed_cells(picture.cells)

    def _refresh_changed_cells(self, cells: np.ndarray) -> None:
        shown, self._shown = self._shown, cells
        if shown is None or shown.shape != cells.shape:
            self.refresh()
            return
        if self._sharp is not None and self._encoder is not None and self._encoder.updates:
            return  # the rows show the image, which an update will change (the half blocks are not seen)
        changed = (shown != cells).any(axis=2)
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size == 0:
            return
        if rows.size > cells.shape[0] // 2:
            self.refresh()
            return
        regions = []
        for y in rows.tolist():
            cols = np.flatnonzero(changed[y])
            regions.append(Region(int(cols[0]), y, int(cols[-1] - cols[0] + 1), 1))
        self.refresh(*regions)

    def render_line(self, y: int) -> Strip:
        strip = self._half_block_line(y)
        sharp, encoder = self._sharp, self._encoder
        if sharp is None or encoder is None or not self.screen.is_active:
            return strip
        region = self.content_region
        return encoder.line(y, strip, sharp.data, self._cells(), (region.x, region.y))

    def _half_block_line(self, y: int) -> Strip:
        picture = self._picture
        if picture is None or y >= len(picture.strips):
            return Strip.blank(self.size.width, self.rich_style)
        strip = picture.strips[y]
        if strip is None:
            strip = picture.strips[y] = self._painter.strip(picture.cells[y])
        return strip

    def get_line_filters(self) -> Sequence[LineFilter]:
        # Our cells only use RGB colours, which ANSIToTruecolor leaves as they are: skip its per-segment pass
        # (about a third of the cost of a frame).
        return [f for f in super().get_line_filters() if not isinstance(f, ANSIToTruecolor)]

    def on_resize(self, event: events.Resize) -> None:
        self._shown = None
        self._update_picture()

    # -- sharp image ------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._on_screen_change)

    def _cells(self) -> CanvasCells:
        cols, rows = self.content_size
        return CanvasCells(cols, rows, self.app.console.color_system)

    def _sharp_key(self) -> tuple[object, ...] | None:
        """What a sharp image of the current state shows; None without an encoder (or an app to ask about
        colours)."""
        if self._encoder is None or not self.is_mounted:
            return None
        return (self._encoder, self._picture_key, self._cells())

    def _restart_still_timer(self, delay: float = IDLE_DELAY) -> None:
        if self._still_timer is not None:
            self._still_timer.stop()
        self._still_timer = self.set_timer(delay, self._request_sharp) if self.is_mounted else None

    def _on_screen_change(self, screen: Screen[object]) -> None:
        if self._encoder is None or not self.is_attached:
            return
        if screen is self.screen:
            self._restart_still_timer()
        elif self._sharp is not None:
            self._drop_sharp()  # graphics would be drawn over the dialog

    def _drop_sharp(self) -> None:
        """Back to half blocks: repaint every cell (the terminal shows graphics over or instead of them)."""
        self._sharp = None
        self.refresh()

    def _can_show_sharp(self) -> bool:
        if self._encoder is None or self._picture is None or self._image is None or self._view is None:
            return False
        if not self.screen.is_active:
            return False
        return self._encoder.can_show(self._cells())

    def _request_sharp(self) -> None:
        self._still_timer = None
        still_for = time.monotonic() - self._changed_at
        key = self._sharp_key()
        if still_for < IDLE_DELAY and key is not None and not self._updatable(key):
            # A busy event loop ran the timer late, after newer frames.
            self._restart_still_timer(IDLE_DELAY - still_for)
            return
        if not self._can_show_sharp():
            return
        assert key is not None and self._encoder is not None
        if self._sharp is not None and self._sharp.key == key:
            return
        cached = self._images.get(key)
        if cached is not None and not self._updatable(key):
            self._show_sharp(_Sharp(key, *cached))
            return
        assert self._image is not None and self._view is not None
        cells = self._cells()
        request = _Request(
            key,
            self._encoder,
            self._image,
            self._effective_overlay(),
            self._view,
            self._encoder.image_size(cells, self._view),
            cells,
        )
        if self._encoding:
            self._waiting = request
            return
        self._start(request)

    def _start(self, request: _Request) -> None:
        # An update starts from the image on screen now (a request may have waited for another encode).
        before = self._sharp if self._updatable(request.key) else None
        request = dataclasses.replace(request, before=before)
        self._encoding = True
        self.run_worker(
            functools.partial(self._encode, request),
            name="sharp image",
            group="sharp-image",
            thread=True,
            exit_on_error=False,
        )

    def _encode(self, request: _Request) -> None:
        """Runs in a worker thread: compose at pixel size and encode; hands the result to the UI thread."""
        sharp: _Sharp | None = None
        update: str | None = None
        try:
            rgb = compose(request.image, request.overlay, request.view, *request.size)
            before = request.before
            if before is not None:
                update = request.encoder.encode_update(before.rgb, rgb, request.cells)
            data = update if update is not None else request.encoder.encode(rgb, request.cells)
            sharp = _Sharp(request.key, data, rgb)
        except Exception:  # a failed encode leaves the half-block picture; never the app
            log.exception("encoding the %s image failed", request.encoder.name)
        with contextlib.suppress(RuntimeError):  # the app is closing
            self.app.call_from_thread(self._encoded, request, sharp, update is not None)

    def _encoded(self, request: _Request, sharp: _Sharp | None, update: bool) -> None:
        self._encoding = False
        key = request.key
        if update and self._sharp is not request.before:
            sharp = None  # the image it updates is no longer the one on screen: encode afresh
            self._restart_still_timer(UPDATE_DELAY)
        if sharp is not None:
            if not update:  # an update only applies to the image it started from
                self._images.set(key, (sharp.data, sharp.rgb))
            if key == self._sharp_key() and self._can_show_sharp():
                self._show_sharp(sharp, update)
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting.key == self._sharp_key() and waiting.key != key:
            self._start(waiting)

    def _show_sharp(self, sharp: _Sharp, update: bool = False) -> None:
        assert self._encoder is not None
        self._sharp = sharp
        cells = self._cells()
        # An update leaves the rows as they are: only the last one, which carries it, is sent.
        rows = range(cells.rows - 1, cells.rows) if update else self._encoder.rows_changed(cells)
        self.refresh(Region(0, rows.start, cells.cols, len(rows)))

    # -- view -------------------------------------------------------------------------------------------------

    def set_view(self, zoom: float, center: tuple[float, float] | None) -> None:
        """Show this zoom about this frame point (a resumed session's); nothing before the first frame."""
        if self._view is not None:
            self._change_view(self._view.with_zoom_center(zoom, center))

    def _change_view(self, view: Viewport) -> None:
        if view == self._view:
            return
        self._view = view
        if self._crosshair is not None:  # a pan must not leave the keyboard pointer off screen
            self._set_crosshair(*self._crosshair)
        self._update_picture()

    def _zoom_anchor(self) -> tuple[float, float] | None:
        """Keys zoom about the keyboard pointer when it is on, else about the mouse pointer while it is over
        the picture, else about the centre."""
        if self._view is not None and self._crosshair is not None:
            return self._view.to_canvas(*self._crosshair)
        if self._view is not None and self._pointer is not None and self._view.to_frame(*self._pointer):
            return self._pointer
        return None

    def action_zoom_in(self) -> None:
        if self._view is not None:
            self._change_view(self._view.zoomed(ZOOM_STEP, self._zoom_anchor()))

    def action_zoom_out(self) -> None:
        if self._view is not None:
            self._change_view(self._view.zoomed(1 / ZOOM_STEP, self._zoom_anchor()))

    def action_reset_view(self) -> None:
        if self._view is not None:
            self._change_view(self._view.reset())

    def action_pan(self, dx: int, dy: int) -> None:
        if self._view is not None:
            self._change_view(self._view.panned(dx * PAN_STEP, dy * PAN_STEP))

    # -- keyboard pointer -------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False (not merely disabled) so that the key goes on to the screen's binding of the same key.
        if action in POINTER_ACTIONS:
            return self._crosshair is not None
        return True

    def _view_centre(self) -> tuple[float, float] | None:
        """The video pixel at the middle of the visible picture (a pixel centre of the canvas)."""
        if self._view is None:
            return None
        img = self._view.image_rect
        return self._view.to_frame(math.floor(img.x + img.w / 2) + 0.5, math.floor(img.y + img.h / 2) + 0.5)

    def _set_crosshair(self, x: float, y: float) -> None:
        """Put the pointer at video pixel (x, y), pulled onto the visible picture, and say where it is."""
        assert self._view is not None
        cx, cy = self._view.to_canvas(x, y)
        if not self._view.image_rect.contains(cx, cy):
            x, y = self._clamped_frame_point(cx, cy)
        self._crosshair = (x, y)
        self.post_message(self.PointerMoved(self, *self._crosshair))

    def action_toggle_pointer(self) -> None:
        if self._crosshair is not None:
            self._crosshair = self._anchor = self._carried = None
            self.post_message(self.PointerMoved(self, None, None))
        else:
            centre = self._view_centre()
            if centre is None:
                return
            self._set_crosshair(*centre)
        self._update_picture()
        self.refresh_bindings()

    def action_move_pointer(self, dx: int, dy: int) -> None:
        """Move the pointer by (dx, dy) canvas pixels; when zoomed in, the view follows it (up to the frame's
        edge)."""
        if self._crosshair is None or self._view is None:
            return
        view = self._view
        cx, cy = view.to_canvas(*self._crosshair)
        cx, cy = math.floor(cx) + 0.5 + dx, math.floor(cy) + 0.5 + dy  # pixel centre to pixel centre
        vis, img = view.visible_region, view.image_rect
        sx, sy = view.scale
        # Kept half a canvas pixel inside the frame: the centre of the edge pixel at the edge.
        x = min(max(vis.x + (cx - img.x) / sx, 0.5 / sx), view.frame_w - 0.5 / sx)
        y = min(max(vis.y + (cy - img.y) / sy, 0.5 / sy), view.frame_h - 0.5 / sy)
        followed = _follow(view, x, y)
        if followed != view:
            self._crosshair = (x, y)
            self._change_view(followed)  # which places (and reports) the pointer on the new view
        else:
            self._set_crosshair(x, y)
            self._update_picture()

    def action_place_point(self, button: int) -> None:
        if self._crosshair is None:
            return
        if self._tool in PAINT_TOOLS:  # a dab at the pointer: a stroke of its own
            if button == LEFT:
                self.post_message(self.Painted(self, *self._crosshair))
                self.post_message(self.StrokeEnded(self))
            return
        if self._tool == "points" and button == LEFT and self._carry(self._crosshair):
            return
        self.post_message(self.Clicked(self, *self._crosshair, button))

    def _carry(self, at: tuple[float, float]) -> bool:
        """Point-edit mode's enter: put the carried point down at `at` (a move), else pick up the point
        there; False when there is neither (a click, which says so)."""
        assert self._view is not None
        carried, self._carried = self._carried, None
        if carried is not None:
            self.post_message(self.PointDragged(self, (carried.x, carried.y), at))
        else:
            self._carried = self._point_under(*self._view.to_canvas(*at))
            if self._carried is None:
                return False
        self._update_picture()
        return True

    def action_box_corner(self) -> None:
        if self._crosshair is None:
            return
        anchor, self._anchor = self._anchor, None
        if anchor is None:
            self._anchor = self._crosshair
        else:
            box = _corners(anchor, self._crosshair)
            if box[0] < box[2] and box[1] < box[3]:
                self.post_message(self.BoxDrawn(self, box))
        self._update_picture()

    def action_pointer_escape(self) -> None:
        if self._anchor is not None or self._carried is not None:
            self._anchor = self._carried = None
            self._update_picture()
        else:
            self.action_toggle_pointer()

    # -- mouse ------------------------------------------------------------------------------------------------

    def _event_point(self, event: events.MouseEvent) -> tuple[float, float]:
        """The canvas pixel under the pointer (content-relative; may lie outside while the mouse is captured)."""
        px, py = event.pointer_x, event.pointer_y
        if not (float(px).is_integer() and float(py).is_integer()):
            self._pixel_mouse = True
        offset = self.content_region.offset - self.region.offset
        return canvas_point(px - offset.x, py - offset.y, self._pixel_mouse)

    def _clamped_frame_point(self, cx: float, cy: float) -> tuple[float, float]:
        """The frame point under a canvas point, moved onto the picture when it lies off it."""
        assert self._view is not None
        img = self._view.image_rect
        cx = min(max(cx, img.x), math.nextafter(img.right, 0))
        cy = min(max(cy, img.y), math.nextafter(img.bottom, 0))
        point = self._view.to_frame(cx, cy)
        assert point is not None
        return point

    def _band(self, press: tuple[float, float, int], cx: float, cy: float) -> BoxCorners | None:
        """The box from the press to (cx, cy), or None while the drag is too short to be one."""
        sx, sy, button = press
        if button != LEFT:
            return None
        if max(abs(cx - sx), abs(cy - sy)) < MIN_DRAG:
            return None
        return _corners(self._clamped_frame_point(sx, sy), self._clamped_frame_point(cx, cy))

    def _set_rubber_band(self, band: BoxCorners | None) -> None:
        if band != self._rubber_band:
            self._rubber_band = band
            self._update_picture()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if self._view is None or event.button not in (LEFT, RIGHT):
            return
        cx, cy = self._event_point(event)
        if self._view.to_frame(cx, cy) is None:
            return  # the letterbox is not the picture
        event.stop()
        if self._tool in PAINT_TOOLS and event.button != LEFT:
            return  # painting is the left button's; a right click would add a point behind the brush
        self._press = (cx, cy, event.button)
        self.capture_mouse()
        if event.button != LEFT:
            return
        if self._tool in PAINT_TOOLS:
            self.post_message(self.Painted(self, *self._clamped_frame_point(cx, cy)))
        elif self._tool == "points":
            point = self._point_under(cx, cy)
            if point is not None:
                self._dragged = (point, (point.x, point.y))

    def _point_under(self, cx: float, cy: float) -> PointLayer | None:
        """The selected object's point mark nearest canvas point (cx, cy), within POINT_REACH."""
        assert self._view is not None
        view = self._view
        near = [
            (math.dist(view.to_canvas(p.x, p.y), (cx, cy)), index)
            for index, p in enumerate(self._overlay.points)
            if p.selected
        ]
        distance, index = min(near, default=(math.inf, -1))
        return self._overlay.points[index] if distance <= POINT_REACH else None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._view is None:
            return
        cx, cy = self._event_point(event)
        self._pointer = (cx, cy)
        point = self._view.to_frame(cx, cy)
        self.post_message(self.PointerMoved(self, *(point if point is not None else (None, None))))
        if self._press is not None and self._press[2] == LEFT and self._tool in PAINT_TOOLS:
            self.post_message(self.Painted(self, *self._clamped_frame_point(cx, cy)))
        elif self._dragged is not None:
            self._dragged = (self._dragged[0], self._clamped_frame_point(cx, cy))
            self._update_picture()
        elif self._press is not None:
            self._set_rubber_band(self._band(self._press, cx, cy))
        elif self._tool in PAINT_TOOLS:
            self._update_picture()  # the brush follows the mouse

    def on_mouse_up(self, event: events.MouseUp) -> None:
        press, self._press = self._press, None
        self.release_mouse()
        dragged, self._dragged = self._dragged, None
        if press is None or self._view is None:
            return
        event.stop()
        if press[2] == LEFT and self._tool in PAINT_TOOLS:
            self.post_message(self.StrokeEnded(self))
            return
        end = self._event_point(event)
        if dragged is not None and self._band(press, *end) is not None:  # moved far enough: not a click
            point, _ = dragged
            self.post_message(self.PointDragged(self, (point.x, point.y), self._clamped_frame_point(*end)))
            self._update_picture()
            return
        band = self._band(press, *end)
        self._set_rubber_band(None)
        if band is not None:
            self.post_message(self.BoxDrawn(self, band))
            return
        point = self._view.to_frame(press[0], press[1])
        if point is not None:
            self.post_message(self.Clicked(self, point[0], point[1], press[2]))

    def on_leave(self, event: events.Leave) -> None:
        self._pointer = None
        self.post_message(self.PointerMoved(self, *(self._crosshair or (None, None))))
        if self._tool in PAINT_TOOLS:
            self._update_picture()  # no brush where there is no pointer

    def _wheel(self, event: events.MouseScrollDown | events.MouseScrollUp, factor: float) -> None:
        event.stop()
        event.prevent_default()
        if self._view is not None:
            self._change_view(self._view.zoomed(factor, self._event_point(event)))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, WHEEL_STEP)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, 1 / WHEEL_STEP)


def _corners(a: tuple[float, float], b: tuple[float, float]) -> BoxCorners:
    """The box with corners `a` and `b`, as (x0, y0, x1, y1) with x0 <= x1, y0 <= y1."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))


def _follow(view: Viewport, x: float, y: float) -> Viewport:
    """`view`, panned just enough to show frame point (x, y) (unchanged when it is already visible)."""
    vis = view.visible_region
    margin_x, margin_y = 0.5 / view.scale[0], 0.5 / view.scale[1]  # half a canvas pixel
    dx = min(0.0, x - margin_x - vis.x) + max(0.0, x + margin_x - vis.right)
    dy = min(0.0, y - margin_y - vis.y) + max(0.0, y + margin_y - vis.bottom)
    if dx == 0 and dy == 0:
        return view
    return view.with_zoom_center(view.zoom, (vis.x + vis.w / 2 + dx, vis.y + vis.h / 2 + dy))


def make_canvas(
    render: str,
    caps: TermCaps | None = None,
    *,
    name: str | None = None,
    id: str | None = None,
    classes: str | None = None,
) -> FrameCanvas:
    """The canvas for a renderer chosen by `TermCaps.choose_renderer` (one of termcaps.RENDERERS).

    Sharp renderers need the terminal's cell size in pixels (from `caps`; 10x20 when unknown) and whether
    they run inside tmux.
    """
    if render == "halfblock":
        return FrameCanvas(name=name, id=id, classes=classes)
    if render in EDGE_MODES:
        return FrameCanvas(edges=render, name=name, id=id, classes=classes)
    if render in SHARP_ENCODERS:
        cell_size = caps.cell_size if caps is not None and caps.cell_size is not None else (10, 20)
        encoder = SHARP_ENCODERS[render](cell_size, caps is not None and caps.tmux)
        return FrameCanvas(encoder=encoder, name=name, id=id, classes=classes)
    raise ValueError(f"unknown renderer {render!r}; expected one of {', '.join(RENDERERS)}")
