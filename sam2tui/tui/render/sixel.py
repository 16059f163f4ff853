"""RGB -> Sixel, placed over the canvas from the end of its last text row.

The encoder is textual-image's (palette quantisation and numpy band packing, ~0.3 s for 1600x960 on one
core). Its `_sixel` module is imported directly: unlike `textual_image.renderable` and `.widget` it does not
query the terminal on import.

Every text row keeps its half-block cells (a partial repaint by Textual shows a coarse, correct picture) and
the last row ends with the Sixel image drawn over the whole canvas. Keep a widget below the canvas: a Sixel
image touching the screen's last line can make some terminals scroll.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from textual.strip import Strip
from textual_image._sixel import image_to_sixels

from sam2tui.tui.render.sharp import CanvasCells, SharpEncoder


class SixelEncoder(SharpEncoder):
    """Sixel graphics over the half-block cells."""

    name = "sixel"

    def encode(self, rgb: np.ndarray, cells: CanvasCells) -> str:
        """A complete Sixel sequence (DCS ... ST), 256 colours."""
        return image_to_sixels(Image.fromarray(rgb))

    def rows_changed(self, cells: CanvasCells) -> range:
        return range(cells.rows - 1, cells.rows)  # the half blocks stay; the last row now ends with the image

    def text_row(self, y: int, half_blocks: Strip, cells: CanvasCells) -> Strip:
        return half_blocks

    def placed(self, image: str, origin: tuple[int, int]) -> str:
        # Drawn from the canvas's top-left; DECSC/DECRC put the cursor back where Textual expects it, so
        # whatever Textual writes after it on that line lands in the right place.
        x, y = origin
        return f"\x1b7\x1b[{y + 1};{x + 1}H{image}\x1b8"
