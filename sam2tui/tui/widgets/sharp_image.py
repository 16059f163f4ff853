"""The sharp frame canvas: half blocks while frames change, Sixel or kitty graphics once the frame is still.

Progressive: every `show()` paints half blocks at once (the FrameCanvas path); after `IDLE_DELAY` without a
change, a thread worker composes the same picture at the terminal's pixel size and encodes it, and the
canvas swaps it in if the picture is still current. One encode runs at a time; a request made meanwhile
waits for it and only the newest survives.

It is one widget with no children: textual-image's SixelImage replaces its child widget per image and
clicks arriving meanwhile were lost (docs/architecture.md, "Terminal facts"). Mouse handling, geometry and messages are
FrameCanvas's: both renderers show the same letterboxed picture, so `Viewport.to_frame` holds for both.

- Sixel: every text row keeps its half-block cells (a partial repaint by Textual shows a coarse, correct
  picture) and the last row ends with the Sixel image drawn over the whole canvas. Keep a widget below the
  canvas: a Sixel image touching the screen's last line can make some terminals scroll.
- kitty: the rows are Unicode placeholder cells (see render/kitty.py); the last row carries the image.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from dataclasses import dataclass

import numpy as np
from textual.cache import LRUCache
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.timer import Timer

from sam2tui.tui.compose import Overlay, compose
from sam2tui.tui.render import kitty
from sam2tui.tui.render.sixel import encode_sixel, sixel_segment
from sam2tui.tui.viewport import Viewport
from sam2tui.tui.widgets.frame_canvas import FrameCanvas

log = logging.getLogger(__name__)

IDLE_DELAY = 0.15  # seconds without a change before the graphics image is made
CACHED_IMAGES = 4


@dataclass(frozen=True)
class _Request:
    """What to encode: everything the worker needs, captured on the UI thread."""

    key: tuple[object, ...]
    image: np.ndarray
    overlay: Overlay
    view: Viewport
    size: tuple[int, int]  # pixels of the encoded image
    cells: tuple[int, int]  # canvas cols, rows


@dataclass(frozen=True)
class _Sharp:
    key: tuple[object, ...]
    data: str  # the Sixel sequence, or the kitty commands that transmit and place the image


class SharpFrameCanvas(FrameCanvas):
    """A FrameCanvas that shows still frames as Sixel or kitty graphics."""

    _serial = 0  # kitty image ids, one per canvas

    def __init__(
        self,
        protocol: str,
        cell_size: tuple[int, int],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        if protocol not in ("sixel", "kitty"):
            raise ValueError(f"unknown graphics protocol {protocol!r}")
        super().__init__(name=name, id=id, classes=classes)
        self._protocol = protocol
        self._cell = cell_size
        self._sharp: _Sharp | None = None
        self._timer: Timer | None = None
        self._changed_at = 0.0  # monotonic time of the last picture change
        self._busy = False
        self._waiting: _Request | None = None
        self._images: LRUCache[tuple[object, ...], str] = LRUCache(CACHED_IMAGES)
        SharpFrameCanvas._serial += 1
        self._serial = SharpFrameCanvas._serial

    @property
    def renderer(self) -> str:
        return self._protocol

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._on_screen_change)

    # -- when ---------------------------------------------------------------------------------------------------

    def _update_picture(self) -> None:
        if not self.is_mounted:  # nothing to draw on yet (and no app to ask about colours)
            super()._update_picture()
            return
        before = self._sharp_key()
        super()._update_picture()
        key = self._sharp_key()
        if key == before and (self._sharp is not None or self._timer is not None or self._busy):
            return  # the same picture shown again (e.g. after an engine event): keep what is on its way
        if self._sharp is not None and self._sharp.key != key:
            self._drop_sharp()
        self._changed_at = time.monotonic()
        self._restart_timer()

    def _restart_timer(self, delay: float = IDLE_DELAY) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self._request_sharp) if self.is_mounted else None

    def _on_screen_change(self, screen: Screen[object]) -> None:
        if not self.is_attached:
            return
        if screen is self.screen:
            self._restart_timer()
        elif self._sharp is not None:
            self._drop_sharp()  # graphics would be drawn over the dialog

    def _drop_sharp(self) -> None:
        """Back to half blocks: repaint every cell (the terminal shows graphics over or instead of them)."""
        self._sharp = None
        self.refresh()

    # -- what ---------------------------------------------------------------------------------------------------

    @property
    def _truecolor(self) -> bool:
        return self.app.console.color_system == "truecolor"

    def _sharp_key(self) -> tuple[object, ...]:
        return (self._picture_key, self.content_size, self._cell, self._truecolor)

    def _pixel_size(self, view: Viewport) -> tuple[int, int]:
        cols, rows = self.content_size
        width, height = cols * self._cell[0], rows * self._cell[1]
        if self._protocol == "kitty":
            # kitty scales the image to its cells: no need to send more pixels than the video has there.
            shrink = min(1.0, 1.0 / (view.scale[0] * self._cell[0]))
            width, height = max(1, round(width * shrink)), max(1, round(height * shrink))
        return width, height

    def _can_show_sharp(self) -> bool:
        if self._picture is None or self._image is None or self._view is None:
            return False
        if not self.screen.is_active:
            return False
        if self._protocol == "kitty":
            cols, rows = self.content_size
            return (
                self.app.console.color_system in ("truecolor", "256") and max(cols, rows) <= kitty.MAX_CELLS
            )
        return True

    def _request_sharp(self) -> None:
        self._timer = None
        still_for = time.monotonic() - self._changed_at
        if still_for < IDLE_DELAY:  # a busy event loop ran the timer late, after newer frames
            self._restart_timer(IDLE_DELAY - still_for)
            return
        if not self._can_show_sharp():
            return
        key = self._sharp_key()
        if self._sharp is not None and self._sharp.key == key:
            return
        cached = self._images.get(key)
        if cached is not None:
            self._show_sharp(_Sharp(key, cached))
            return
        assert self._image is not None and self._view is not None
        request = _Request(
            key,
            self._image,
            self._effective_overlay(),
            self._view,
            self._pixel_size(self._view),
            self.content_size,
        )
        if self._busy:
            self._waiting = request
            return
        self._start(request)

    def _start(self, request: _Request) -> None:
        self._busy = True
        image_id = self._image_id()
        self.run_worker(
            functools.partial(self._encode, request, image_id),
            name="sharp image",
            group=f"sharp-image-{self._serial}",
            thread=True,
            exit_on_error=False,
        )

    def _image_id(self) -> int:
        return kitty.image_id(self._serial, self._truecolor)

    def _encode(self, request: _Request, image_id: int) -> None:
        """Runs in a worker thread: compose at pixel size and encode; hands the result to the UI thread."""
        data: str | None
        try:
            rgb = compose(request.image, request.overlay, request.view, *request.size)
            if self._protocol == "sixel":
                data = encode_sixel(rgb)
            else:
                data = kitty.transmit(rgb, image_id, *request.cells)
        except Exception:  # a failed encode leaves the half-block picture; never the app
            log.exception("encoding the %s image failed", self._protocol)
            data = None
        with contextlib.suppress(RuntimeError):  # the app is closing
            self.app.call_from_thread(self._encoded, request.key, data)

    def _encoded(self, key: tuple[object, ...], data: str | None) -> None:
        self._busy = False
        if data is not None:
            self._images.set(key, data)
            if key == self._sharp_key() and self._can_show_sharp():
                self._show_sharp(_Sharp(key, data))
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting.key == self._sharp_key() and waiting.key != key:
            self._start(waiting)

    def _show_sharp(self, sharp: _Sharp) -> None:
        self._sharp = sharp
        if self._protocol == "sixel":
            # The half-block cells stay; only the last row changes: it now ends with the image.
            cols, rows = self.content_size
            self.refresh(Region(0, rows - 1, cols, 1))
        else:
            self.refresh()

    # -- how ----------------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        sharp = self._sharp
        if sharp is None or not self.screen.is_active:
            return strip
        cols, rows = self.content_size
        if self._protocol == "kitty":
            strip = kitty.placeholder_rows(cols, rows, self._image_id(), self._truecolor)[y]
        if y != rows - 1:
            return strip
        region = self.content_region
        if self._protocol == "sixel":
            tail = sixel_segment(sharp.data, region.x, region.y)
        else:
            tail = kitty.control_segment(sharp.data)
        return Strip([*strip, tail], strip.cell_length)
