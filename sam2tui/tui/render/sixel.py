"""RGB -> Sixel, placed over the canvas from the end of its last text row.

Our own encoder: numpy after Pillow's palette quantisation, ~0.2 s for 1600x960 on one core (textual-image's
takes ~0.5-0.8 s). For a 1600x960 cups frame it writes 933 KB, textual-image's 939 KB, the same image.
- the picture is quantised to at most 256 colours (Pillow's fast octree, no dithering: flat areas stay
  flat, so runs stay long);
- Sixel draws bands of 6 pixel rows; each (band, colour) pair present becomes one line of sixel characters,
  one per column, whose 6 bits say which of the column's pixels have that colour. All these lines are
  built at once: for each of the 6 rows of a band, every pixel ORs its bit into its (band, colour) line;
- each line is run-length coded (`!count char` for runs of 4 or more) and cut into segments at blank
  stretches of `GAP` columns or more (and its blank ends dropped); within a band the segments are packed
  into left-to-right passes (`_passes`, the only loop: per segment), the first drawn solid, and the output
  is joined from a table of tokens with numpy indexing.

Every text row keeps its half-block cells (a partial repaint by Textual shows a coarse, correct picture) and
the last row ends with the Sixel image drawn over the whole canvas. Keep a widget below the canvas: a Sixel
image touching the screen's last line can make some terminals scroll.
"""

from __future__ import annotations

import bisect
from functools import lru_cache

import numpy as np
from PIL import Image
from textual.strip import Strip

from sam2tui.tui.render.sharp import MAX_UPDATE, CanvasCells, SharpEncoder, changed_rect

MAX_COLOURS = 256
BAND = 6  # pixel rows per sixel band
MIN_REPEAT = 4  # shorter runs are cheaper written out than as "!count char"
GAP = 10  # blank runs this long end a segment: other colours' segments can fill the gap in one pass
# DCS P1;P2;P3 q, then raster attributes "1;1;W;H" (square pixels, the image's size): every pixel is set.
HEADER = "\x1bP0;0;0q"
ST = "\x1b\\"
ORIGIN = "\x00"  # in an update: "back to the canvas's top-left" (`placed` knows where; Sixel never has NUL)


@lru_cache(maxsize=4)
def _run_tokens(width: int) -> np.ndarray:
    """Sixel text of every run: index `value * (width + 1) + length` (value 0..63, length 1..width)."""
    tokens = []
    for value in range(64):
        char = chr(0x3F + value)
        tokens.append("")  # length 0: never used
        tokens.extend(char * n if n < MIN_REPEAT else f"!{n}{char}" for n in range(1, width + 1))
    return np.array(tokens, dtype=object)


def _quantise(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HxWx3 RGB -> (HxW palette indices, Kx3 palette in Sixel percent 0..100)."""
    image = Image.fromarray(rgb).quantize(MAX_COLOURS, method=Image.Quantize.FASTOCTREE)
    indices = np.asarray(image, dtype=np.uint8)
    palette = np.asarray(image.getpalette() or [0, 0, 0], dtype=np.int32).reshape(-1, 3)
    # Sixel colours are percentages: entries that round alike are one colour (fewer lines per band).
    percent, same = np.unique((palette * 100 + 127) // 255, axis=0, return_inverse=True)
    merged = same.ravel()[indices]
    # Renumber the colours used, most frequent first: the commonest colour selections are the shortest.
    counts = np.bincount(merged.ravel(), minlength=len(percent))
    order = np.argsort(-counts, kind="stable")[: np.count_nonzero(counts)]
    renumber = np.zeros(len(percent), np.uint8)
    renumber[order] = np.arange(order.size, dtype=np.uint8)
    return renumber[merged], percent[order]


def _passes(band: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Pass number of each segment within its band, segments taken by first column (the longest first).

    Pass 0 takes every segment that starts after its last one ends (it is drawn solid: the more it covers,
    the fewer pixels the other passes draw); the others best fit, the pass whose cursor is nearest before.
    """
    pass_of = np.empty(band.size, np.int64)
    bands, firsts, ends = band.tolist(), first.tolist(), end.tolist()
    current, solid_end, cursors, owners, passes = -1, 0, [0], [0], 1  # cursors sorted, owners their passes
    for segment in np.lexsort((first - end, first, band)).tolist():
        if bands[segment] != current:
            current, solid_end, cursors, owners, passes = bands[segment], 0, [], [], 1
        start = firsts[segment]
        if start >= solid_end:
            number, solid_end = 0, ends[segment]
        else:
            k = bisect.bisect_right(cursors, start) - 1
            if k < 0:  # no pass ends before it: a new one
                number, passes = passes, passes + 1
            else:
                number = owners.pop(k)
                del cursors[k]
            k = bisect.bisect_right(cursors, ends[segment])
            cursors.insert(k, ends[segment])
            owners.insert(k, number)
        pass_of[segment] = number
    return pass_of


def encode_sixel(rgb: np.ndarray) -> str:
    """HxWx3 uint8 RGB -> a complete Sixel sequence (DCS ... ST) with raster attributes and 256 colours."""
    height, width = rgb.shape[:2]
    indices, palette = _quantise(rgb)
    colours = len(palette)
    bands = -(-height // BAND)
    # Which (band, colour) lines exist, numbered in band order then colour order.
    band_of_row = np.arange(height) // BAND
    pair = band_of_row[:, None] * colours + indices  # (H, W)
    present = np.zeros(bands * colours, bool)
    present[pair.ravel()] = True
    line_of_pair = np.cumsum(present) - 1
    lines = int(present.sum())
    bits = np.zeros(lines * width, np.uint8)
    columns = np.arange(width)
    for dy in range(BAND):
        # Row dy of every band: one pixel per (band, column), so no index repeats within one assignment.
        line = line_of_pair[pair[dy::BAND]]
        bits[(line * width + columns).ravel()] |= np.uint8(1 << dy)
    # Runs within each line: a run starts where the value changes or a line begins.
    starts_mask = np.empty(bits.size, bool)
    starts_mask[0] = True
    np.not_equal(bits[1:], bits[:-1], out=starts_mask[1:])
    starts_mask[::width] = True
    starts = np.flatnonzero(starts_mask)
    lengths = np.diff(np.append(starts, bits.size))
    values = bits[starts]
    run_line = starts // width
    # Blank runs that begin or end a line, or are at least GAP long, are not written: the drawn runs between
    # them are segments, each drawn on its own (its colour selected, the cursor moved to its start).
    first_of_line = np.append(True, run_line[1:] != run_line[:-1])
    last_of_line = np.append(run_line[1:] != run_line[:-1], True)
    dropped = (values == 0) & (first_of_line | last_of_line | (lengths >= GAP))
    new_segment = (first_of_line | np.append(False, dropped[:-1]))[~dropped]
    starts, lengths, values, run_line = (
        starts[~dropped],
        lengths[~dropped],
        values[~dropped],
        run_line[~dropped],
    )
    run_segment = np.cumsum(new_segment) - 1
    seg_first = np.flatnonzero(new_segment)
    seg_last = np.append(seg_first[1:], run_line.size) - 1
    runs_per_seg = seg_last - seg_first + 1
    seg_line = run_line[seg_first]
    pair_of_line = np.flatnonzero(present)
    seg_colour, seg_band = (pair_of_line % colours)[seg_line], (pair_of_line // colours)[seg_line]
    first_col = starts[seg_first] - seg_line * width
    end_col = starts[seg_last] + lengths[seg_last] - seg_line * width
    # Within a band, segments are packed into passes drawn left to right: a segment follows on in the pass
    # whose cursor (where its last segment ended) is nearest before the segment's first column, or starts a
    # new pass ("$", then a skip from column 0). A cups frame at 1600x960: 933 KB; 1035 with a pass per
    # line, no segments and no solid pass.
    pass_of = _passes(seg_band, first_col, end_col)
    # The first pass of a band is drawn solid (all six pixels, "!n~"): the later passes draw every pixel
    # of another colour over it, as each colour's segments cover all its pixels (textual-image's trick).
    first_pass = np.flatnonzero(pass_of == 0)
    solid = pass_of[run_segment] == 0
    full = np.full(bands, 63)
    full[-1] = (1 << (height - (bands - 1) * BAND)) - 1  # the last band may have fewer than six rows
    run_segment = np.concatenate((run_segment[~solid], first_pass))
    values = np.concatenate((values[~solid], full[seg_band[first_pass]]))
    lengths = np.concatenate((lengths[~solid], end_col[first_pass] - first_col[first_pass]))
    by_segment = np.argsort(run_segment, kind="stable")
    run_segment, values, lengths = run_segment[by_segment], values[by_segment], lengths[by_segment]
    runs_per_seg = np.bincount(run_segment, minlength=seg_first.size)
    seg_first = np.cumsum(runs_per_seg) - runs_per_seg
    order = np.lexsort((first_col, pass_of, seg_band))
    same_band = seg_band[order[1:]] == seg_band[order[:-1]]
    follows = same_band & (pass_of[order[1:]] == pass_of[order[:-1]])  # segment order[k + 1] follows on
    skip = first_col.copy()
    skip[order[1:][follows]] -= end_col[order[:-1][follows]]
    # The token stream: per segment "#colour" ("" when it follows on in the same colour), the skip to its
    # start, its runs, then "" (the next follows on), "$" or "-" (next band).
    run_tokens = _run_tokens(width)  # value * (width + 1) + length; a run of length 0 is ""
    select_base = len(run_tokens)
    carriage, newline, follow = select_base + colours, select_base + colours + 1, select_base + colours + 2
    select = select_base + seg_colour
    same_colour = seg_colour[order[1:]] == seg_colour[order[:-1]]
    select[order[1:][follows & same_colour]] = follow
    seg_start = np.empty(seg_first.size, np.int64)
    seg_start[order] = np.concatenate(([0], np.cumsum(runs_per_seg[order] + 3)[:-1]))
    stream = np.empty(values.size + 3 * seg_first.size, np.int64)
    stream[seg_start] = select
    stream[seg_start + 1] = skip
    run_rank = np.arange(values.size) - np.repeat(seg_first, runs_per_seg)
    stream[seg_start[run_segment] + 2 + run_rank] = values.astype(np.int64) * (width + 1) + lengths
    separator = np.full(seg_first.size, newline)
    separator[order[:-1]] = np.where(follows, follow, np.where(same_band, carriage, newline))
    stream[seg_start + 2 + runs_per_seg] = separator
    table = np.concatenate(
        (run_tokens, np.array([f"#{c}" for c in range(colours)] + ["$", "-", ""], dtype=object))
    )
    registers = "".join(f"#{c};2;{r};{g};{b}" for c, (r, g, b) in enumerate(palette.tolist()))
    body = "".join(table[stream[:-1]].tolist())  # the very last "-" would start a band below the image
    return f'{HEADER}"1;1;{width};{height}{registers}{body}{ST}'


class SixelEncoder(SharpEncoder):
    """Sixel graphics over the half-block cells."""

    name = "sixel"
    updates = True

    def encode(self, rgb: np.ndarray, cells: CanvasCells) -> str:
        """A complete Sixel sequence (DCS ... ST), 256 colours."""
        return encode_sixel(rgb)

    def encode_update(self, before: np.ndarray, after: np.ndarray, cells: CanvasCells) -> str | None:
        """The cells that changed (a click: a mark and a mask) as a Sixel image drawn over the old one, and
        the canvas's last text row again: the update rides on that row, which Textual rewrites as half
        blocks first. Each part starts at the canvas's top-left (`ORIGIN`, see `placed`), then moves down
        and right to its cell."""
        if before.shape != after.shape:
            return None
        rect = changed_rect(before, after)
        if rect is None:
            return ""
        (cw, ch), (height, width) = self.cell_size, after.shape[:2]
        col, row = rect[0] // cw, rect[1] // ch
        x0, y0 = col * cw, row * ch
        x1, y1 = min(width, -(-rect[2] // cw) * cw), min(height, -(-rect[3] // ch) * ch)
        if (x1 - x0) * (y1 - y0) > MAX_UPDATE * width * height:
            return None
        last = cells.rows - 1
        return (
            _moved(row, col)
            + encode_sixel(after[y0:y1, x0:x1])
            + ORIGIN
            + _moved(last, 0)
            + encode_sixel(after[last * ch : (last + 1) * ch])
        )

    def rows_changed(self, cells: CanvasCells) -> range:
        return range(cells.rows - 1, cells.rows)  # the half blocks stay; the last row now ends with the image

    def text_row(self, y: int, half_blocks: Strip, cells: CanvasCells) -> Strip:
        return half_blocks

    def placed(self, image: str, origin: tuple[int, int]) -> str:
        # Drawn from the canvas's top-left (also where an update says ORIGIN); DECSC/DECRC put the cursor
        # back where Textual expects it, so whatever Textual writes after it on that line lands right.
        x, y = origin
        home = f"\x1b[{y + 1};{x + 1}H"
        return f"\x1b7{home}{image.replace(ORIGIN, home)}\x1b8"


def _moved(rows: int, cols: int) -> str:
    """Cursor moves down `rows` and right `cols` (CSI B and C move at least one, so 0 is no sequence)."""
    return (f"\x1b[{rows}B" if rows else "") + (f"\x1b[{cols}C" if cols else "")
