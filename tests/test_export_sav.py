"""The SA-V export read back as SA-V's own reader reads it (sav_dataset/utils/sav_utils.py of
facebookresearch/sam2: the video's frames `[::annot_sample_rate]`, `masklet[annotated_frame_id]` decoded with
pycocotools), with `null` entries skipped as SAM 2's training loader skips them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest

from sam2tui.export import ExportOptions, export_session
from sam2tui.export.sav import stride
from tests.fixtures_export import Scenario, blackswan_scenario, synthetic_scenario

REQUIRED = {
    "video_id",
    "video_duration",
    "video_frame_count",
    "video_height",
    "video_width",
    "video_resolution",
    "video_environment",
    "video_split",
    "masklet",
    "masklet_id",
    "masklet_size_rel",
    "masklet_size_abs",
    "masklet_size_bucket",
    "masklet_visibility_changes",
    "masklet_first_appeared_frame",
    "masklet_frame_count",
    "masklet_edited_frame_count",
    "masklet_type",
    "masklet_stability_score",
    "masklet_num",
}


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    scenario = synthetic_scenario(tmp_path)
    yield scenario
    scenario.close()


def export_sav(scenario: Scenario, out: Path, **options: object) -> dict:
    [path] = export_session(scenario.store, "sav", out, options=ExportOptions(**options))  # type: ignore[arg-type]
    return json.loads(path.read_text())


def read_like_sav_utils(scenario: Scenario, annot: dict, rate: int) -> dict[int, list[np.ndarray | None]]:
    """Video frame -> each masklet's mask, the way SAVDataset pairs frames and annotations."""
    frames = list(range(scenario.frame_count))[::rate]  # read_frames: frames[:: self.annot_sample_rate]
    out = {}
    for annotated_frame_id, rles in enumerate(annot["masklet"]):
        assert annotated_frame_id < len(frames)
        out[frames[annotated_frame_id]] = [None if rle is None else mask_util.decode(rle) > 0 for rle in rles]
    return out


def expected_mask(scenario: Scenario, frame: int, obj_id: int) -> np.ndarray:
    return scenario.masks.get((frame, obj_id), np.zeros((scenario.video.height, scenario.video.width), bool))


def test_every_frame_decodes_to_the_stored_masks(scenario: Scenario, tmp_path: Path) -> None:
    annot = export_sav(scenario, tmp_path / "clip_manual.json")
    assert annot.keys() >= REQUIRED
    assert annot["masklet_num"] == 3 and annot["masklet_id"] == [0, 1, 2]  # objects 1, 2, 3
    assert (annot["video_width"], annot["video_height"], annot["video_frame_count"]) == (96, 64, 12)
    assert annot["video_resolution"] == 96 * 64 and annot["video_id"] == "clip"
    decoded = read_like_sav_utils(scenario, annot, rate=1)
    assert sorted(decoded) == list(range(12))
    for frame, masks in decoded.items():
        for obj_id, mask in zip((1, 2, 3), masks, strict=True):
            assert mask is not None and np.array_equal(mask, expected_mask(scenario, frame, obj_id))


def test_masklet_statistics(scenario: Scenario, tmp_path: Path) -> None:
    annot = export_sav(scenario, tmp_path / "s.json")
    areas = {
        obj_id: [int(scenario.masks[f, obj_id].sum()) for f in range(12) if (f, obj_id) in scenario.masks]
        for obj_id in (1, 2, 3)
    }
    assert annot["masklet_size_abs"] == pytest.approx([np.mean(areas[o]) for o in (1, 2, 3)])
    assert annot["masklet_size_rel"] == pytest.approx([np.mean(areas[o]) / (96 * 64) for o in (1, 2, 3)])
    assert annot["masklet_size_bucket"] == ["small"] * 3  # all under 32 x 32 pixels
    # Object 2 is lost on frames 6, 7 and 9: it disappears twice and comes back twice.
    assert annot["masklet_visibility_changes"] == [0, 4, 0]
    assert annot["masklet_first_appeared_frame"] == [0, 0, 2]
    assert annot["masklet_frame_count"] == [12, 12, 12]
    assert annot["masklet_type"] == ["manual"] * 3


def test_every_k_frames_is_the_readers_sample_rate(scenario: Scenario, tmp_path: Path) -> None:
    annot = export_sav(scenario, tmp_path / "s.json", every=3)
    assert len(annot["masklet"]) == 4  # frames 0, 3, 6, 9
    decoded = read_like_sav_utils(scenario, annot, rate=3)
    assert sorted(decoded) == [0, 3, 6, 9]
    for frame, masks in decoded.items():
        for obj_id, mask in zip((1, 2, 3), masks, strict=True):
            assert mask is not None and np.array_equal(mask, expected_mask(scenario, frame, obj_id))
    assert annot["masklet_frame_count"] == [4, 4, 4]


def test_frames_not_written_are_null_so_the_rest_stay_aligned(scenario: Scenario, tmp_path: Path) -> None:
    annot = export_sav(scenario, tmp_path / "s.json", frames=range(3, 12), every=3)  # frames 3, 6, 9
    assert annot["masklet"][0] == [None, None, None]  # frame 0 is not exported
    decoded = read_like_sav_utils(scenario, annot, rate=3)
    for frame in (3, 6, 9):
        for obj_id, mask in zip((1, 2, 3), decoded[frame], strict=True):
            assert mask is not None and np.array_equal(mask, expected_mask(scenario, frame, obj_id))
    assert annot["masklet_frame_count"] == [3, 3, 3]
    offset = export_sav(scenario, tmp_path / "t.json", frames=range(2, 12), every=3)  # 2, 5, 8, 11
    assert len(offset["masklet"]) == 12  # no common step but 1: every other frame is null
    assert [i for i, row in enumerate(offset["masklet"]) if row != [None] * 3] == [2, 5, 8, 11]


def test_objects_never_seen_are_no_masklet(scenario: Scenario, tmp_path: Path) -> None:
    annot = export_sav(scenario, tmp_path / "s.json", frames=range(0, 2))  # object 3 starts on frame 2
    assert annot["masklet_num"] == 2 and all(len(row) == 2 for row in annot["masklet"])


def test_stride_is_the_largest_common_step() -> None:
    assert (stride([0]), stride([0, 4, 8]), stride([3, 6, 9]), stride([2, 5]), stride([0, 2, 3])) == (
        1,
        4,
        3,
        1,
        1,
    )


def test_blackswan_ground_truth_round_trips(tmp_path: Path, shared_data: Path) -> None:
    data = shared_data / "davis_blackswan"
    if not (data / "Annotations").is_dir():
        pytest.skip("davis_blackswan is not in ../shared/data")
    scenario = blackswan_scenario(tmp_path, data)
    try:
        annot = export_sav(scenario, tmp_path / "blackswan_manual.json", every=4)  # SA-V's 6 of 24 fps
        decoded = read_like_sav_utils(scenario, annot, rate=4)
        assert sorted(decoded) == list(range(0, scenario.frame_count, 4))
        for frame, (mask,) in decoded.items():
            assert mask is not None and np.array_equal(mask, expected_mask(scenario, frame, 1))
        assert annot["masklet_size_bucket"] == ["large"] and annot["masklet_visibility_changes"] == [0]
    finally:
        scenario.close()
