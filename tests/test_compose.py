"""compose(): the visible frame, letterboxed, with masks, outlines, boxes and points at output resolution."""

from __future__ import annotations

import numpy as np
import pytest

from sam2tui.masks import encode
from sam2tui.tui.compose import (
    CROSSHAIR,
    FILL_ALPHA,
    LETTERBOX,
    NEGATIVE_MARK,
    POSITIVE_MARK,
    RUBBER_BAND,
    BoxLayer,
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
    # Positive at canvas (25.5, 20.5): a '+' with vertical and horizontal arms.
    assert tuple(out[20, 25]) == POSITIVE_MARK
    assert tuple(out[18, 25]) == POSITIVE_MARK and tuple(out[20, 23]) == POSITIVE_MARK
    # Negative at canvas (60.5, 30.5): a '-', no vertical arm.
    assert tuple(out[30, 60]) == NEGATIVE_MARK and tuple(out[30, 58]) == NEGATIVE_MARK
    assert tuple(out[28, 60]) != NEGATIVE_MARK


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
