"""Binary masks as COCO compressed RLE, and what is derived from them: area, box, polygons, IoU.

RLEs are the dicts pycocotools reads and writes, with `counts` as `str` so they go into JSON and
SQLite as they are: `{"size": [height, width], "counts": "<str>"}`. Masks are `bool` arrays HxW.

Polygons follow OpenCV's convention (what `cv2.fillPoly` and the YOLO-seg tools read back): the
vertices are the centres of the boundary pixels, so filling the polygons reproduces the mask (see
`polygons` for the one exception, around holes).

>>> mask = np.zeros((4, 6), bool); mask[1:3, 2:5] = True
>>> rle = encode(mask)
>>> rle["size"], area(rle), box(rle)
([4, 6], 6, (2, 1, 3, 2))
>>> bool((decode(rle) == mask).all())
True
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from pycocotools import mask as coco_mask

from sam2tui.values import Box, Rle

Polygon = npt.NDArray[np.float64]
"""Nx2 array of (x, y) vertices in pixels."""

MAX_PIXELS = 1 << 28
"""The largest mask decoded (16384 x 16384 pixels); a larger `size` is damage, not something to allocate."""

SLIVER = 0.25
"""Width in pixels of the polygon that stands for a part one pixel thin (see `polygons`)."""


def encode(mask: np.ndarray) -> Rle:
    """A HxW bool/uint8 mask as a COCO compressed RLE with `str` counts."""
    if mask.ndim != 2:
        raise ValueError(f"a mask must be HxW, got shape {mask.shape}")
    rle = coco_mask.encode(column_major(mask))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def column_major(mask: np.ndarray) -> npt.NDArray[np.uint8]:
    """The mask as pycocotools reads it: column-major 0/1 uint8 (anything else is silently misread: 255
    counts as a run change). OpenCV's transpose makes the copy about 15x faster than numpy's (0.04 vs
    0.65 ms at 960x540), which is most of an encode of a simple mask."""
    binary = (mask if mask.dtype == np.bool_ else mask != 0).view(np.uint8)
    if binary.flags.f_contiguous:
        return binary
    return cv2.transpose(np.ascontiguousarray(binary)).T.astype(np.uint8, copy=False)


def decode(rle: Rle) -> npt.NDArray[np.bool_]:
    """The bool HxW mask of an RLE (C-contiguous)."""
    return np.ascontiguousarray(coco_mask.decode(_coco(rle)), dtype=bool)


def area(rle_or_mask: Rle | np.ndarray) -> int:
    """The number of pixels in the mask."""
    if isinstance(rle_or_mask, np.ndarray):
        return int(np.count_nonzero(rle_or_mask))
    return int(coco_mask.area(_coco(rle_or_mask)))


def box(rle_or_mask: Rle | np.ndarray) -> Box | None:
    """The tight box (x, y, w, h) in pixels around the mask; None when the mask is empty."""
    if isinstance(rle_or_mask, np.ndarray):
        rows = np.flatnonzero(rle_or_mask.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(rle_or_mask.any(axis=0))
        return (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
    rle = _coco(rle_or_mask)
    if coco_mask.area(rle) == 0:
        return None
    x, y, w, h = coco_mask.toBbox(rle)
    return (int(x), int(y), int(w), int(h))


def iou(a: Rle | np.ndarray, b: Rle | np.ndarray) -> float:
    """Intersection over union of two masks of the same size; 1.0 when both are empty."""
    ra, rb = _coco(a), _coco(b)
    if list(ra["size"]) != list(rb["size"]):
        raise ValueError(f"masks of different sizes: {list(ra['size'])} and {list(rb['size'])}")
    if coco_mask.area(ra) == 0 and coco_mask.area(rb) == 0:
        return 1.0
    return float(coco_mask.iou([ra], [rb], [0])[0][0])


def count_parts(mask: np.ndarray) -> int:
    """The number of connected parts of the mask (8-connectivity)."""
    labels, _ = cv2.connectedComponents(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8)
    return int(labels) - 1


def polygons(mask: np.ndarray, *, min_points: int = 3) -> list[Polygon]:
    """One polygon per connected part of the mask, with the part's holes cut into it.

    Filling the polygons (`cv2.fillPoly` of the vertices, rounded or truncated) covers every pixel of the
    mask, and nothing more unless the mask has holes (a hole's cut is drawn as a line, and a cut that
    crosses a bay or another hole adds the pixels along it). The rules:
    - every part (8-connected, as OpenCV traces it) yields one polygon; parts inside holes are parts;
    - a hole is joined to its part's outline by a zero-width cut (there and back along the same
      segment, between nearby vertices), so one polygon carries its holes under the even-odd and
      non-zero fill rules alike;
    - a part whose outline is not a polygon (one pixel, or a straight line one pixel wide) becomes a
      sliver a quarter pixel wide along its pixel centres instead of being dropped: it has an area,
      and its vertices round or truncate back to those pixels;
    - every polygon has at least `min_points` vertices (edge midpoints are added where needed).
    """
    contours, hierarchy = cv2.findContours(
        np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if hierarchy is None:
        return []
    links = hierarchy[0]  # per contour: next, previous, first child, parent
    result: list[Polygon] = []
    for index, contour in enumerate(contours):
        if links[index][3] != -1:
            continue  # a hole; joined to its outer contour below
        outline = _vertices(contour)
        if len(outline) < 3:
            outline = _sliver(outline)
        child = links[index][2]
        while child != -1:
            outline = _splice(outline, _vertices(contours[child]))
            child = links[child][0]
        result.append(_densify(outline, min_points))
    return result


def single_polygon(mask: np.ndarray, *, min_points: int = 3) -> Polygon:
    """The mask as ONE polygon (one YOLO-seg instance); ValueError when the mask is empty.

    The polygons of its parts (see `polygons`) are joined in the order OpenCV traces them, each to the
    next by the shortest line between their closest vertices, walked there and back: the join Ultralytics'
    COCO converter makes (`merge_multi_segment`). A join has no width, so filling the polygon covers every
    pixel of the mask, plus the pixels the joining lines cross.
    """
    parts = polygons(mask, min_points=min_points)
    if not parts:
        raise ValueError("an empty mask has no polygon")
    return _join(parts)


def _join(parts: list[Polygon]) -> Polygon:
    """One polygon through all `parts`: forward through each part from the vertex joined to the previous
    part to the vertex joined to the next, round the last part, then back through the rest of each part.
    """
    if len(parts) == 1:
        return parts[0]
    joins: list[list[int]] = [[] for _ in parts]  # per part: its vertex joined to the previous, to the next
    for i in range(1, len(parts)):
        a, b = _closest_vertices(parts[i - 1], parts[i])
        joins[i - 1].append(a)
        joins[i].append(b)
    loops: list[Polygon] = []  # each part closed, starting at its first join
    turns: list[int] = []  # where in its loop each part joins the next one
    for part, ends in zip(parts, joins, strict=True):
        if len(ends) == 2 and ends[0] > ends[1]:
            # Walk it the other way, so the next join comes later. (Ultralytics keeps the indices of the
            # unreversed part here; mapping them keeps each join at its closest vertices.)
            part = part[::-1]
            ends = [len(part) - 1 - end for end in ends]
        loop = np.roll(part, -ends[0], axis=0)
        loops.append(np.concatenate([loop, loop[:1]]))
        turns.append(ends[-1] - ends[0])
    middle = range(1, len(parts) - 1)
    pieces = [loops[0], *(loops[i][: turns[i] + 1] for i in middle), loops[-1]]
    pieces += [loops[i][turns[i] :] for i in reversed(middle)]
    return np.concatenate(pieces)


def _closest_vertices(a: Polygon, b: Polygon) -> tuple[int, int]:
    """The indices of the closest pair of vertices, one of `a` and one of `b` (the first pair on ties)."""
    rows = max(1, (1 << 22) // len(b))  # bounds the distance matrix at 4M entries for long outlines
    best, found = np.inf, (0, 0)
    for start in range(0, len(a), rows):
        distances = ((a[start : start + rows, None, :] - b[None, :, :]) ** 2).sum(axis=-1)
        i, j = np.unravel_index(int(np.argmin(distances)), distances.shape)
        if distances[i, j] < best:
            best, found = float(distances[i, j]), (start + int(i), int(j))
    return found


def _coco(rle_or_mask: Rle | np.ndarray) -> dict[str, Any]:
    """What pycocotools takes: a mask is encoded; an RLE is checked first (ValueError when it is no valid one).

    pycocotools trusts its input: counts that cover fewer pixels than `size` leave the rest of the mask
    uninitialised, more write past it, and a huge `size` is allocated as asked. So the runs are decoded and
    summed here before pycocotools sees them.
    """
    if isinstance(rle_or_mask, np.ndarray):
        return encode(rle_or_mask)
    if not isinstance(rle_or_mask, dict) or not {"size", "counts"} <= rle_or_mask.keys():
        raise ValueError("an RLE is a dict with 'size' and 'counts'")
    size, counts = rle_or_mask["size"], rle_or_mask["counts"]
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(_is_count(v) for v in size)):
        raise ValueError(f"RLE size must be [height, width], got {size!r}")
    height, width = int(size[0]), int(size[1])
    if height * width > MAX_PIXELS:
        raise ValueError(f"RLE size {height}x{width} is larger than any mask sam2tui makes")
    if not isinstance(counts, str | bytes) or (isinstance(counts, str) and not counts.isascii()):
        raise ValueError(f"RLE counts must be a compressed ASCII string, got {type(counts).__name__}")
    covered = int(_runs(counts.encode("ascii") if isinstance(counts, str) else counts).sum())
    if covered != height * width:
        raise ValueError(f"RLE counts cover {covered} pixels, its size {height}x{width} has {height * width}")
    return {"size": [height, width], "counts": counts}


def _is_count(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(value >= 0)


def _runs(counts: bytes) -> npt.NDArray[np.int64]:
    """The run lengths in COCO's compressed counts (pycocotools' rleFrString, vectorised and checked).

    Each number is 5-bit groups, least significant first, as characters from "0"; 0x20 marks "more follows"
    and 0x10 in the last group is the sign. From the fourth number on, each is a delta to the one two before.
    """
    codes = np.frombuffer(counts, np.uint8).astype(np.int64) - 48
    if codes.size == 0:
        return np.zeros(0, np.int64)
    if codes.min() < 0 or codes.max() > 63:
        raise ValueError("RLE counts hold characters outside '0'..'o'")
    last = (codes & 0x20) == 0  # the final group of each number
    if not last[-1]:
        raise ValueError("RLE counts end in the middle of a number")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > 7:  # 7 groups are 35 bits: more than any count of pixels
        raise ValueError("RLE counts hold a number too large")
    shifts = 5 * (np.arange(codes.size) - np.repeat(starts, lengths))
    values = np.add.reduceat((codes & 0x1F) << shifts, starts)
    values -= np.where(codes[ends] & 0x10, np.int64(1) << (5 * lengths), 0)
    runs = values.copy()
    for first in (3, 4):  # odd and even chains of deltas
        if runs.size > first:
            runs[first::2] = np.cumsum(values[first::2]) + values[first - 2]
    if (runs < 0).any():
        raise ValueError("RLE counts hold a negative run")
    return runs


def _vertices(contour: np.ndarray) -> Polygon:
    return contour.reshape(-1, 2).astype(np.float64)


def _sliver(centres: Polygon) -> Polygon:
    """A quarter-pixel-wide parallelogram along a straight run of pixel centres (or around one centre).

    The offset goes right or down only, so rounding and truncation both map it back to the centres.
    """
    first, last = centres[0], centres[-1]
    if (first == last).all():
        return first + np.array([[0.0, 0.0], [SLIVER, 0.0], [SLIVER, SLIVER], [0.0, SLIVER]])
    offset = np.array([0.0, SLIVER]) if first[1] == last[1] else np.array([SLIVER, 0.0])
    return np.stack([first, last, last + offset, first + offset])


def _densify(polygon: Polygon, min_points: int) -> Polygon:
    """The same polygon with edge midpoints inserted until it has at least `min_points` vertices."""
    while len(polygon) < min_points:
        midpoints = (polygon + np.roll(polygon, -1, axis=0)) / 2
        polygon = np.stack([polygon, midpoints], axis=1).reshape(-1, 2)
    return polygon


def _splice(polygon: Polygon, other: Polygon) -> Polygon:
    """`polygon` with `other` (a hole) inserted through a zero-width cut between two close vertices.

    The cut starts at the vertex of `polygon` nearest to `other`'s first vertex and ends at the vertex
    of `other` nearest to that one: linear time, and short enough in practice.
    """
    i = int(np.argmin(((polygon - other[0]) ** 2).sum(axis=1)))
    j = int(np.argmin(((other - polygon[i]) ** 2).sum(axis=1)))
    loop = np.concatenate([other[j:], other[: j + 1]])
    return np.concatenate([polygon[: i + 1], loop, polygon[i:]])
