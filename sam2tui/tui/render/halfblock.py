"""RGB canvas -> Textual Strips of half blocks: each cell shows two pixels, upper and lower.

Bytes on the wire are what limits the frame rate over SSH, so:
- colours are quantised to 5 bits per channel, which makes neighbouring cells share colours;
- Textual writes one SGR sequence per Segment, so a Segment spans as many cells as one (fg, bg) pair can
  draw: '▀' (fg over bg), '▄' (bg over fg), '█' (fg) and ' ' (bg) all fit in one run;
- Style objects are kept per colour pair across frames: Textual caches the rendered SGR text on the Style.

A row may also carry other glyphs (octants or sextants on a mask's edge, render/blocks.py): a third channel
holds the glyph's code point (0: a half block), drawn with the cell's two colours as foreground and
background.
"""

from __future__ import annotations

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

QUANT_BITS = 5
_MAX_STYLES = 1 << 17  # colour pairs kept before the cache starts over (a few MB)

UPPER, LOWER, FULL, BLANK = "▀", "▄", "█", " "


def pack(rgb: np.ndarray) -> np.ndarray:
    """...x3 uint8 RGB -> int32 packed 5-bit colours."""
    q = (rgb >> (8 - QUANT_BITS)).astype(np.int32)
    packed: np.ndarray = (q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]
    return packed


def quantise(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB (H even) -> (H/2, W, 2) int32 packed 5-bit colours of the upper and lower pixels."""
    if image.ndim != 3 or image.shape[0] % 2:
        raise ValueError(f"a half-block canvas needs an even number of pixel rows, got {image.shape}")
    packed = pack(image)
    return np.stack((packed[0::2], packed[1::2]), axis=-1)


def _expand(v: int) -> int:
    return (v << 3) | (v >> 2)  # 0..31 -> 0..255, both ends exact


_COLORS: list[RichColor | None] = [None] * (1 << (3 * QUANT_BITS))  # filled on first use


def _rich_color(packed: int) -> RichColor:
    color = _COLORS[packed]
    if color is None:
        color = _COLORS[packed] = RichColor.from_rgb(
            _expand((packed >> 10) & 31), _expand((packed >> 5) & 31), _expand(packed & 31)
        )
    return color


class HalfBlockPainter:
    """Builds the Strips of quantised cells; one painter per canvas keeps its Style cache warm."""

    def __init__(self) -> None:
        self._styles: dict[tuple[int, int], Style] = {}

    def _style(self, fg: int, bg: int) -> Style:
        key = (fg, bg)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) >= _MAX_STYLES:
                self._styles.clear()
            color = None if fg < 0 else _rich_color(fg)
            style = self._styles[key] = Style(color=color, bgcolor=_rich_color(bg))
        return style

    def strip(self, row: np.ndarray) -> Strip:
        """One text row from its (W, 2) quantised cells (upper, lower), or (W, 3) with glyphs (fg, bg, code
        point; 0: a half block)."""
        if row.shape[1] < 3 or not row[:, 2].any():
            return Strip(self._half_blocks(row[:, 0].tolist(), row[:, 1].tolist()), len(row))
        segments: list[Segment] = []
        start = 0
        for x in np.flatnonzero(row[:, 2]).tolist():
            if x > start:
                segments += self._half_blocks(row[start:x, 0].tolist(), row[start:x, 1].tolist())
            fg, bg, code = row[x].tolist()
            segments.append(Segment(chr(code), self._style(fg, bg)))
            start = x + 1
        if start < len(row):
            segments += self._half_blocks(row[start:, 0].tolist(), row[start:, 1].tolist())
        return Strip(segments, len(row))

    def _half_blocks(self, uppers: list[int], lowers: list[int]) -> list[Segment]:
        segments: list[Segment] = []
        fg = bg = -1  # the segment's colours; fg -1 while all its cells are one colour (drawn as ' ')
        text: list[str] = []
        for upper, lower in zip(uppers, lowers, strict=True):
            if text:
                char: str | None
                if fg < 0:  # so far one colour (bg): a second colour may join as fg
                    if upper == bg:
                        char = BLANK if lower == bg else LOWER
                        fg = -1 if lower == bg else lower
                    elif lower == bg or upper == lower:
                        char = UPPER if lower == bg else FULL
                        fg = upper
                    else:
                        char = None
                elif upper == fg:
                    char = UPPER if lower == bg else FULL if lower == fg else None
                elif upper == bg:
                    char = LOWER if lower == fg else BLANK if lower == bg else None
                else:
                    char = None
                if char is not None:
                    text.append(char)
                    continue
                segments.append(Segment("".join(text), self._style(fg, bg)))
                text = []
            if upper == lower:
                fg, bg = -1, upper
                text.append(BLANK)
            else:
                fg, bg = upper, lower
                text.append(UPPER)
        if text:
            segments.append(Segment("".join(text), self._style(fg, bg)))
        return segments
