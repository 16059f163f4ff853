"""Octant and sextant edges in text mode (render/blocks.py): the glyph tables, the edge cells, the canvas."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from textual.app import App, ComposeResult

from sam2tui.masks import encode
from sam2tui.tui.compose import MaskLayer, Overlay
from sam2tui.tui.render.blocks import OCTANTS, SEXTANTS, edge_cells
from sam2tui.tui.widgets.frame_canvas import FrameCanvas, make_canvas
from tests.test_frame_canvas import SIZE, gradient_frame

ORANGE = (230, 159, 0)


def samples(pattern: int, count: int) -> str:
    return "".join(str(n + 1) for n in range(count) if pattern >> n & 1)


def test_sextants_follow_their_unicode_names() -> None:
    assert len(set(SEXTANTS)) == 64 and SEXTANTS[0] == " " and SEXTANTS[63] == "\u2588"
    assert SEXTANTS[21] == "\u258c" and SEXTANTS[42] == "\u2590"  # left and right half blocks
    for pattern in range(1, 63):
        if pattern not in (21, 42):
            assert unicodedata.name(SEXTANTS[pattern]) == f"BLOCK SEXTANT-{samples(pattern, 6)}"
    assert SEXTANTS[1] == "\U0001fb00" and SEXTANTS[62] == "\U0001fb3b"


def test_octants_are_the_unicode_16_block_in_pattern_order() -> None:
    # Known glyphs (Unicode 16 names; this Python's unicodedata may predate them).
    assert OCTANTS[0b00000100] == "\U0001cd00"  # BLOCK OCTANT-3, the first
    assert OCTANTS[0b00010111] == "\U0001cd0f"  # BLOCK OCTANT-1235
    assert OCTANTS[0b01110111] == "\U0001cd68"  # BLOCK OCTANT-123567
    assert OCTANTS[0b11111110] == "\U0001cde5"  # BLOCK OCTANT-2345678, the last
    assert OCTANTS[0b10000000] == "\U0001cea0"  # OCTANT-8 is RIGHT HALF LOWER ONE QUARTER BLOCK
    assert OCTANTS[0b00010100] == "\U0001fbe6"  # OCTANT-35 is MIDDLE LEFT ONE QUARTER BLOCK
    in_block = [g for g in OCTANTS if 0x1CD00 <= ord(g) <= 0x1CDE5]
    assert [ord(g) for g in in_block] == list(range(0x1CD00, 0x1CDE6))  # 230, in pattern order
    assert len(set(OCTANTS)) == 256
    # The patterns older characters draw, by their names.
    known = {
        0b00001111: "UPPER HALF BLOCK",
        0b11110000: "LOWER HALF BLOCK",
        0b01010101: "LEFT HALF BLOCK",
        0b10101010: "RIGHT HALF BLOCK",
        0b00000101: "QUADRANT UPPER LEFT",
        0b10100101: "QUADRANT UPPER LEFT AND LOWER RIGHT",
        0b00000011: "UPPER ONE QUARTER BLOCK",
        0b11111100: "LOWER THREE QUARTERS BLOCK",
    }
    for pattern, name in known.items():
        assert unicodedata.name(OCTANTS[pattern]) == name


def test_edge_cells_split_a_cell_along_the_mask() -> None:
    # Two cells of 2x4 samples: the first crossed by the mask's edge (its left column), the second inside.
    labels = np.zeros((4, 4), np.uint8)
    labels[:, 0] = 1
    labels[:, 2:] = 1
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[labels == 1] = ORANGE
    rgb[labels == 0] = (10, 20, 30)
    edge, pattern, fg, bg = edge_cells(rgb, labels, (2, 4))
    assert edge.tolist() == [[True, False]]
    assert pattern.tolist() == [0b01010101] and OCTANTS[pattern[0]] == "\u258c"
    assert tuple(fg[0]) == ORANGE and tuple(bg[0]) == (10, 20, 30)
    # Where two masks meet, the one on top (the higher label) is the foreground.
    labels = np.array([[1, 2], [1, 2], [2, 2]], np.uint8)
    edge, pattern, _, _ = edge_cells(np.zeros((3, 2, 3), np.uint8), labels, (2, 3))
    assert edge[0, 0] and pattern[0] == 0b111010
    assert unicodedata.name(SEXTANTS[pattern[0]]) == "BLOCK SEXTANT-2456"


CENTRE, RADIUS = (160, 80), 60  # a disc in frame pixels: its contour crosses cells at every angle


class EdgeApp(App[None]):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def compose(self) -> ComposeResult:
        yield make_canvas(self.mode, id="canvas")

    def on_mount(self) -> None:
        ys, xs = np.mgrid[0:160, 0:320]
        disc = (xs + 0.5 - CENTRE[0]) ** 2 + (ys + 0.5 - CENTRE[1]) ** 2 <= RADIUS**2
        overlay = Overlay(masks=(MaskLayer(1, encode(disc), ORANGE, True),))
        self.query_one(FrameCanvas).show(0, gradient_frame(), overlay)


@pytest.mark.parametrize(
    ("mode", "block"), [("octant", range(0x1CD00, 0x1CDE6)), ("sextant", range(0x1FB00, 0x1FB3C))]
)
async def test_the_canvas_draws_mask_contours_in_finer_glyphs_and_half_blocks_elsewhere(
    mode: str, block: range
) -> None:
    app = EdgeApp(mode)
    async with app.run_test(size=SIZE):
        canvas = app.query_one(FrameCanvas)
        assert canvas.renderer == mode
        text = ["".join(s.text for s in canvas.render_line(y)) for y in range(SIZE[1])]
    finer = [(y, x) for y, line in enumerate(text) for x, c in enumerate(line) if ord(c) in block]
    assert len(finer) >= 10
    # Every cell that is not a half block (the block's glyphs, quadrants, ...) lies on the contour: a cell
    # is 4x8 frame pixels, rows 0-1 are letterbox.
    half_blocks = {" ", "\u2580", "\u2584", "\u2588"}
    others = [(y, x) for y, line in enumerate(text) for x, c in enumerate(line) if c not in half_blocks]
    for y, x in others:
        cx, cy = (x + 0.5) * 4, (y - 2 + 0.5) * 8
        assert abs(np.hypot(cx - CENTRE[0], cy - CENTRE[1]) - RADIUS) <= 9, (y, x)
