"""Where the frame sits on the canvas: letterbox, zoom and pan as pure geometry.

Two coordinate systems, both continuous with x right and y down (pixel `j` spans `[j, j + 1)`):

- frame pixels: the original video's pixels (what prompts and masks use);
- canvas pixels: the canvas's own grid. The half-block canvas is `cols x rows*2` pixels (one pixel is half a
  cell); sharp renderers draw the same geometry scaled up to the terminal's pixels (see `compose`).

At zoom 1 the whole frame is shown, scaled to fit and centred (letterboxed on the other axis). Zooming in
shows a smaller region of the frame, never anything outside it; the letterbox shrinks and then vanishes.
Letterbox edges sit on whole canvas pixels so the half-block image has crisp borders.

>>> v = Viewport(1280, 720, 160, 96)       # 160 columns x 48 rows, half-block
>>> v.image_rect                            # 90 pixels tall, 3 letterbox pixels above and below
Rect(x=0, y=3, w=160, h=90)
>>> v.to_frame(80.0, 48.0)                  # the canvas centre is the frame centre
(640.0, 360.0)
>>> v.to_frame(80.0, 1.0) is None           # a click in the letterbox
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_ZOOM = 1.0
MAX_ZOOM = 16.0


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle: origin and size."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def contains(self, x: float, y: float) -> bool:
        """True when the point lies inside (left/top edges included, right/bottom excluded)."""
        return self.x <= x < self.right and self.y <= y < self.bottom


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _axis(frame: int, canvas: int, scale: float) -> tuple[float, int, int]:
    """One axis at `scale` canvas pixels per frame pixel: (visible frame length, display length, offset).

    When the whole frame fits, it is shown whole in `round(frame * scale)` pixels, centred (letterbox);
    otherwise the canvas is filled and shows `canvas / scale` frame pixels.
    """
    display = frame * scale
    if display <= canvas + 1e-6:
        shown = min(canvas, max(1, round(display)))
        return float(frame), shown, (canvas - shown) // 2
    return canvas / scale, canvas, 0


@dataclass(frozen=True)
class Viewport:
    """The mapping between frame pixels and canvas pixels for one zoom and centre.

    `center` is the frame point shown at the middle of the visible region (None: the frame's centre). It is
    normalised on construction so the view never leaves the frame; `zoom` is clamped to [1, 16]. Equal
    viewports give equal pictures, so a Viewport can be part of a cache key.
    """

    frame_w: int
    frame_h: int
    canvas_w: int
    canvas_h: int
    zoom: float = 1.0
    center: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if min(self.frame_w, self.frame_h) <= 0:
            raise ValueError(f"frame size must be positive, got {self.frame_w}x{self.frame_h}")
        if min(self.canvas_w, self.canvas_h) <= 0:
            raise ValueError(f"canvas size must be positive, got {self.canvas_w}x{self.canvas_h}")
        zoom = _clamp(float(self.zoom), MIN_ZOOM, MAX_ZOOM)
        object.__setattr__(self, "zoom", zoom)
        if self.center is not None:
            vis_w, vis_h = self._visible_size()
            cx, cy = self.center
            cx = _clamp(float(cx), vis_w / 2, self.frame_w - vis_w / 2)
            cy = _clamp(float(cy), vis_h / 2, self.frame_h - vis_h / 2)
            # A centred view is stored as None so equal pictures compare (and hash) equal.
            centred = math.isclose(cx, self.frame_w / 2) and math.isclose(cy, self.frame_h / 2)
            object.__setattr__(self, "center", None if centred else (cx, cy))

    # -- geometry -------------------------------------------------------------------------------------------

    @property
    def fit_scale(self) -> float:
        """Canvas pixels per frame pixel at zoom 1 (the whole frame fits)."""
        return min(self.canvas_w / self.frame_w, self.canvas_h / self.frame_h)

    def _axes(self) -> tuple[tuple[float, int, int], tuple[float, int, int]]:
        scale = self.fit_scale * self.zoom
        return _axis(self.frame_w, self.canvas_w, scale), _axis(self.frame_h, self.canvas_h, scale)

    def _visible_size(self) -> tuple[float, float]:
        (vis_w, _, _), (vis_h, _, _) = self._axes()
        return vis_w, vis_h

    @property
    def visible_region(self) -> Rect:
        """The part of the frame on screen, in frame pixels."""
        vis_w, vis_h = self._visible_size()
        cx, cy = self.center if self.center is not None else (self.frame_w / 2, self.frame_h / 2)
        return Rect(cx - vis_w / 2, cy - vis_h / 2, vis_w, vis_h)

    @property
    def image_rect(self) -> Rect:
        """Where the visible region is drawn, in canvas pixels (whole pixels); the rest is letterbox."""
        (_, disp_w, off_x), (_, disp_h, off_y) = self._axes()
        return Rect(off_x, off_y, disp_w, disp_h)

    @property
    def scale(self) -> tuple[float, float]:
        """Canvas pixels per frame pixel along x and y (equal up to the rounding of the letterbox)."""
        vis, img = self.visible_region, self.image_rect
        return img.w / vis.w, img.h / vis.h

    def to_frame(self, cx: float, cy: float) -> tuple[float, float] | None:
        """The frame point under canvas point (cx, cy); None in the letterbox or outside the canvas."""
        img = self.image_rect
        if not img.contains(cx, cy):
            return None
        vis = self.visible_region
        sx, sy = self.scale
        x = vis.x + (cx - img.x) / sx
        y = vis.y + (cy - img.y) / sy
        # Float rounding must not push a point on the last pixel out of the frame.
        return min(x, math.nextafter(self.frame_w, 0)), min(y, math.nextafter(self.frame_h, 0))

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        """The canvas point showing frame point (x, y) (it may lie off the canvas when zoomed in)."""
        img, vis = self.image_rect, self.visible_region
        sx, sy = self.scale
        return img.x + (x - vis.x) * sx, img.y + (y - vis.y) * sy

    def to_frame_length(self, canvas_length: float) -> float:
        """How many frame pixels `canvas_length` canvas pixels span (along the finer axis: a reach, a
        radius)."""
        return canvas_length / max(self.scale)

    # -- changes ----------------------------------------------------------------------------------------------

    def with_zoom_center(self, zoom: float, center: tuple[float, float] | None) -> Viewport:
        return Viewport(self.frame_w, self.frame_h, self.canvas_w, self.canvas_h, zoom, center)

    def zoomed(self, factor: float, about: tuple[float, float] | None = None) -> Viewport:
        """Zoom by `factor`, keeping the frame point under canvas point `about` (default: centre) in place.

        The point stays put unless the clamping to the frame (or the letterbox) has to move the view.
        """
        if about is None:
            about = (self.canvas_w / 2, self.canvas_h / 2)
        img, vis = self.image_rect, self.visible_region
        sx, sy = self.scale
        # The anchor may be in the letterbox: use the nearest frame point.
        ax = _clamp(vis.x + (about[0] - img.x) / sx, 0.0, float(self.frame_w))
        ay = _clamp(vis.y + (about[1] - img.y) / sy, 0.0, float(self.frame_h))
        target = self.with_zoom_center(self.zoom * factor, None)
        t_img, t_vis = target.image_rect, target.visible_region
        t_sx, t_sy = target.scale
        left = ax - (about[0] - t_img.x) / t_sx
        top = ay - (about[1] - t_img.y) / t_sy
        return target.with_zoom_center(target.zoom, (left + t_vis.w / 2, top + t_vis.h / 2))

    def panned(self, dx_frac: float, dy_frac: float) -> Viewport:
        """Move the view by fractions of the visible width and height (clamped to the frame)."""
        vis = self.visible_region
        cx, cy = vis.x + vis.w / 2, vis.y + vis.h / 2
        return self.with_zoom_center(self.zoom, (cx + dx_frac * vis.w, cy + dy_frac * vis.h))

    def reset(self) -> Viewport:
        """The whole frame again (zoom 1, centred)."""
        return self.with_zoom_center(1.0, None)

    def resized(self, canvas_w: int, canvas_h: int) -> Viewport:
        """The same zoom and centre on a canvas of another size."""
        return Viewport(self.frame_w, self.frame_h, canvas_w, canvas_h, self.zoom, self.center)

    def for_frame(self, frame_w: int, frame_h: int) -> Viewport:
        """This view for a frame of another size (a new video): reset when the size changed."""
        if (frame_w, frame_h) == (self.frame_w, self.frame_h):
            return self
        return Viewport(frame_w, frame_h, self.canvas_w, self.canvas_h)
