"""The sharp view's encoder interface: a still, composed canvas as terminal graphics (Sixel, kitty).

The frame canvas shows half blocks while frames change; once a frame has been still for a moment it composes
the same picture at `image_size` pixels, has its encoder turn it into escape sequences (`encode`, in a worker
thread), and from then on draws each text row with `line`: the encoder decides what the rows show and where
the image's sequences ride (at the end of the last row). Going back to half blocks is a full repaint of the
rows, which replaces whatever the image put there; the next `encode` replaces the image itself. An encoder
that `updates` instead keeps its image on screen through an overlay change (a click) and sends only the
changed rectangle (`encode_update`): kitty edits the image it keeps, Sixel draws the part over the old one.

Encoders are plain objects, one per canvas: the canvas knows this interface, not the protocols.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.strip import Strip

from sam2tui.tui.viewport import Viewport

_NO_STYLE = Style()
# A zero-width control segment: Textual passes its text through verbatim and counts no cells for it.
_CONTROL = ((ControlType.CURSOR_FORWARD, 0),)


MAX_UPDATE = 0.5  # a changed part over this fraction of the image is sent as a whole image


def changed_rect(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    """The smallest (x0, y0, x1, y1) holding every pixel that differs; None when none does."""
    changed = (before != after).any(axis=2)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def control_segment(sequences: str) -> Segment:
    """Escape sequences as a zero-width segment (put it last on a line)."""
    return Segment(sequences, _NO_STYLE, _CONTROL)


@dataclass(frozen=True)
class CanvasCells:
    """The text cells an image covers and the colours the terminal is sent (Rich's colour system name)."""

    cols: int
    rows: int
    color_system: str | None

    @property
    def truecolor(self) -> bool:
        return self.color_system == "truecolor"


class SharpEncoder(ABC):
    """Turns a composed RGB canvas into the sequences that show it on `cells`, and draws the rows meanwhile."""

    name: ClassVar[str]  # the renderer's name, as `TermCaps.choose_renderer` gives it
    # Whether `encode_update` can change part of the image on screen: then an overlay change keeps the
    # image shown (not the half blocks) until its update arrives.
    updates: ClassVar[bool] = False

    def __init__(self, cell_size: tuple[int, int], tmux: bool = False) -> None:
        self.cell_size = cell_size  # the terminal's cell in pixels (width, height)
        self.tmux = tmux  # inside tmux: sequences for the terminal outside go through passthrough

    def can_show(self, cells: CanvasCells) -> bool:
        """Whether this terminal state allows the image at all (else the canvas keeps its half blocks)."""
        return True

    def image_size(self, cells: CanvasCells, view: Viewport) -> tuple[int, int]:
        """Pixels (width, height) to compose the picture at: by default the cells' own pixels."""
        return cells.cols * self.cell_size[0], cells.rows * self.cell_size[1]

    @abstractmethod
    def encode(self, rgb: np.ndarray, cells: CanvasCells) -> str:
        """HxWx3 uint8 RGB at `image_size` -> the sequences that show it. Runs in a worker thread."""

    def encode_update(self, before: np.ndarray, after: np.ndarray, cells: CanvasCells) -> str | None:
        """The sequences that change the image on screen, encoded from `before`, into `after` (both at
        `image_size`); None: send `after` whole. Runs in a worker thread."""
        return None

    @abstractmethod
    def rows_changed(self, cells: CanvasCells) -> range:
        """The text rows that differ once the image is shown (the canvas repaints only these)."""

    @abstractmethod
    def text_row(self, y: int, half_blocks: Strip, cells: CanvasCells) -> Strip:
        """The text of row `y` while the image is shown (`half_blocks`: the row without it)."""

    @abstractmethod
    def placed(self, image: str, origin: tuple[int, int]) -> str:
        """The sequences that draw `image` (from `encode`) on a canvas whose top-left is screen cell `origin`."""

    def line(
        self, y: int, half_blocks: Strip, image: str, cells: CanvasCells, origin: tuple[int, int]
    ) -> Strip:
        """Row `y` of a canvas showing `image`: the encoder's text, and on the last row the image itself."""
        strip = self.text_row(y, half_blocks, cells)
        if y != cells.rows - 1:
            return strip
        return Strip([*strip, control_segment(self.placed(image, origin))], strip.cell_length)
