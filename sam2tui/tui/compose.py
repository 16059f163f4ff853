"""Draw the visible part of a frame, letterboxed, with its overlays, at the output's resolution.

Downscale first, then draw: the frame is resampled once to the output size, then masks (translucent fill
and a 1-pixel outline), boxes and point marks are drawn in output pixels. So an outline is one pixel wide
both on the 160x96 half-block canvas and on a 1600x960 Sixel image, and a 1080p mask costs a resample,
not a full-resolution blend. Pure numpy/OpenCV: no Textual here.

Readability: all fills are drawn before any contour, so where masks overlap every contour stays on top; the
selected object's contour is drawn last, lighter and thicker. When an object is selected the others are
dimmed (half the fill, dimmer point marks). A point mark is its object's colour with a dark edge: filled
for a positive point, a ring (the target pixel visible in its middle) for a negative one. On text output
(a cell of at most 2x4 output pixels) the mark is exactly the cell the point falls in: filled, or dark inside
a ring of the colour; on a sharp image it is a small disc or ring centred on the point's pixel.

The output is `out_w x out_h` pixels showing `view`'s canvas scaled by `out_w / view.canvas_w` and
`out_h / view.canvas_h` (1 for half-block; the cell's pixel size over 1 or 2 for the sharp renderers), so
`Viewport.to_frame` maps clicks for every renderer.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import cv2
import numpy as np

from sam2tui.masks import decode
from sam2tui.tui.viewport import Viewport
from sam2tui.values import BoxCorners, Color, Rle

FILL_ALPHA = 0.45
LETTERBOX: Color = (0, 0, 0)
POSITIVE_MARK: Color = (40, 230, 40)  # points without an object colour
NEGATIVE_MARK: Color = (250, 40, 40)
MARK_EDGE: Color = (0, 0, 0)
DIM_FILL = 0.5  # fill opacity of an object that is not selected (while one is), relative to mask_alpha
DIM_MARK = 0.5  # how far a dimmed point mark's colour moves towards grey
_GREY: Color = (128, 128, 128)
TEXT_CELL_MAX = (2, 4)  # output pixels per cell up to which marks are drawn as whole cells
RUBBER_BAND: Color = (255, 255, 255)
CROSSHAIR: Color = (255, 255, 0)
BRUSH: Color = (255, 255, 255)
ERASER: Color = (250, 40, 40)
SELECTED_LIGHTEN = 0.55  # how far a selected object's outline moves towards white


@dataclass(frozen=True)
class MaskLayer:
    """One object's mask on this frame (video resolution RLE)."""

    obj_id: int
    rle: Rle
    color: Color
    selected: bool = False


@dataclass(frozen=True)
class PointLayer:
    """A point prompt in video pixels: filled when positive, a ring when negative, in its object's `color`
    (None: green for positive, red for negative, never dimmed). `selected`: its object is the selected one."""

    x: float
    y: float
    positive: bool
    color: Color | None = None
    selected: bool = False


@dataclass(frozen=True)
class BoxLayer:
    """A rectangle in video pixels (x0, y0, x1, y1); dashed for prompts, solid for results."""

    box: BoxCorners
    color: Color
    dashed: bool = False


@dataclass(frozen=True)
class BrushLayer:
    """The brush (or eraser) where it would paint: a circle of `radius` video pixels around (x, y)."""

    x: float
    y: float
    radius: float
    erase: bool = False


@dataclass(frozen=True)
class Overlay:
    """Everything drawn over one frame. `rubber_band` is the box being dragged and `crosshair` the keyboard
    pointer (video pixels); both are always shown, like `brush` while painting. `mask_alpha` is how opaque
    mask fills are (0 to 1)."""

    masks: tuple[MaskLayer, ...] = ()
    boxes: tuple[BoxLayer, ...] = ()
    points: tuple[PointLayer, ...] = ()
    rubber_band: BoxCorners | None = None
    crosshair: tuple[float, float] | None = None
    show_masks: bool = True
    show_boxes: bool = True
    show_points: bool = True
    mask_alpha: float = FILL_ALPHA
    brush: BrushLayer | None = None

    def version_key(self) -> Hashable:
        """A cheap key that changes whenever the picture would (RLE counts strings cache their hash)."""
        masks = tuple(
            (m.obj_id, m.rle["counts"], tuple(m.rle["size"]), m.color, m.selected) for m in self.masks
        )
        flags = (self.show_masks, self.show_boxes, self.show_points, self.mask_alpha)
        return masks, self.boxes, self.points, self.rubber_band, self.crosshair, flags, self.brush


@dataclass(frozen=True)
class _Mapping:
    """Frame pixels -> output pixels, per axis `u = x * a + b` (pixel-edge coordinates)."""

    ax: float
    bx: float
    ay: float
    by: float
    image: tuple[int, int, int, int]  # x0, y0, x1, y1 of the picture in output pixels; the rest is letterbox

    def point(self, x: float, y: float) -> tuple[float, float]:
        return x * self.ax + self.bx, y * self.ay + self.by


def _mapping(view: Viewport, out_w: int, out_h: int) -> _Mapping:
    kx, ky = out_w / view.canvas_w, out_h / view.canvas_h
    img, vis = view.image_rect, view.visible_region
    sx, sy = view.scale
    image = (round(img.x * kx), round(img.y * ky), round(img.right * kx), round(img.bottom * ky))
    return _Mapping(sx * kx, (img.x - vis.x * sx) * kx, sy * ky, (img.y - vis.y * sy) * ky, image)


def _window(a: float, b: float, out_len: int, src_len: int) -> tuple[int, int]:
    """The source pixel range [lo, hi) the output needs along one axis, with a pixel of margin."""
    lo = math.floor((0 - b) / a) - 1
    hi = math.ceil((out_len - b) / a) + 1
    return max(0, lo), min(src_len, hi)


def _resample(src: np.ndarray, m: _Mapping, out_w: int, out_h: int, border: int) -> np.ndarray:
    """Warp a frame-sized array to the output: area-average by a whole factor first, then bilinear.

    Area averaging keeps downscaled detail (no aliasing); the bilinear warp places it exactly (sub-pixel
    pan and zoom). `border` is the cv2 border mode for samples outside the frame.
    """
    h, w = src.shape[:2]
    x0, x1 = _window(m.ax, m.bx, out_w, w)
    y0, y1 = _window(m.ay, m.by, out_h, h)
    crop = src[y0:y1, x0:x1]
    nx = max(1, int(1.0 / m.ax)) if m.ax < 1 else 1
    ny = max(1, int(1.0 / m.ay)) if m.ay < 1 else 1
    rx = ry = 1.0
    if nx > 1 or ny > 1:
        small_w, small_h = max(1, (x1 - x0) // nx), max(1, (y1 - y0) // ny)
        crop = cv2.resize(crop, (small_w, small_h), interpolation=cv2.INTER_AREA)
        rx, ry = small_w / (x1 - x0), small_h / (y1 - y0)
    # cv2 uses pixel-centre coordinates: centre c of a crop pixel is edge coordinate c + 0.5.
    matrix = np.array(
        [
            [m.ax / rx, 0.0, (0.5 / rx + x0) * m.ax + m.bx - 0.5],
            [0.0, m.ay / ry, (0.5 / ry + y0) * m.ay + m.by - 0.5],
        ]
    )
    return cv2.warpAffine(crop, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=border)


def _fill(out: np.ndarray, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
    """Paint [x0, x1) x [y0, y1), clipped to the image."""
    h, w = out.shape[:2]
    x0, x1, y0, y1 = max(0, x0), min(w, x1), max(0, y0), min(h, y1)
    if x0 < x1 and y0 < y1:
        out[y0:y1, x0:x1] = color


def _mix(color: Color, towards: Color, amount: float) -> Color:
    r, g, b = (round(c + (t - c) * amount) for c, t in zip(color, towards, strict=True))
    return (r, g, b)


def _lighten(color: Color, amount: float) -> Color:
    return _mix(color, (255, 255, 255), amount)


@dataclass(frozen=True)
class _Shape:
    """A mask at output resolution: where it is (`ys`, `xs`: its bounding box with room for the contour)
    and which of those pixels it covers."""

    layer: MaskLayer
    ys: slice
    xs: slice
    inside: np.ndarray  # uint8 0/1 over the box


def _fill_mask(
    out: np.ndarray, mask: np.ndarray, layer: MaskLayer, m: _Mapping, line: int, fill_alpha: float
) -> _Shape | None:
    """Blend the mask's colour in (by coverage: soft edges); its shape for the contour, None if off view."""
    h, w = out.shape[:2]
    coverage = _resample(mask.view(np.uint8) * np.uint8(255), m, w, h, cv2.BORDER_CONSTANT)
    rows = np.flatnonzero(coverage.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(coverage.any(axis=0))
    # Work on the mask's bounding box only, with room for the outline.
    pad = 2 * line
    ys = slice(max(0, rows[0] - pad), min(h, rows[-1] + 1 + pad))
    xs = slice(max(0, cols[0] - pad), min(w, cols[-1] + 1 + pad))
    cov = coverage[ys, xs]
    region = out[ys, xs].astype(np.float32)
    alpha = cov.astype(np.float32) * (fill_alpha / 255.0)
    region += (np.asarray(layer.color, np.float32) - region) * alpha[..., None]
    out[ys, xs] = np.rint(region).astype(np.uint8)
    return _Shape(layer, ys, xs, (cov >= 128).astype(np.uint8))


def _draw_contour(out: np.ndarray, shape: _Shape, line: int) -> None:
    """The mask's inner edge in its colour (the selected one lighter and twice as thick)."""
    layer = shape.layer
    thickness = 2 * line if layer.selected else line
    kernel = np.ones((2 * thickness + 1, 2 * thickness + 1), np.uint8)
    inside = shape.inside
    edge = inside.astype(bool) & ~cv2.erode(inside, kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)
    out[shape.ys, shape.xs][edge] = _lighten(layer.color, SELECTED_LIGHTEN) if layer.selected else layer.color


def _dash_keep(length: int, dash: int) -> np.ndarray:
    """Which pixels along an edge are drawn in a dashed line (`dash` on, `dash` off)."""
    keep: np.ndarray = (np.arange(length) // dash) % 2 == 0
    return keep


def _draw_rect(
    out: np.ndarray, corners: tuple[float, float, float, float], color: Color, line: int, dashed: bool
) -> None:
    h, w = out.shape[:2]
    x0, x1 = sorted((math.floor(corners[0]), math.floor(corners[2])))
    y0, y1 = sorted((math.floor(corners[1]), math.floor(corners[3])))
    if x1 < 0 or y1 < 0 or x0 >= w or y0 >= h:
        return
    dash = 3 * line
    for top in (y0, y1 - line + 1):
        for y in range(top, top + line):
            if 0 <= y < h:
                xs = np.arange(max(0, x0), min(w, x1 + 1))
                if dashed:
                    xs = xs[_dash_keep(xs.size, dash)] if xs.size else xs
                out[y, xs] = color
    for left in (x0, x1 - line + 1):
        for x in range(left, left + line):
            if 0 <= x < w:
                ys = np.arange(max(0, y0), min(h, y1 + 1))
                if dashed:
                    ys = ys[_dash_keep(ys.size, dash)] if ys.size else ys
                out[ys, x] = color


def _mark_color(point: PointLayer, dimmed: bool) -> Color:
    if point.color is None:
        return POSITIVE_MARK if point.positive else NEGATIVE_MARK
    return _mix(point.color, _GREY, DIM_MARK) if dimmed else point.color


def _draw_cell_mark(
    out: np.ndarray, u: float, v: float, cell: tuple[int, int], positive: bool, color: Color
) -> None:
    """Text output: the cell under (u, v) filled with `color` in a one-pixel dark ring (positive), or dark
    in a one-pixel ring of `color` (negative)."""
    cw, ch = cell
    x0, y0 = math.floor(u / cw) * cw, math.floor(v / ch) * ch
    ring, core = (MARK_EDGE, color) if positive else (color, MARK_EDGE)
    _fill(out, x0 - 1, y0 - 1, x0 + cw + 1, y0 + ch + 1, ring)
    _fill(out, x0, y0, x0 + cw, y0 + ch, core)


def _draw_disc_mark(
    out: np.ndarray, u: float, v: float, radius: int, edge: int, positive: bool, color: Color
) -> None:
    """Sharp output: a disc (positive) or ring (negative) of `color` centred on the pixel under (u, v), each
    edge dark; a ring leaves its middle, the target, uncovered."""
    h, w = out.shape[:2]
    cx, cy = math.floor(u), math.floor(v)
    reach = radius + edge
    x0, x1, y0, y1 = max(0, cx - reach), min(w, cx + reach + 1), max(0, cy - reach), min(h, cy + reach + 1)
    if x0 >= x1 or y0 >= y1:
        return
    dy, dx = np.ogrid[y0 - cy : y1 - cy, x0 - cx : x1 - cx]
    distance = np.sqrt(dx * dx + dy * dy) - 0.5  # from the centre pixel's middle to each pixel's near side
    hole = -1.0 if positive else radius / 2  # a negative mark's ring starts here
    patch = out[y0:y1, x0:x1]
    patch[(distance > radius) & (distance <= reach)] = MARK_EDGE
    patch[(distance > hole) & (distance <= radius)] = color
    patch[(distance > hole - edge) & (distance <= hole)] = MARK_EDGE


def _draw_crosshair(out: np.ndarray, u: float, v: float, arm: int, line: int) -> None:
    """Four arms around (u, v) with a dark edge, leaving the pixel under the pointer and its neighbours
    uncovered: the target shows in the middle of the gap."""
    cx, cy = math.floor(u), math.floor(v)
    gap = 1 + line  # pixels kept clear on each side of the centre
    half = line // 2
    arms = [
        (cx - gap - arm, cy - half, cx - gap, cy - half + line),  # left
        (cx + gap + 1, cy - half, cx + gap + 1 + arm, cy - half + line),  # right
        (cx - half, cy - gap - arm, cx - half + line, cy - gap),  # up
        (cx - half, cy + gap + 1, cx - half + line, cy + gap + 1 + arm),  # down
    ]
    for x0, y0, x1, y1 in arms:
        _fill(out, x0 - 1, y0 - 1, x1 + 1, y1 + 1, MARK_EDGE)
    for x0, y0, x1, y1 in arms:
        _fill(out, x0, y0, x1, y1, CROSSHAIR)


def compose(frame: np.ndarray, overlay: Overlay, view: Viewport, out_w: int, out_h: int) -> np.ndarray:
    """The visible part of `frame` (HxWx3 uint8 RGB), letterboxed, with `overlay`, as out_h x out_w x 3 RGB.

    `view` must describe this frame's size; `out_w/out_h` scale its canvas (equal to it for half-block).
    """
    return _compose(frame, overlay, view, out_w, out_h, None)


def compose_labelled(
    frame: np.ndarray, overlay: Overlay, view: Viewport, out_w: int, out_h: int
) -> tuple[np.ndarray, np.ndarray]:
    """`compose`, and which mask is on top at each output pixel: out_h x out_w uint8, 0 where none, else
    its 1-based place in drawing order (the selected object's is the highest)."""
    labels = np.zeros((out_h, out_w), np.uint8)
    return _compose(frame, overlay, view, out_w, out_h, labels), labels


def _compose(
    frame: np.ndarray, overlay: Overlay, view: Viewport, out_w: int, out_h: int, labels: np.ndarray | None
) -> np.ndarray:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame must be HxWx3 uint8, got {frame.shape} {frame.dtype}")
    if frame.shape[:2] != (view.frame_h, view.frame_w):
        raise ValueError(
            f"frame is {frame.shape[1]}x{frame.shape[0]}, view is for {view.frame_w}x{view.frame_h}"
        )
    m = _mapping(view, out_w, out_h)
    out = _resample(frame, m, out_w, out_h, cv2.BORDER_REPLICATE)
    # Strokes grow with the output so they stay visible on large sharp images; 1 pixel for half-block.
    line = max(1, min(out_w, out_h) // 400)
    # While an object is selected, the others are dimmed.
    emphasis = any(layer.selected for layer in overlay.masks) or any(p.selected for p in overlay.points)
    if overlay.show_masks:
        shapes = []
        for layer in overlay.masks:
            mask = decode(layer.rle)
            if mask.shape != frame.shape[:2]:
                raise ValueError(
                    f"mask of object {layer.obj_id} is {mask.shape[::-1]}, frame is {frame.shape[1::-1]}"
                )
            alpha = overlay.mask_alpha * (DIM_FILL if emphasis and not layer.selected else 1.0)
            shape = _fill_mask(out, mask, layer, m, line, alpha)
            if shape is not None:
                shapes.append(shape)
        for rank, shape in enumerate(sorted(shapes, key=lambda s: s.layer.selected), 1):
            _draw_contour(out, shape, line)  # the selected contour last: on top
            if labels is not None:
                labels[shape.ys, shape.xs][shape.inside.astype(bool)] = min(rank, 255)
    if overlay.show_boxes:
        for box in overlay.boxes:
            _draw_rect(out, (*m.point(*box.box[:2]), *m.point(*box.box[2:])), box.color, line, box.dashed)
    if overlay.rubber_band is not None:
        band = overlay.rubber_band
        _draw_rect(out, (*m.point(*band[:2]), *m.point(*band[2:])), RUBBER_BAND, line, dashed=True)
    if overlay.show_points:
        kx, ky = out_w / view.canvas_w, out_h / view.canvas_h  # output pixels per canvas pixel
        cell = (round(kx), round(2 * ky))  # a text cell is 1x2 canvas pixels
        text = cell[0] <= TEXT_CELL_MAX[0] and cell[1] <= TEXT_CELL_MAX[1]
        radius = max(3, min(out_w, out_h) // 160)
        for p in sorted(overlay.points, key=lambda p: p.selected):  # the selected object's marks on top
            color = _mark_color(p, dimmed=emphasis and not p.selected and p.color is not None)
            if text:
                _draw_cell_mark(out, *m.point(p.x, p.y), cell, p.positive, color)
            else:
                _draw_disc_mark(out, *m.point(p.x, p.y), radius + p.selected, line, p.positive, color)
    if overlay.brush is not None:
        brush = overlay.brush
        u, v = m.point(brush.x, brush.y)
        radius = max(1, round(brush.radius * m.ax))
        cv2.circle(out, (math.floor(u), math.floor(v)), radius, ERASER if brush.erase else BRUSH, line)
    if overlay.crosshair is not None:
        _draw_crosshair(out, *m.point(*overlay.crosshair), max(3, min(out_w, out_h) // 32), line)
    _paint_letterbox(out, m.image)
    return out


def _paint_letterbox(out: np.ndarray, image: tuple[int, int, int, int]) -> None:
    """Everything outside the picture (also marks that stuck out of it) becomes letterbox."""
    x0, y0, x1, y1 = image
    out[:y0] = LETTERBOX
    out[y1:] = LETTERBOX
    out[:, :x0] = LETTERBOX
    out[:, x1:] = LETTERBOX
