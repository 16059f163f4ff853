"""kitty graphics protocol with Unicode placeholders: the image lives in cells Textual draws as text.

The image is transmitted as a 256-colour PNG (base64, 4 KiB chunks: about a third of the bytes of the same
picture as Sixel, a quarter of compressed RGB, encoded in ~30 ms) with a virtual placement of
`cols x rows` cells; each cell of the canvas is then the placeholder character U+10EEEE whose foreground
colour carries the image id and whose diacritics give the row (first cell of a row only: the cells to its
right inherit the row and count the columns up). Textual composes, crops and diffs these cells like any
text, so overlays, dialogs and partial repaints just work; kitty draws the image in them.

The id travels as a colour, and Textual sends 24-bit colour only with COLORTERM=truecolor: otherwise the id
is a palette index, sent as one (`38;5;n`).

Inside tmux (with allow-passthrough on) every command is wrapped for tmux to hand to the outer terminal, and
the id is always a palette index: tmux redraws the placeholder cells itself and passes 256-colour indices as
they are, while a 24-bit colour reaches the outer terminal only where tmux knows it has RGB.
"""

from __future__ import annotations

import base64
import io
import itertools
from functools import lru_cache

import numpy as np
from PIL import Image
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from sam2tui.tui.render.sharp import MAX_UPDATE, CanvasCells, SharpEncoder, changed_rect
from sam2tui.tui.termcaps import tmux_passthrough
from sam2tui.tui.viewport import Viewport

PLACEHOLDER = "\U0010eeee"
CHUNK = 4096

# Row/column numbers as combining marks (kitty's rowcolumn-diacritics.txt, in order).
_DIACRITICS = (
    "\u0305\u030d\u030e\u0310\u0312\u033d\u033e\u033f\u0346\u034a\u034b\u034c\u0350\u0351\u0352\u0357"
    "\u035b\u0363\u0364\u0365\u0366\u0367\u0368\u0369\u036a\u036b\u036c\u036d\u036e\u036f\u0483\u0484"
    "\u0485\u0486\u0487\u0592\u0593\u0594\u0595\u0597\u0598\u0599\u059c\u059d\u059e\u059f\u05a0\u05a1"
    "\u05a8\u05a9\u05ab\u05ac\u05af\u05c4\u0610\u0611\u0612\u0613\u0614\u0615\u0616\u0617\u0657\u0658"
    "\u0659\u065a\u065b\u065d\u065e\u06d6\u06d7\u06d8\u06d9\u06da\u06db\u06dc\u06df\u06e0\u06e1\u06e2"
    "\u06e4\u06e7\u06e8\u06eb\u06ec\u0730\u0732\u0733\u0735\u0736\u073a\u073d\u073f\u0740\u0741\u0743"
    "\u0745\u0747\u0749\u074a\u07eb\u07ec\u07ed\u07ee\u07ef\u07f0\u07f1\u07f3\u0816\u0817\u0818\u0819"
    "\u081b\u081c\u081d\u081e\u081f\u0820\u0821\u0822\u0823\u0825\u0826\u0827\u0829\u082a\u082b\u082c"
    "\u082d\u0951\u0953\u0954\u0f82\u0f83\u0f86\u0f87\u135d\u135e\u135f\u17dd\u193a\u1a17\u1a75\u1a76"
    "\u1a77\u1a78\u1a79\u1a7a\u1a7b\u1a7c\u1b6b\u1b6d\u1b6e\u1b6f\u1b70\u1b71\u1b72\u1b73\u1cd0\u1cd1"
    "\u1cd2\u1cda\u1cdb\u1ce0\u1dc0\u1dc1\u1dc3\u1dc4\u1dc5\u1dc6\u1dc7\u1dc8\u1dc9\u1dcb\u1dcc\u1dd1"
    "\u1dd2\u1dd3\u1dd4\u1dd5\u1dd6\u1dd7\u1dd8\u1dd9\u1dda\u1ddb\u1ddc\u1ddd\u1dde\u1ddf\u1de0\u1de1"
    "\u1de2\u1de3\u1de4\u1de5\u1de6\u1dfe\u20d0\u20d1\u20d4\u20d5\u20d6\u20d7\u20db\u20dc\u20e1\u20e7"
    "\u20e9\u20f0\u2cef\u2cf0\u2cf1\u2de0\u2de1\u2de2\u2de3\u2de4\u2de5\u2de6\u2de7\u2de8\u2de9\u2dea"
    "\u2deb\u2dec\u2ded\u2dee\u2def\u2df0\u2df1\u2df2\u2df3\u2df4\u2df5\u2df6\u2df7\u2df8\u2df9\u2dfa"
    "\u2dfb\u2dfc\u2dfd\u2dfe\u2dff\ua66f\ua67c\ua67d\ua6f0\ua6f1\ua8e0\ua8e1\ua8e2\ua8e3\ua8e4\ua8e5"
    "\ua8e6\ua8e7\ua8e8\ua8e9\ua8ea\ua8eb\ua8ec\ua8ed\ua8ee\ua8ef\ua8f0\ua8f1\uaab0\uaab2\uaab3\uaab7"
    "\uaab8\uaabe\uaabf\uaac1\ufe20\ufe21\ufe22\ufe23\ufe24\ufe25\ufe26\U00010a0f\U00010a38\U0001d185"
    "\U0001d186\U0001d187\U0001d188\U0001d189\U0001d1aa\U0001d1ab\U0001d1ac\U0001d1ad\U0001d242"
    "\U0001d243\U0001d244"
)
MAX_CELLS = len(_DIACRITICS)  # rows (and columns) a placement can address

# 256-colour ids: colour-cube entries that are not greys (which a terminal might treat alike).
_PALETTE_IDS = tuple(
    16 + 36 * r + 6 * g + b for r in range(6) for g in range(6) for b in range(6) if len({r, g, b}) > 1
)


def image_id(serial: int, truecolor: bool) -> int:
    """A kitty image id that survives Textual's colour handling (24-bit, or a 256-colour palette index)."""
    if truecolor:
        return 0x5A0000 + (serial % 0xFFFF) + 1
    return _PALETTE_IDS[serial % len(_PALETTE_IDS)]


def id_color(image_id: int, truecolor: bool) -> Color:
    """The placeholder cells' foreground: the id as a 24-bit colour, or as a palette index."""
    if truecolor:
        return Color.from_rgb((image_id >> 16) & 255, (image_id >> 8) & 255, image_id & 255)
    return Color.from_ansi(image_id)


def _command(keys: str, payload: str = "") -> str:
    return f"\x1b_G{keys};{payload}\x1b\\" if payload else f"\x1b_G{keys}\x1b\\"


def encode_png(image: np.ndarray) -> bytes:
    """HxWx3 RGB -> a 256-colour PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).quantize(256, method=Image.Quantize.FASTOCTREE).save(
        buffer, "PNG", compress_level=6
    )
    return buffer.getvalue()


def _png_commands(image: np.ndarray, keys: str) -> list[str]:
    """`image` as a PNG in base64 chunks, the first chunk's command with `keys`."""
    data = base64.standard_b64encode(encode_png(image)).decode("ascii")
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    return [
        _command(
            f"{keys},q=2,m={int(n < len(chunks) - 1)}" if n == 0 else f"q=2,m={int(n < len(chunks) - 1)}",
            chunk,
        )
        for n, chunk in enumerate(chunks)
    ]


def transmit(image: np.ndarray, image_id: int, cols: int, rows: int, tmux: bool = False) -> str:
    """Commands that (re)place `image` (HxWx3 RGB) under `image_id`, stretched over `cols x rows` cells
    (`tmux`: each wrapped for tmux's passthrough)."""
    out = _png_commands(image, f"a=t,f=100,i={image_id}")
    out.append(_command(f"a=p,U=1,i={image_id},c={cols},r={rows},q=2"))
    return "".join(map(tmux_passthrough, out) if tmux else out)


def edit(patch: np.ndarray, image_id: int, x: int, y: int, tmux: bool = False) -> str:
    """Commands that overwrite the rectangle of image `image_id` at pixel (x, y) with `patch` (HxWx3 RGB):
    an edit of its root frame (a=f, r=1) replacing the pixels (X=1); its placements show it at once."""
    out = _png_commands(patch, f"a=f,f=100,i={image_id},r=1,x={x},y={y},X=1")
    return "".join(map(tmux_passthrough, out) if tmux else out)


@lru_cache(maxsize=8)
def placeholder_rows(cols: int, rows: int, image_id: int, truecolor: bool) -> tuple[Strip, ...]:
    """The text rows that show the image: U+10EEEE cells, the first of each row with row and column marks."""
    if cols > MAX_CELLS or rows > MAX_CELLS:
        raise ValueError(f"kitty placeholders address at most {MAX_CELLS} cells, canvas is {cols}x{rows}")
    style = Style(color=id_color(image_id, truecolor))
    rest = PLACEHOLDER * (cols - 1)
    return tuple(
        Strip([Segment(PLACEHOLDER + _DIACRITICS[row] + _DIACRITICS[0] + rest, style)], cols)
        for row in range(rows)
    )


class KittyEncoder(SharpEncoder):
    """kitty graphics in Unicode placeholder cells; each encoder (one per canvas) has its own image id."""

    name = "kitty"
    updates = True
    _serials = itertools.count(1)

    def __init__(self, cell_size: tuple[int, int], tmux: bool = False) -> None:
        super().__init__(cell_size, tmux)
        self._serial = next(KittyEncoder._serials)

    def _truecolor_id(self, cells: CanvasCells) -> bool:
        return cells.truecolor and not self.tmux

    def _image_id(self, cells: CanvasCells) -> int:
        return image_id(self._serial, self._truecolor_id(cells))

    def can_show(self, cells: CanvasCells) -> bool:
        # The id needs a colour Textual sends as it is; the placeholders' diacritics number MAX_CELLS rows.
        return cells.color_system in ("truecolor", "256") and max(cells.cols, cells.rows) <= MAX_CELLS

    def image_size(self, cells: CanvasCells, view: Viewport) -> tuple[int, int]:
        # kitty scales the image to its cells: no need to send more pixels than the video has there.
        width, height = super().image_size(cells, view)
        shrink = min(1.0, 1.0 / (view.scale[0] * self.cell_size[0]))
        return max(1, round(width * shrink)), max(1, round(height * shrink))

    def encode(self, rgb: np.ndarray, cells: CanvasCells) -> str:
        """The commands that transmit the image and place it over the cells."""
        return transmit(rgb, self._image_id(cells), cells.cols, cells.rows, self.tmux)

    def encode_update(self, before: np.ndarray, after: np.ndarray, cells: CanvasCells) -> str | None:
        """Only the rectangle that changed (a click: a mark and a mask), as an edit of the image."""
        if before.shape != after.shape:
            return None
        rect = changed_rect(before, after)
        if rect is None:
            return ""
        x0, y0, x1, y1 = rect
        if (x1 - x0) * (y1 - y0) > MAX_UPDATE * after.shape[0] * after.shape[1]:
            return None
        return edit(after[y0:y1, x0:x1], self._image_id(cells), x0, y0, self.tmux)

    def rows_changed(self, cells: CanvasCells) -> range:
        return range(cells.rows)  # every row becomes placeholders

    def text_row(self, y: int, half_blocks: Strip, cells: CanvasCells) -> Strip:
        return placeholder_rows(cells.cols, cells.rows, self._image_id(cells), self._truecolor_id(cells))[y]

    def placed(self, image: str, origin: tuple[int, int]) -> str:
        return image  # the placeholders say where
