"""sam2tui.masks against pycocotools (the reference for RLE, area, box, IoU) and cv2.fillPoly (polygons)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from pycocotools import mask as coco_mask

from sam2tui import masks
from sam2tui.engine.tracker import result_from_mask

shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))
bool_masks = shapes.flatmap(lambda shape: arrays(np.bool_, shape))


@st.composite
def mask_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(shapes)
    return draw(arrays(np.bool_, shape)), draw(arrays(np.bool_, shape))


def reference_rle(mask: np.ndarray) -> dict:
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))


def fill(polygons: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """What YOLO-seg readers do with polygons (supervision rounds the vertices, then cv2.fillPoly)."""
    out = np.zeros(shape[:2], np.uint8)
    for polygon in polygons:
        cv2.fillPoly(out, [np.round(polygon).astype(np.int32)], 1)
    return out.astype(bool)


def has_holes(mask: np.ndarray) -> bool:
    """Background pixels that cannot reach the border (4-connected) form holes."""
    padded = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    count, _ = cv2.connectedComponents(padded, connectivity=4)
    return count > 2  # background label 0 is the mask; label 1 touches the padding


# --- RLE, area, box, IoU: properties against pycocotools ---------------------------------------------


@given(bool_masks)
def test_encode_decode_round_trip_is_exact(mask: np.ndarray) -> None:
    rle = masks.encode(mask)
    assert isinstance(rle["counts"], str) and rle["size"] == list(mask.shape)
    decoded = masks.decode(rle)
    assert decoded.dtype == bool and decoded.flags.c_contiguous
    assert np.array_equal(decoded, mask)
    assert rle["counts"] == reference_rle(mask)["counts"].decode()  # the same bytes COCO tools write
    assert masks.decode(json.loads(json.dumps(rle))).tolist() == mask.tolist()  # survives JSON


@given(bool_masks)
def test_area_and_box_equal_pycocotools(mask: np.ndarray) -> None:
    rle, reference = masks.encode(mask), reference_rle(mask)
    assert masks.area(mask) == masks.area(rle) == coco_mask.area(reference)
    if not mask.any():
        assert masks.box(mask) is None and masks.box(rle) is None
    else:
        expected = tuple(int(v) for v in coco_mask.toBbox(reference))
        assert masks.box(mask) == masks.box(rle) == expected


@given(mask_pairs())
def test_iou_equals_pycocotools(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    if not a.any() and not b.any():
        expected = 1.0  # pycocotools says 0; two empty masks agree perfectly
    else:
        expected = coco_mask.iou([reference_rle(a)], [reference_rle(b)], [0])[0][0]
    assert masks.iou(a, b) == pytest.approx(expected)
    assert masks.iou(masks.encode(a), b) == masks.iou(a, masks.encode(b)) == pytest.approx(expected)


def test_iou_of_different_sizes_is_refused() -> None:
    with pytest.raises(ValueError, match="different sizes"):
        masks.iou(np.zeros((4, 5), bool), np.zeros((5, 4), bool))


def test_encode_takes_uint8_and_strided_masks() -> None:
    mask = np.zeros((30, 20), bool)
    mask[3:9, 4:15] = True
    mask[20, 2] = True
    assert masks.encode(mask.astype(np.uint8) * 255) == masks.encode(mask)
    transposed = mask.T  # a Fortran-ordered view
    assert np.array_equal(masks.decode(masks.encode(transposed)), transposed)
    assert np.array_equal(masks.decode(masks.encode(mask[::2, ::3])), mask[::2, ::3])


def test_encode_refuses_other_than_two_dimensions() -> None:
    with pytest.raises(ValueError, match="HxW"):
        masks.encode(np.zeros((1, 4, 4), bool))


# --- parts and polygons --------------------------------------------------------------------------


def test_count_parts_uses_8_connectivity() -> None:
    mask = np.zeros((6, 6), bool)
    assert masks.count_parts(mask) == 0
    mask[0, 0] = mask[1, 1] = True  # diagonal neighbours: one part
    mask[4, 4] = True
    assert masks.count_parts(mask) == 2


@settings(max_examples=300)
@given(bool_masks)
def test_polygons_give_every_part_back(mask: np.ndarray) -> None:
    polygons = masks.polygons(mask)
    assert len(polygons) == masks.count_parts(mask)
    assert all(p.ndim == 2 and p.shape[1] == 2 and len(p) >= 3 for p in polygons)
    filled = fill(polygons, mask.shape)
    assert (filled >= mask).all()  # no pixel is lost, tiny parts included
    if not has_holes(mask):
        assert np.array_equal(filled, mask)  # and without holes, nothing is added


def test_a_hole_is_cut_into_its_part() -> None:
    mask = np.zeros((40, 50), bool)
    mask[5:35, 5:45] = True
    mask[10:20, 10:20] = False
    mask[24:30, 30:40] = False
    mask[26:28, 33:36] = True  # an island in the second hole is a part of its own
    polygons = masks.polygons(mask)
    assert len(polygons) == 2
    assert np.array_equal(fill(polygons, mask.shape), mask)


@pytest.mark.parametrize(
    "pixels",
    [
        [(3, 4)],
        [(3, 4), (3, 5)],
        [(3, 4), (4, 5)],
        [(2, 2), (2, 3), (2, 4), (2, 5)],
        [(1, 6), (2, 6), (3, 6)],
    ],
)
def test_tiny_parts_become_small_polygons_not_nothing(pixels: list[tuple[int, int]]) -> None:
    mask = np.zeros((8, 9), bool)
    for y, x in pixels:
        mask[y, x] = True
    (polygon,) = masks.polygons(mask)
    assert len(polygon) >= 3
    assert cv2.contourArea(polygon.astype(np.float32)) > 0  # a real polygon, not a point or a segment
    assert np.array_equal(fill([polygon], mask.shape), mask)
    truncated = np.zeros(mask.shape, np.uint8)  # Ultralytics truncates instead of rounding
    cv2.fillPoly(truncated, [polygon.astype(np.int32)], 1)
    assert np.array_equal(truncated.astype(bool), mask)


def test_min_points_adds_vertices_without_changing_the_shape() -> None:
    mask = np.zeros((10, 10), bool)
    mask[2:6, 3:8] = True
    (square,) = masks.polygons(mask)
    (dense,) = masks.polygons(mask, min_points=9)
    assert len(square) == 4 and len(dense) >= 9
    assert np.array_equal(fill([dense], mask.shape), mask)


def test_empty_mask_has_no_polygons() -> None:
    assert masks.polygons(np.zeros((5, 5), bool)) == []
    with pytest.raises(ValueError, match="empty mask"):
        masks.single_polygon(np.zeros((5, 5), bool))


@settings(max_examples=300)
@given(bool_masks.filter(lambda mask: mask.any()))
def test_single_polygon_covers_every_part(mask: np.ndarray) -> None:
    polygon = masks.single_polygon(mask)
    assert polygon.ndim == 2 and polygon.shape[1] == 2 and len(polygon) >= 3
    for filled in (fill([polygon], mask.shape), truncate_fill(polygon, mask.shape)):
        assert (filled >= mask).all()  # rounded (supervision) or truncated (Ultralytics): no pixel lost
    lines = np.zeros(mask.shape, np.uint8)
    cv2.polylines(lines, [np.round(polygon).astype(np.int32)], True, 1)
    assert (fill([polygon], mask.shape) <= mask | lines.astype(bool)).all()  # only joins and cuts are added
    if masks.count_parts(mask) == 1:
        (alone,) = masks.polygons(mask)
        assert np.array_equal(polygon, alone)


def test_single_polygon_joins_parts_by_their_closest_vertices() -> None:
    mask = np.zeros((20, 40), bool)
    mask[2:6, 2:8] = True  # left square: its corner (7, 5) is closest to the middle square
    mask[8:12, 12:18] = True  # middle square
    mask[14:18, 30:36] = True  # right square, joined to the middle one at (17, 11) - (30, 14)
    polygon = masks.single_polygon(mask)
    assert len(polygon) == 3 * 5 + 1  # three closed loops of 4 corners; the middle one is split in two
    path = [tuple(v) for v in polygon.astype(int).tolist()]
    edges = {frozenset(pair) for pair in zip(path, path[1:] + path[:1], strict=True) if pair[0] != pair[1]}
    assert frozenset({(7, 5), (12, 8)}) in edges and frozenset({(17, 11), (30, 14)}) in edges
    filled = fill([polygon], mask.shape)
    assert (filled >= mask).all() and not filled[0].any() and not filled[:, 38:].any()
    added = filled & ~mask  # only the pixels along the two joining lines
    assert 0 < added.sum() <= 4 + 12


def truncate_fill(polygon: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """What Ultralytics does with a polygon: vertices truncated to integers, then cv2.fillPoly."""
    out = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(out, [polygon.astype(np.int32)], 1)
    return out.astype(bool)


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["davis_blackswan", "davis_bear_mp4"])
def test_single_polygon_matches_davis_ground_truth(shared_data: Path, clip: str) -> None:
    """The GT masks as one polygon each, filled as YOLO readers fill them: IoU >= 0.95 on every frame."""
    annotations = sorted((shared_data / clip / "Annotations").glob("*.png"))
    if not annotations:
        pytest.skip(f"{clip} is not in ../shared/data")
    several_parts = 0
    for png in annotations:
        mask = np.asarray(Image.open(png).convert("L")) > 127
        polygon = masks.single_polygon(mask)
        assert masks.iou(fill([polygon], mask.shape), mask) >= 0.95, png.name
        assert masks.iou(truncate_fill(polygon, mask.shape), mask) >= 0.95, png.name
        several_parts += masks.count_parts(mask) > 1
    if clip == "davis_bear_mp4":
        assert several_parts >= 10  # the bear's GT splits into parts: the join is what is measured


# --- results ---------------------------------------------------------------------------------------


def test_result_from_mask() -> None:
    mask = np.zeros((20, 30), bool)
    mask[4:9, 10:22] = True
    result = result_from_mask(7, 2, mask, np.float32(6.5), "sam2.1-tiny")  # type: ignore[arg-type]
    assert (result.frame, result.obj_id, result.model) == (7, 2, "sam2.1-tiny")
    assert result.box == (10, 4, 12, 5) and result.area == 60 and not result.is_empty
    assert type(result.score) is float and result.score == 6.5
    assert np.array_equal(masks.decode(result.rle), mask)
    empty = result_from_mask(0, 1, np.zeros((20, 30), bool), -4.0)
    assert empty.box is None and empty.area == 0 and empty.is_empty
