"""Mask edges in text mode: octant (2x4 samples, Unicode 16) or sextant (2x3, Unicode 13) block characters.

A half-block cell shows 1x2 samples; a cell on a mask's contour can show 2x4 (octant) or 2x3 (sextant) with
two colours, the mask's inside as the foreground and the rest as the background. `edge_cells` finds those
cells in a picture composed at the finer resolution with its mask labels (compose.compose_labelled) and
gives each its glyph and two colours; every other cell stays a half block, averaged from the same picture.

The glyph tables, derived from the Unicode names: samples are numbered row by row, left then right
(1 2 / 3 4 / 5 6 [/ 7 8]), and a pattern is the number whose bit n-1 says sample n is foreground.
- Sextants: "BLOCK SEXTANT-1" .. "BLOCK SEXTANT-23456" are U+1FB00..U+1FB3B, the patterns 1..62 in order
  without the two that older characters draw: 21 (1 3 5, LEFT HALF BLOCK) and 42 (2 4 6, RIGHT HALF BLOCK).
- Octants: "BLOCK OCTANT-3" .. "BLOCK OCTANT-2345678" are U+1CD00..U+1CDE5, the patterns 1..254 in order
  without the 24 that other characters already draw (`_OCTANTS_ELSEWHERE`): quadrants, halves, one- and
  three-quarter blocks, and four Unicode 16 "one quarter" blocks of the sixteenths (U+1CEA0..).
Pattern 0 is a space and the full pattern U+2588 in both.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from sam2tui.tui.render.halfblock import pack, quantise

BLANK, FULL = " ", "\u2588"

_SEXTANTS_ELSEWHERE = {21: "\u258c", 42: "\u2590"}
_OCTANTS_ELSEWHERE = {
    1: "\U0001cea8",  # LEFT HALF UPPER ONE QUARTER BLOCK
    2: "\U0001ceab",  # RIGHT HALF UPPER ONE QUARTER BLOCK
    3: "\U0001fb82",  # UPPER ONE QUARTER BLOCK
    5: "\u2598",  # QUADRANT UPPER LEFT
    10: "\u259d",  # QUADRANT UPPER RIGHT
    15: "\u2580",  # UPPER HALF BLOCK
    20: "\U0001fbe6",  # MIDDLE LEFT ONE QUARTER BLOCK
    40: "\U0001fbe7",  # MIDDLE RIGHT ONE QUARTER BLOCK
    63: "\U0001fb85",  # UPPER THREE QUARTERS BLOCK
    64: "\U0001cea3",  # LEFT HALF LOWER ONE QUARTER BLOCK
    80: "\u2596",  # QUADRANT LOWER LEFT
    85: "\u258c",  # LEFT HALF BLOCK
    90: "\u259e",  # QUADRANT UPPER RIGHT AND LOWER LEFT
    95: "\u259b",  # QUADRANT UPPER LEFT AND UPPER RIGHT AND LOWER LEFT
    128: "\U0001cea0",  # RIGHT HALF LOWER ONE QUARTER BLOCK
    160: "\u2597",  # QUADRANT LOWER RIGHT
    165: "\u259a",  # QUADRANT UPPER LEFT AND LOWER RIGHT
    170: "\u2590",  # RIGHT HALF BLOCK
    175: "\u259c",  # QUADRANT UPPER LEFT AND UPPER RIGHT AND LOWER RIGHT
    192: "\u2582",  # LOWER ONE QUARTER BLOCK
    240: "\u2584",  # LOWER HALF BLOCK
    245: "\u2599",  # QUADRANT UPPER LEFT AND LOWER LEFT AND LOWER RIGHT
    250: "\u259f",  # QUADRANT UPPER RIGHT AND LOWER LEFT AND LOWER RIGHT
    252: "\u2586",  # LOWER THREE QUARTERS BLOCK
}


def _table(samples: int, first: int, elsewhere: dict[int, str]) -> tuple[str, ...]:
    """Glyph of every pattern: the block's code points in pattern order, skipping those drawn elsewhere."""
    full = (1 << samples) - 1
    glyphs, code = [], first
    for pattern in range(1 << samples):
        if pattern == 0:
            glyphs.append(BLANK)
        elif pattern == full:
            glyphs.append(FULL)
        elif pattern in elsewhere:
            glyphs.append(elsewhere[pattern])
        else:
            glyphs.append(chr(code))
            code += 1
    return tuple(glyphs)


SEXTANTS = _table(6, 0x1FB00, _SEXTANTS_ELSEWHERE)
OCTANTS = _table(8, 0x1CD00, _OCTANTS_ELSEWHERE)
# Text modes: samples per cell (width, height) and the glyph of each pattern.
EDGE_MODES: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {
    "octant": ((2, 4), OCTANTS),
    "sextant": ((2, 3), SEXTANTS),
}


def edge_cells(
    rgb: np.ndarray, labels: np.ndarray, cell: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The cells on a mask's contour and how to draw them.

    `rgb` (HxWx3) and `labels` (HxW, 0 where no mask, else the mask on top) are at `cell` samples per cell.
    Returns `edge` (rows x cols bool) and, for its cells in row-major order, the pattern and the fg and bg
    colours (N x 3 uint8): the foreground is the samples of the highest label in the cell (the mask on top),
    the background the rest, each their mean colour.
    """
    cw, ch = cell
    rows, cols = labels.shape[0] // ch, labels.shape[1] // cw
    lab = labels[: rows * ch, : cols * cw].reshape(rows, ch, cols, cw)
    top, low = lab.max(axis=(1, 3)), lab.min(axis=(1, 3))
    edge = top != low
    r, c = np.nonzero(edge)
    inside = (lab[r, :, c, :] == top[r, c][:, None, None]).reshape(r.size, ch * cw)  # bit k: row k // cw
    pattern = (inside * (1 << np.arange(ch * cw))).sum(axis=1)
    samples = rgb[: rows * ch, : cols * cw].reshape(rows, ch, cols, cw, 3)[r, :, c]
    samples = samples.reshape(r.size, ch * cw, 3).astype(np.float32)
    weight = inside[..., None].astype(np.float32)
    count = weight.sum(axis=1)
    fg = (samples * weight).sum(axis=1) / np.maximum(count, 1)
    bg = (samples * (1 - weight)).sum(axis=1) / np.maximum(ch * cw - count, 1)
    return edge, pattern, np.rint(fg).astype(np.uint8), np.rint(bg).astype(np.uint8)


def edge_picture(rgb: np.ndarray, labels: np.ndarray, mode: str) -> np.ndarray:
    """Half-block cells (rows x cols x 3: packed fg/upper, bg/lower, code point or 0) from a picture composed
    at the mode's samples per cell: averaged down to half blocks, the contour cells as `mode` glyphs.

    One composition at the finer size serves both (composing twice would cost a third of a frame)."""
    (cw, ch), _ = EDGE_MODES[mode]
    rows, cols = labels.shape[0] // ch, labels.shape[1] // cw
    half = cv2.resize(rgb[: rows * ch, : cols * cw], (cols, rows * 2), interpolation=cv2.INTER_AREA)
    out = np.zeros((rows, cols, 3), np.int32)
    out[..., :2] = quantise(half)
    edge, pattern, fg, bg = edge_cells(rgb, labels, (cw, ch))
    out[edge, 0], out[edge, 1] = pack(fg), pack(bg)
    out[edge, 2] = _code_points(mode)[pattern]
    return out


@lru_cache(maxsize=len(EDGE_MODES))
def _code_points(mode: str) -> np.ndarray:
    return np.array([ord(glyph) for glyph in EDGE_MODES[mode][1]], np.int32)
