"""RGB -> Sixel, placed over the canvas from the end of its last text row.

The encoder is textual-image's (palette quantisation and numpy band packing, ~0.3 s for 1600x960 on one
core). Its `_sixel` module is imported directly: unlike `textual_image.renderable` and `.widget` it does not
query the terminal on import.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from rich.segment import ControlType, Segment
from rich.style import Style
from textual_image._sixel import image_to_sixels

_NO_STYLE = Style()
# A zero-width control segment: Textual passes its text through verbatim and counts no cells for it.
_CONTROL = ((ControlType.CURSOR_FORWARD, 0),)


def encode_sixel(image: np.ndarray) -> str:
    """HxWx3 uint8 RGB -> a complete Sixel sequence (DCS ... ST), 256 colours."""
    return image_to_sixels(Image.fromarray(image))


def sixel_segment(sixel: str, x: int, y: int) -> Segment:
    """Draw `sixel` with its top-left at screen cell (x, y), then put the cursor back where it was.

    Goes at the end of a line's segments: DECSC/DECRC keep the cursor where Textual expects it, so
    whatever Textual writes after it on that line lands in the right place.
    """
    return Segment(f"\x1b7\x1b[{y + 1};{x + 1}H{sixel}\x1b8", _NO_STYLE, _CONTROL)
