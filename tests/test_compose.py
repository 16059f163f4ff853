"""compose(): the visible frame, letterboxed, with masks, outlines, boxes and points at output resolution."""

from __future__ import annotations

import numpy as np
import pytest

from sam2tui.masks import encode
from sam2tui.tui.compose import (
    BRUSH,
    CROSSHAIR,
    DIM_FILL,
    DIM_MARK,
    ERASER,
    FILL_ALPHA,
    LETTERBOX,
    MARK_EDGE,
    NEGATIVE_MARK,
    POSITIVE_MARK,
    RUBBER_BAND,
    BoxLayer,
    BrushLayer,
    MaskLayer,
    Overlay,
    PointLayer,
    compose,
)
from sam2tui.tui.viewport import Viewport

GREY = 100
ORANGE = (230, 159, 0)


def grey_frame(w: int = 320, h: int = 180) -> np.ndarray:
    return np.full((h, w, 3), GREY, np.uint8)


def square_mask(
    w: int = 320, h: int = 180, box: tuple[int, int, int, int] = (80, 40, 160, 120)
) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    return mask


def fill_of(color: tuple[int, int, int], alpha: float = FILL_ALPHA) -> np.ndarray:
    return np.rint(GREY + (np.asarray(color) - GREY) * alpha)


def test_output_shape_and_letterbox() -> None:
    view = Viewport(320, 180, 80, 60)  # 80x45 picture, 7 rows of letterbox above and 8 below
    out = compose(grey_frame(), Overlay(), view, 80, 60)
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    assert (out[:7] == LETTERBOX).all() and (out[52:] == LETTERBOX).all()
    assert (out[7:52] == GREY).all()


def test_scaled_output_for_sharp_renderers() -> None:
    view = Viewport(320, 180, 80, 60)
    out = compose(
        grey_frame(), Overlay(), view, 800, 1200
    )  # 10x20-pixel cells: each canvas pixel is 10x10... x20
    assert out.shape == (1200, 800, 3)
    assert (out[: 7 * 20] == LETTERBOX).all() and (out[7 * 20 : 52 * 20] == GREY).all()


def test_frame_content_lands_where_the_viewport_says() -> None:
    frame = grey_frame()
    frame[:, 160:] = 200  # right half bright
    view = Viewport(320, 180, 80, 45)
    out = compose(frame, Overlay(), view, 80, 45)
    assert (out[:, :39] == GREY).all() and (out[:, 41:] == 200).all()


def test_mask_colour_appears_where_the_mask_is_with_an_outline() -> None:
    view = Viewport(320, 180, 80, 45)  # 4 frame pixels per canvas pixel, no letterbox
    layer = MaskLayer(1, encode(square_mask()), ORANGE)
    out = compose(grey_frame(), Overlay(masks=(layer,)), view, 80, 45).astype(int)
    # Mask covers canvas [20, 40) x [10, 30): inside is the fill, its border row/column is the outline.
    assert np.abs(out[20, 30] - fill_of(ORANGE)).max() <= 1
    assert tuple(out[10, 30]) == ORANGE and tuple(out[20, 20]) == ORANGE and tuple(out[29, 39]) == ORANGE
    assert (out[5, 5] == GREY).all() and (out[20, 45] == GREY).all()
    # Nothing outside the mask changed.
    outside = np.ones((45, 80), bool)
    outside[10:30, 20:40] = False
    assert (out[outside] == GREY).all()


@pytest.mark.parametrize("alpha", [0.0, 0.8, 1.0])
def test_mask_alpha_sets_the_fill_opacity(alpha: float) -> None:
    view = Viewport(320, 180, 80, 45)
    overlay = Overlay(masks=(MaskLayer(1, encode(square_mask()), ORANGE),), mask_alpha=alpha)
    out = compose(grey_frame(), overlay, view, 80, 45).astype(int)
    assert np.abs(out[20, 30] - fill_of(ORANGE, alpha)).max() <= 1
    assert tuple(out[10, 30]) == ORANGE  # the outline whatever the fill
    assert overlay.version_key() != Overlay(masks=overlay.masks).version_key()  # the default is 0.45


def test_selected_object_has_a_brighter_thicker_outline() -> None:
    view = Viewport(320, 180, 80, 45)
    plain = compose(grey_frame(), Overlay(masks=(MaskLayer(1, encode(square_mask()), ORANGE),)), view, 80, 45)
    sel = compose(
        grey_frame(), Overlay(masks=(MaskLayer(1, encode(square_mask()), ORANGE, True),)), view, 80, 45
    )
    assert sel[10, 30].sum() > plain[10, 30].sum()
    assert (sel[11, 30] == sel[10, 30]).all()  # two pixels thick
    assert not (plain[11, 30] == plain[10, 30]).all()


def test_hidden_layers_are_not_drawn() -> None:
    view = Viewport(320, 180, 80, 45)
    overlay = Overlay(
        masks=(MaskLayer(1, encode(square_mask()), ORANGE),),
        boxes=(BoxLayer((10, 10, 100, 100), (0, 255, 0)),),
        points=(PointLayer(200, 100, True),),
        show_masks=False,
        show_boxes=False,
        show_points=False,
    )
    assert (compose(grey_frame(), overlay, view, 80, 45) == GREY).all()


def test_points_are_visible_marks() -> None:
    view = Viewport(320, 180, 80, 45)
    overlay = Overlay(points=(PointLayer(102.0, 82.0, True), PointLayer(242.0, 122.0, False)))
    out = compose(grey_frame(), overlay, view, 80, 45)
    # Text output: a mark is the one cell (1x2 canvas pixels) the point falls in, in a one-pixel ring.
    # Positive at canvas (25.5, 20.5): cell rows 20-21 filled, a dark ring around.
    assert tuple(out[20, 25]) == POSITIVE_MARK and tuple(out[21, 25]) == POSITIVE_MARK
    for y, x in ((19, 25), (22, 25), (20, 24), (21, 26), (19, 24), (22, 26)):
        assert tuple(out[y, x]) == MARK_EDGE
    assert (out[18, 25] == GREY).all() and (out[20, 23] == GREY).all()  # nothing further out
    # Negative at canvas (60.5, 30.5): the cell dark inside a ring of the colour - the inverse.
    assert tuple(out[30, 60]) == MARK_EDGE and tuple(out[31, 60]) == MARK_EDGE
    for y, x in ((29, 60), (32, 60), (30, 59), (31, 61)):
        assert tuple(out[y, x]) == NEGATIVE_MARK
    assert (out[28, 60] == GREY).all()
    assert ((out != GREY).any(axis=2)).sum() == 2 * 12  # two marks of 3x4 pixels, nothing else


def test_sharp_marks_are_a_disc_and_a_ring_centred_on_the_pixel() -> None:
    view = Viewport(320, 180, 80, 45)  # 800x450 output: 10 pixels per canvas pixel, a sharp image
    points = (PointLayer(100.0, 80.0, True, ORANGE), PointLayer(200.0, 120.0, False, ORANGE))
    out = compose(grey_frame(), Overlay(points=points), view, 800, 450)
    # Positive at output pixel (250, 200): a disc of radius 3 and a one-pixel dark edge, nothing more.
    grey = (GREY,) * 3
    assert [tuple(c) for c in out[200, 245:256]] == [grey, MARK_EDGE, *[ORANGE] * 7, MARK_EDGE, grey]
    assert tuple(out[200, 250]) == ORANGE and tuple(out[197, 250]) == ORANGE
    assert tuple(out[196, 250]) == MARK_EDGE and (out[195, 250] == GREY).all()
    # Negative at (500, 300): a ring - the target pixel and its neighbours still show the frame.
    assert (out[300, 499:502] == GREY).all() and (out[299:302, 500] == GREY).all()
    assert tuple(out[300, 502]) == MARK_EDGE and tuple(out[300, 503]) == ORANGE
    assert tuple(out[300, 504]) == MARK_EDGE and (out[300, 505] == GREY).all()
    assert tuple(out[300, 497]) == ORANGE and tuple(out[303, 500]) == ORANGE


def test_marks_take_their_objects_colour_and_the_unselected_are_dimmed() -> None:
    view = Viewport(320, 180, 80, 45)
    blue = (0, 114, 178)
    points = (PointLayer(102.0, 82.0, True, ORANGE, selected=True), PointLayer(242.0, 122.0, True, blue))
    out = compose(grey_frame(), Overlay(points=points), view, 80, 45)
    assert tuple(out[20, 25]) == ORANGE  # the selected object's mark at full colour
    dimmed = tuple(round(c + (128 - c) * DIM_MARK) for c in blue)
    assert tuple(out[30, 60]) == dimmed
    # Nothing selected: every mark at full colour.
    plain = compose(grey_frame(), Overlay(points=(PointLayer(242.0, 122.0, True, blue),)), view, 80, 45)
    assert tuple(plain[30, 60]) == blue


def test_overlapping_masks_keep_every_contour() -> None:
    view = Viewport(320, 180, 80, 45)
    blue = (0, 114, 178)
    below = MaskLayer(1, encode(square_mask(box=(80, 40, 160, 120))), ORANGE)  # canvas [20, 40) x [10, 30)
    above = MaskLayer(2, encode(square_mask(box=(120, 60, 240, 160))), blue)  # canvas [30, 60) x [15, 40)
    out = compose(grey_frame(), Overlay(masks=(below, above)), view, 80, 45)
    # The first mask's right edge (x 39) runs inside the second: drawn over its fill, in its own colour.
    assert tuple(out[20, 39]) == ORANGE and tuple(out[25, 39]) == ORANGE
    # The second mask's top edge (y 15) runs inside the first.
    assert tuple(out[15, 35]) == blue


def test_selecting_an_object_dims_the_others_fill() -> None:
    view = Viewport(320, 180, 80, 45)
    blue = (0, 114, 178)
    left = encode(square_mask(box=(20, 40, 100, 120)))
    right = encode(square_mask(box=(200, 40, 280, 120)))
    overlay = Overlay(masks=(MaskLayer(1, left, ORANGE, True), MaskLayer(2, right, blue)))
    out = compose(grey_frame(), overlay, view, 80, 45).astype(int)
    assert np.abs(out[20, 15] - fill_of(ORANGE)).max() <= 1
    assert np.abs(out[20, 60] - fill_of(blue, FILL_ALPHA * DIM_FILL)).max() <= 1
    assert tuple(out[10, 60]) == blue  # the contour keeps the object's colour


def test_boxes_and_rubber_band_are_rectangles() -> None:
    view = Viewport(320, 180, 80, 45)
    green = (0, 255, 0)
    out = compose(grey_frame(), Overlay(boxes=(BoxLayer((40, 40, 200, 120), green),)), view, 80, 45)
    assert tuple(out[10, 15]) == green and tuple(out[30, 15]) == green and tuple(out[20, 10]) == green
    assert tuple(out[20, 50]) == green and (out[20, 30] == GREY).all()
    band = compose(grey_frame(), Overlay(rubber_band=(40, 40, 200, 120), show_boxes=False), view, 80, 45)
    top = band[10, 10:51]
    drawn = (top == RUBBER_BAND).all(axis=1)
    assert 0 < drawn.sum() < drawn.size  # dashed


def test_crosshair_has_four_arms_and_leaves_the_target_pixel_visible() -> None:
    view = Viewport(320, 180, 80, 45)
    out = compose(grey_frame(), Overlay(crosshair=(162.0, 82.0)), view, 80, 45)  # canvas pixel (40, 20)
    yellow = (out == CROSSHAIR).all(axis=2)
    assert (out[19:22, 39:42] == GREY).all()  # the target and its neighbours stay clear
    assert yellow[20, 43] and yellow[20, 37] and yellow[17, 40] and yellow[23, 40]
    assert yellow.sum() == 4 * 3  # arms of 3 pixels (80x45 output), nothing else
    assert not yellow[20, 42] and not yellow[22, 40]  # the dark edges around the gap


def test_the_brush_is_a_circle_outline_of_its_radius_scaled_with_the_view() -> None:
    view = Viewport(320, 180, 80, 45)  # 4 frame pixels per output pixel
    out = compose(grey_frame(), Overlay(brush=BrushLayer(162.0, 82.0, 20.0)), view, 80, 45)
    white = (out == BRUSH).all(axis=2)
    assert white[20, 45] and white[20, 35] and white[15, 40] and white[25, 40]  # 5 output pixels out
    assert not white[20, 40] and not white[20, 47]  # an outline: its middle and outside stay clear
    zoomed = view.zoomed(2.0)
    out = compose(grey_frame(), Overlay(brush=BrushLayer(160.0, 90.0, 20.0, erase=True)), zoomed, 80, 45)
    red = (out == ERASER).all(axis=2)
    cy, cx = (int(v) for v in zoomed.to_canvas(160.0, 90.0)[::-1])
    assert red[cy, cx + 10] and red[cy, cx - 10] and not red[cy, cx + 5]  # twice as large zoomed in


def test_zoomed_crop_shows_the_region_at_higher_scale() -> None:
    frame = grey_frame()
    frame[90:, :] = 10  # bottom half dark
    mask = square_mask(box=(150, 80, 170, 100))
    view = Viewport(320, 180, 80, 45).zoomed(4.0, (40.0, 22.5))  # 1 frame pixel per canvas pixel
    assert view.scale == pytest.approx((1.0, 1.0))
    overlay = Overlay(masks=(MaskLayer(1, encode(mask), ORANGE),))
    out = compose(frame, overlay, view, 80, 45)
    vis = view.visible_region
    # The mask's frame box, mapped through the viewport, is where the colour is.
    x0, y0 = view.to_canvas(150, 80)
    assert (x0, y0) == pytest.approx((150 - vis.x, 80 - vis.y))
    assert tuple(out[int(y0), int(x0) + 5]) == ORANGE  # top outline
    inner = out[int(y0) + 5, int(x0) + 5].astype(int)
    assert np.abs(inner - fill_of(ORANGE)).max() <= 1
    # Frame row 90 (the dark half) is at canvas row 90 - vis.y.
    edge = round(90 - vis.y)
    assert (out[edge - 1, :10] == GREY).all() and (out[edge + 1, :10] == 10).all()


def test_bad_input_is_rejected() -> None:
    view = Viewport(320, 180, 80, 45)
    with pytest.raises(ValueError):
        compose(np.zeros((180, 320), np.uint8), Overlay(), view, 80, 45)
    with pytest.raises(ValueError):
        compose(grey_frame(160, 90), Overlay(), view, 80, 45)
    wrong = Overlay(masks=(MaskLayer(1, encode(np.zeros((10, 10), bool)), ORANGE),))
    with pytest.raises(ValueError):
        compose(grey_frame(), wrong, view, 80, 45)


def test_version_key_follows_the_picture() -> None:
    rle = encode(square_mask())
    a = Overlay(masks=(MaskLayer(1, rle, ORANGE),), points=(PointLayer(1, 2, True),))
    b = Overlay(masks=(MaskLayer(1, dict(rle), ORANGE),), points=(PointLayer(1, 2, True),))
    assert a.version_key() == b.version_key() and hash(a.version_key()) == hash(b.version_key())
    assert (
        Overlay(masks=(MaskLayer(1, rle, ORANGE, True),)).version_key()
        != Overlay(masks=(MaskLayer(1, rle, ORANGE),)).version_key()
    )
    assert Overlay(rubber_band=(0, 0, 5, 5)).version_key() != Overlay().version_key()
    assert Overlay(crosshair=(5, 5)).version_key() != Overlay().version_key()
    assert (
        Overlay(brush=BrushLayer(5, 5, 3)).version_key() != Overlay(brush=BrushLayer(5, 5, 4)).version_key()
    )
