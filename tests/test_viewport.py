"""Viewport geometry: letterbox, zoom about a point, clamped pan, click <-> pixel mapping."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sam2tui.tui.viewport import MAX_ZOOM, Viewport

frame_sizes = st.tuples(st.integers(16, 4096), st.integers(16, 4096))
canvas_sizes = st.tuples(st.integers(8, 400), st.integers(8, 240))
zooms = st.floats(1.0, MAX_ZOOM)
fractions = st.floats(0.0, 1.0)


@st.composite
def viewports(draw: st.DrawFn) -> Viewport:
    fw, fh = draw(frame_sizes)
    cw, ch = draw(canvas_sizes)
    zoom = draw(zooms)
    center = (draw(fractions) * fw, draw(fractions) * fh)
    return Viewport(fw, fh, cw, ch, zoom, center)


def test_wide_frame_is_letterboxed_top_and_bottom() -> None:
    v = Viewport(1280, 720, 160, 96)
    assert v.image_rect.x == 0 and v.image_rect.w == 160
    assert (v.image_rect.y, v.image_rect.h) == (3, 90)
    assert v.to_frame(80, 2.9) is None
    assert v.to_frame(80, 93.0) is None
    assert v.to_frame(0, 3) == (0.0, 0.0)


def test_tall_frame_is_letterboxed_left_and_right() -> None:
    v = Viewport(480, 960, 160, 96)
    assert (v.image_rect.y, v.image_rect.h) == (0, 96)
    assert (v.image_rect.x, v.image_rect.w) == (56, 48)
    assert v.to_frame(55.9, 40) is None
    assert v.to_frame(104.0, 40) is None
    x, y = v.to_frame(56.0 + 24, 48.0)  # type: ignore[misc]
    assert (x, y) == pytest.approx((240.0, 480.0))


def test_half_block_click_maps_to_the_pixel_it_covers() -> None:
    # 1280x720 on 160x96: 8 frame pixels per canvas pixel; canvas pixel (10, 13) shows frame [80, 88) x [80, 88).
    v = Viewport(1280, 720, 160, 96)
    x, y = v.to_frame(10.5, 13.5)  # type: ignore[misc]
    assert (x, y) == (84.0, 84.0)


def test_zoom_shows_a_smaller_region_and_fills_the_canvas() -> None:
    v = Viewport(1280, 720, 160, 96).zoomed(4.0)
    assert v.zoom == 4.0
    assert v.visible_region.w == pytest.approx(320.0)
    assert v.visible_region.h == pytest.approx(192.0)
    assert (v.image_rect.x, v.image_rect.y, v.image_rect.w, v.image_rect.h) == (0, 0, 160, 96)
    assert v.to_frame(80, 48) == pytest.approx((640.0, 360.0))


def test_a_canvas_length_in_frame_pixels_shrinks_with_zoom() -> None:
    v = Viewport(1280, 720, 160, 96)  # 8 frame pixels per canvas pixel
    assert v.to_frame_length(2.0) == pytest.approx(16.0)
    assert v.zoomed(4.0).to_frame_length(2.0) == pytest.approx(4.0)


def test_zoom_is_clamped() -> None:
    v = Viewport(1280, 720, 160, 96)
    assert v.zoomed(0.5).zoom == 1.0
    assert v.zoomed(100.0).zoom == MAX_ZOOM
    assert v.zoomed(4.0).reset() == v


def test_equal_pictures_compare_equal() -> None:
    v = Viewport(1280, 720, 160, 96)
    assert v.zoomed(2.0).zoomed(0.5) == v
    assert Viewport(1280, 720, 160, 96, 1.0, (10.0, 10.0)) == v  # zoom 1 shows the whole frame
    assert hash(v.panned(0.3, 0.0)) == hash(v)


@given(viewports(), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_to_frame_and_to_canvas_are_inverse(v: Viewport, fx: float, fy: float) -> None:
    img = v.image_rect
    cx, cy = img.x + fx * img.w * 0.999, img.y + fy * img.h * 0.999
    point = v.to_frame(cx, cy)
    assert point is not None
    x, y = point
    assert 0 <= x < v.frame_w and 0 <= y < v.frame_h
    bx, by = v.to_canvas(x, y)
    assert bx == pytest.approx(cx, abs=1e-6 * max(v.frame_w, 1)) and by == pytest.approx(
        cy, abs=1e-6 * v.frame_h
    )


@given(viewports())
def test_view_never_leaves_the_frame(v: Viewport) -> None:
    vis = v.visible_region
    assert vis.x >= -1e-9 and vis.y >= -1e-9
    assert vis.right <= v.frame_w + 1e-9 and vis.bottom <= v.frame_h + 1e-9
    img = v.image_rect
    assert img.x >= 0 and img.right <= v.canvas_w and img.y >= 0 and img.bottom <= v.canvas_h
    # Whole pixels: crisp letterbox edges.
    assert all(float(c).is_integer() for c in (img.x, img.y, img.w, img.h))


@given(viewports(), st.floats(-1, 2), st.floats(-1, 2))
def test_letterbox_clicks_give_none(v: Viewport, fx: float, fy: float) -> None:
    cx, cy = fx * v.canvas_w, fy * v.canvas_h
    inside = v.image_rect.contains(cx, cy)
    assert (v.to_frame(cx, cy) is not None) == inside


@given(viewports(), st.floats(1.05, 4.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_zoom_keeps_the_point_under_the_pointer(v: Viewport, factor: float, fx: float, fy: float) -> None:
    img = v.image_rect
    about = (img.x + fx * img.w * 0.999, img.y + fy * img.h * 0.999)
    before = v.to_frame(*about)
    assert before is not None
    z = v.zoomed(factor, about)
    after = z.to_canvas(*before)
    # Only where neither the clamp to the frame nor a letterbox had to move the view.
    vis, t_vis = z.visible_region, z.with_zoom_center(z.zoom, None).visible_region
    for axis, (frame_len, vis_len, start) in enumerate(
        ((v.frame_w, vis.w, vis.x), (v.frame_h, vis.h, vis.y))
    ):
        letterboxed = math.isclose(vis_len, frame_len)
        clamped = math.isclose(start, 0.0, abs_tol=1e-9) or math.isclose(start + vis_len, frame_len)
        if not letterboxed and not clamped:
            assert after[axis] == pytest.approx(about[axis], abs=1e-6 * frame_len)
    assert t_vis.w == pytest.approx(vis.w)


@given(viewports(), st.floats(-3, 3), st.floats(-3, 3))
def test_pan_is_clamped_to_the_frame(v: Viewport, dx: float, dy: float) -> None:
    p = v.panned(dx, dy)
    assert p.zoom == v.zoom
    vis = p.visible_region
    assert vis.x >= -1e-9 and vis.right <= v.frame_w + 1e-9
    assert vis.y >= -1e-9 and vis.bottom <= v.frame_h + 1e-9


def test_pan_moves_by_a_fraction_of_the_view() -> None:
    v = Viewport(1280, 720, 160, 96).zoomed(4.0)
    p = v.panned(0.25, 0.0)
    assert p.visible_region.x - v.visible_region.x == pytest.approx(0.25 * v.visible_region.w)
    assert v.panned(10.0, 10.0).visible_region.right == pytest.approx(1280.0)


def test_resized_keeps_zoom_and_centre() -> None:
    v = Viewport(1280, 720, 160, 96).zoomed(4.0, (20.0, 20.0))
    r = v.resized(80, 48)
    assert r.zoom == v.zoom
    assert r.visible_region.x + r.visible_region.w / 2 == pytest.approx(
        v.visible_region.x + v.visible_region.w / 2
    )


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        Viewport(0, 720, 160, 96)
    with pytest.raises(ValueError):
        Viewport(1280, 720, 160, 0)
