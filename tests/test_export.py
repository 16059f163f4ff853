"""Exports read back by the tools that consume them: pycocotools, py-motmetrics, supervision, PIL, json."""

from __future__ import annotations

import argparse
import configparser
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from textual.app import App
from textual.widgets import Button, Checkbox, Static

import sam2tui.tui
from sam2tui import masks
from sam2tui.cli import main
from sam2tui.errors import ExportError
from sam2tui.export import FORMATS, ExportOptions, export_session, parse_export_target
from sam2tui.export._io import MARKER
from sam2tui.export.cli import add_export_arguments, run_export
from sam2tui.export.davis import palette
from sam2tui.session.states import count_states, label_states
from sam2tui.tui.screens.export import ExportDone, ExportScreen
from sam2tui.values import LabelState, Prompt
from tests.fixtures_export import (
    HALF_LABELLED,
    HEIGHT,
    WIDTH,
    Scenario,
    bear_scenario,
    blackswan_scenario,
    expected_labels,
    half_tracked_scenario,
    make_stale,
    synthetic_scenario,
    write_frames,
)
from tests.fixtures_tui import settle

if not hasattr(np, "asfarray"):  # motmetrics 1.4.0 still calls it; numpy 2 removed it
    np.asfarray = lambda a, dtype=float: np.asarray(a, dtype=dtype)  # type: ignore[attr-defined]
import motmetrics as mm
import supervision as sv

FILE_FORMATS = {"coco", "ytvis"}


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    s = synthetic_scenario(tmp_path)
    yield s
    s.close()


@pytest.fixture(scope="module")
def blackswan(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Scenario]:
    data = shared_data / "davis_blackswan"
    if not data.is_dir():
        pytest.skip("davis_blackswan is not in ../shared/data")
    s = blackswan_scenario(tmp_path_factory.mktemp("blackswan"), data)
    yield s
    s.close()


@pytest.fixture(scope="module")
def bear(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Scenario]:
    data = shared_data / "davis_bear_mp4"
    if not data.is_dir():
        pytest.skip("davis_bear_mp4 is not in ../shared/data")
    s = bear_scenario(tmp_path_factory.mktemp("bear"), data)
    yield s
    s.close()


def export(scenario: Scenario, fmt: str, out: Path, **options: object) -> list[Path]:
    return export_session(scenario.store, fmt, out, video=scenario.video, options=ExportOptions(**options))  # type: ignore[arg-type]


def target(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / (f"{fmt}.json" if fmt in FILE_FORMATS else fmt)


# --- checks shared by the synthetic clip and blackswan ---------------------------------------------


def check_coco(scenario: Scenario, path: Path, frames: list[int]) -> COCO:
    coco = COCO(str(path))
    assert sorted(img["frame_id"] for img in coco.dataset["images"]) == frames
    assert {img["file_name"] for img in coco.dataset["images"]} == {f"frame_{f:06d}.jpg" for f in frames}
    expected = {key for key in scenario.masks if key[0] in frames}
    found = set()
    for ann in coco.dataset["annotations"]:
        frame, obj_id = coco.imgs[ann["image_id"]]["frame_id"], ann["track_id"]
        mask = scenario.masks[frame, obj_id]
        assert np.array_equal(coco.annToMask(ann).astype(bool), mask)  # bit for bit
        assert isinstance(ann["segmentation"]["counts"], str)
        assert tuple(ann["bbox"]) == masks.box(mask)
        assert ann["area"] == mask.sum()
        assert ann["iscrowd"] == 0 and ann["video_id"] == 1
        assert coco.cats[ann["category_id"]]["name"] == scenario.store.objects()[obj_id - 1].class_name
        found.add((frame, obj_id))
    assert found == expected
    assert coco.dataset["videos"][0]["frame_count"] == scenario.frame_count
    # COCO's own evaluator scores the file against itself perfectly.
    detections = coco.loadRes([{**ann, "score": 1.0} for ann in coco.dataset["annotations"]])
    evaluation = COCOeval(coco, detections, "segm")
    evaluation.params.useCats = 1
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)
    return coco


def check_mot(scenario: Scenario, folder: Path) -> None:
    gt = mm.io.loadtxt(str(folder / "gt" / "gt.txt"), fmt="mot15-2D")
    assert len(gt) == len(scenario.masks)
    for (frame, obj_id), mask in scenario.masks.items():
        row = gt.loc[(frame + 1, obj_id)]  # 1-based frames
        x, y, w, h = masks.box(mask)  # type: ignore[misc]
        assert (row.X, row.Y, row.Width, row.Height) == (x, y, w, h)  # motmetrics reads x, y as 1-based
        assert row.Visibility == 1
    accumulator = mm.utils.compare_to_groundtruth(gt, gt, "iou", distth=0.5)
    summary = mm.metrics.create().compute(accumulator, metrics=["mota", "num_switches"], name="self")
    assert summary["mota"]["self"] == 1.0 and summary["num_switches"]["self"] == 0
    info = configparser.ConfigParser()
    info.read(folder / "seqinfo.ini")
    sequence = info["Sequence"]
    assert sequence["name"] == folder.name and sequence["imDir"] == "img1" and sequence["imExt"] == ".jpg"
    assert int(sequence["seqLength"]) == scenario.frame_count
    assert (int(sequence["imWidth"]), int(sequence["imHeight"])) == (
        scenario.video.width,
        scenario.video.height,
    )
    assert float(sequence["frameRate"]) == pytest.approx(scenario.video.fps, rel=1e-3)


def load_yolo(folder: Path) -> sv.DetectionDataset:
    return sv.DetectionDataset.from_yolo(
        str(folder / "images"), str(folder / "labels"), str(folder / "data.yaml")
    )


def check_yolo(scenario: Scenario, folder: Path, frames: list[int], *, segmentation: bool) -> None:
    dataset = load_yolo(folder)
    names = list(dict.fromkeys(o.class_name for o in scenario.store.objects()))
    assert dataset.classes == names
    assert sorted(p.name for p in (folder / "labels").iterdir()) == [f"frame_{f:06d}.txt" for f in frames]
    assert sorted(int(Path(path).stem.removeprefix("frame_")) for path in dataset.image_paths) == frames
    for image_path, image, detections in dataset:
        frame = int(Path(image_path).stem.removeprefix("frame_"))
        assert image.shape == (scenario.video.height, scenario.video.width, 3)
        # JPEG at quality 95: close to the frame, not equal.
        assert np.abs(image[..., ::-1].astype(int) - scenario.video.frame(frame)).mean() < 4
        present = [obj for obj in scenario.obj_ids if (frame, obj) in scenario.masks]
        # One line per object present, in id order, for detection and segmentation alike.
        assert len(detections) == len(present)
        for index, obj_id in enumerate(present):
            mask = scenario.masks[frame, obj_id]
            x, y, w, h = masks.box(mask)  # type: ignore[misc]
            assert np.allclose(detections.xyxy[index], [x, y, x + w, y + h], atol=1.0)
            assert names[detections.class_id[index]] == scenario.store.objects()[obj_id - 1].class_name
            if segmentation:
                # Every part from the one polygon; besides them only pixels on its lines (joins, cuts).
                polygon = label_polygons(folder, frame, scenario.video.width, scenario.video.height)[index]
                assert (detections.mask[index] >= mask).all()
                assert (detections.mask[index] <= mask | outline(polygon, mask.shape)).all()
        assert (detections.mask is not None) == (segmentation and len(detections) > 0)


def label_polygons(folder: Path, frame: int, width: int, height: int) -> list[np.ndarray]:
    """The polygons of a yolo-seg label file, in pixels (one per line)."""
    lines = (folder / "labels" / f"frame_{frame:06d}.txt").read_text().splitlines()
    return [np.array(line.split()[1:], float).reshape(-1, 2) * [width, height] for line in lines]


def outline(polygon: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The pixels on the polygon's lines, its vertices rounded as supervision rounds them."""
    drawn = np.zeros(shape[:2], np.uint8)
    cv2.polylines(drawn, [np.round(polygon).astype(np.int32)], True, 1)
    return drawn.astype(bool)


def check_davis(scenario: Scenario, folder: Path, frames: list[int]) -> None:
    assert sorted(p.name for p in folder.glob("*.png")) == [f"{f:05d}.png" for f in frames]
    for frame in frames:
        image = Image.open(folder / f"{frame:05d}.png")
        assert image.mode == "P"
        assert image.getpalette()[:12] == [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]  # DAVIS colours
        assert np.array_equal(np.asarray(image), expected_labels(scenario, frame))


def check_ytvis(scenario: Scenario, path: Path) -> None:
    data = json.loads(path.read_text())
    (video,) = data["videos"]
    assert video["length"] == len(video["file_names"]) == scenario.frame_count
    assert {a["id"] for a in data["annotations"]} == set(scenario.obj_ids)
    for ann in data["annotations"]:
        obj_id = ann["id"]
        assert len(ann["segmentations"]) == len(ann["bboxes"]) == len(ann["areas"]) == scenario.frame_count
        for frame, rle in enumerate(ann["segmentations"]):
            mask = scenario.masks.get((frame, obj_id))
            if mask is None:
                assert rle is None and ann["bboxes"][frame] is None and ann["areas"][frame] is None
            else:
                assert np.array_equal(masks.decode(rle), mask)
                assert tuple(ann["bboxes"][frame]) == masks.box(mask)
                assert ann["areas"][frame] == mask.sum()
        category = next(c for c in data["categories"] if c["id"] == ann["category_id"])
        assert category["name"] == scenario.store.objects()[obj_id - 1].class_name


def check_all(scenario: Scenario, tmp_path: Path) -> None:
    every_frame = list(range(scenario.frame_count))
    check_coco(scenario, export(scenario, "coco", tmp_path / "coco.json")[0], every_frame)
    export(scenario, "mot", tmp_path / "mot")
    check_mot(scenario, tmp_path / "mot")
    export(scenario, "yolo", tmp_path / "yolo")
    check_yolo(scenario, tmp_path / "yolo", every_frame, segmentation=False)
    export(scenario, "yolo-seg", tmp_path / "yolo-seg")
    check_yolo(scenario, tmp_path / "yolo-seg", every_frame, segmentation=True)
    export(scenario, "davis", tmp_path / "davis")
    check_davis(scenario, tmp_path / "davis", every_frame)
    check_ytvis(scenario, export(scenario, "ytvis", tmp_path / "ytvis.json")[0])


# --- the consumers, on generated data and on DAVIS blackswan ----------------------------------------


def test_every_format_reads_back_on_generated_data(scenario: Scenario, tmp_path: Path) -> None:
    check_all(scenario, tmp_path / "out")


@pytest.mark.slow
def test_every_format_reads_back_on_davis_blackswan(blackswan: Scenario, tmp_path: Path) -> None:
    check_all(blackswan, tmp_path)


def test_generated_data_has_the_awkward_cases(scenario: Scenario) -> None:
    """Guards the fixture: overlaps, ties, holes, several parts, lost and missing frames are all there."""
    m = scenario.masks
    assert (m[4, 1] & m[4, 2]).any() and scenario.scores[4, 2] > scenario.scores[4, 1]
    assert (m[2, 1] & m[2, 3]).any() and scenario.scores[2, 3] == scenario.scores[2, 1]
    assert masks.count_parts(m[5, 3]) == 3 and m[5, 3].sum() > 1
    assert (6, 2) not in m and (9, 2) not in m and (0, 3) not in m
    assert len(scenario.store.results(frame=6, obj_id=2)) == 1  # stored, but empty


def test_davis_overlaps_follow_the_documented_rule(scenario: Scenario, tmp_path: Path) -> None:
    export(scenario, "davis", tmp_path / "davis")
    frame4 = np.asarray(Image.open(tmp_path / "davis" / "00004.png"))
    assert (frame4[scenario.masks[4, 1] & scenario.masks[4, 2]] == 2).all()  # higher score wins
    frame2 = np.asarray(Image.open(tmp_path / "davis" / "00002.png"))
    assert (frame2[scenario.masks[2, 1] & scenario.masks[2, 3]] == 1).all()  # tie: lower id wins
    frame3 = np.asarray(Image.open(tmp_path / "davis" / "00003.png"))
    assert (frame3[scenario.masks[3, 1] & scenario.masks[3, 2]] == 1).all()  # 8 beats 5
    assert Image.open(tmp_path / "davis" / "00000.png").getpalette() == palette()[: 3 * 256]


def test_yolo_seg_writes_one_instance_per_object_with_every_part_and_the_hole(
    scenario: Scenario, tmp_path: Path
) -> None:
    export(scenario, "yolo-seg", tmp_path / "seg")
    labels = (tmp_path / "seg" / "labels" / "frame_000005.txt").read_text().splitlines()
    assert [line.split()[0] for line in labels] == ["0", "1", "0"]  # objects 1, 2 and 3, one line each
    detections = dict(load_yolo(tmp_path / "seg").annotations)
    found = detections[str(tmp_path / "seg" / "images" / "frame_000005.jpg")]
    assert len(found) == 3
    assert np.array_equal(found.mask[1], scenario.masks[5, 2])  # the ring's hole stays open
    three = scenario.masks[5, 3]  # two blobs and a one-pixel speck: one instance
    assert (found.mask[2] >= three).all() and found.mask[2][60, 3]  # every part, the speck too
    (polygon,) = label_polygons(tmp_path / "seg", 5, WIDTH, HEIGHT)[2:]
    joins = found.mask[2] & ~three  # and besides them only the two lines joining the parts
    assert joins.any() and (joins <= outline(polygon, three.shape)).all()


@pytest.mark.slow
def test_yolo_seg_gives_the_davis_ground_truth_back_one_line_per_frame(
    bear: Scenario, tmp_path: Path
) -> None:
    """DAVIS bear (its GT has several parts on some frames), read back by supervision: one instance per
    frame, IoU >= 0.95 with the ground truth."""
    export(bear, "yolo-seg", tmp_path / "seg")
    dataset = load_yolo(tmp_path / "seg")
    assert len(dataset) == bear.frame_count
    several_parts = 0
    for image_path, _, detections in dataset:
        frame = int(Path(image_path).stem.removeprefix("frame_"))
        truth = bear.masks[frame, 1]
        assert len(detections) == 1
        assert masks.iou(detections.mask[0], truth) >= 0.95, frame
        several_parts += masks.count_parts(truth) > 1
    assert several_parts >= 10


# --- what is written: labelled frames only (docs/formats.md, "What is written") ------------------------


@pytest.fixture
def half(tmp_path: Path) -> Iterator[Scenario]:
    s = half_tracked_scenario(tmp_path / "session")
    yield s
    s.close()


def test_a_half_tracked_clip_writes_its_labelled_frames_only(half: Scenario, tmp_path: Path) -> None:
    """Frames 0, 1, 8, 10, 11 are untracked: no image entry, no label file, no PNG, no MOT row. Frame 9
    (object 1 said absent) is a confirmed negative: an image without annotations, an empty label file."""
    counts = count_states(label_states(half.store, half.frame_count))
    assert (counts[LabelState.PROMPTED], counts[LabelState.ABSENT], counts[LabelState.UNTRACKED]) == (
        2,
        1,
        14,
    )
    coco = check_coco(half, export(half, "coco", tmp_path / "coco.json")[0], HALF_LABELLED)
    assert coco.getAnnIds(imgIds=[9 + 1]) == [] and coco.getAnnIds(imgIds=[7 + 1]) == []  # negatives
    export(half, "mot", tmp_path / "mot")
    check_mot(half, tmp_path / "mot")  # its rows are the masks, all on labelled frames
    for fmt in ("yolo", "yolo-seg"):
        export(half, fmt, tmp_path / fmt)
        check_yolo(half, tmp_path / fmt, HALF_LABELLED, segmentation=fmt == "yolo-seg")
        assert (tmp_path / fmt / "labels" / "frame_000009.txt").read_text() == ""
    export(half, "davis", tmp_path / "davis")
    check_davis(half, tmp_path / "davis", HALF_LABELLED)
    assert not np.asarray(Image.open(tmp_path / "davis" / "00009.png")).any()
    # YouTube-VIS keeps one entry per frame of the video: untracked frames are null there.
    check_ytvis(half, export(half, "ytvis", tmp_path / "ytvis.json")[0])


def test_a_prompted_frame_without_its_result_is_left_out(half: Scenario, tmp_path: Path) -> None:
    half.store.add_prompt(Prompt.click(0, 1, 10.0, 30.0))  # prompted, its result not computed (a crash)
    data = json.loads(export(half, "coco", tmp_path / "c.json")[0].read_text())
    assert [image["frame_id"] for image in data["images"]] == HALF_LABELLED


@pytest.mark.parametrize("fmt", FORMATS)
def test_stale_frames_are_refused_unless_asked_for(half: Scenario, tmp_path: Path, fmt: str) -> None:
    stale = make_stale(half)
    out = target(tmp_path, fmt)
    with pytest.raises(ExportError, match="2 frames stale") as caught:
        export(half, fmt, out)
    assert "\n" not in str(caught.value) and not out.exists()
    export(half, fmt, out, include_stale=True)
    if fmt == "coco":
        data = json.loads(out.read_text())
        pairs = {(a["image_id"] - 1, a["track_id"]) for a in data["annotations"]}
        assert {(frame, 2) for frame in stale if (frame, 2) in half.masks} <= pairs
        assert [image["frame_id"] for image in data["images"]] == HALF_LABELLED


def test_cli_refuses_stale_frames_then_says_how_many_it_wrote(half: Scenario, tmp_path: Path, capsys) -> None:
    make_stale(half)
    session = str(half.store.path)
    half.close()
    command = ["export", session, "-f", "coco", "-f", "davis", "-o", str(tmp_path / "out")]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "2 frames stale" in err and "--include-stale" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
    assert main([*command, "--include-stale"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"coco: wrote {tmp_path / 'out' / 'coco.json'} (1 file, 2 stale frames)",
        f"davis: wrote {tmp_path / 'out' / 'davis'} ({len(HALF_LABELLED)} files, 2 stale frames)",
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_with_nothing_labelled_writes_nothing(half: Scenario, tmp_path: Path, fmt: str) -> None:
    out = target(tmp_path, fmt)
    with pytest.raises(ExportError, match=r"nothing to export: .*\(4 untracked\)"):
        export(half, fmt, out, frames=range(10, 12))
    assert not out.exists()


def test_cli_exit_2_when_nothing_is_labelled(half: Scenario, tmp_path: Path, capsys) -> None:
    session = str(half.store.path)
    half.close()
    assert main(["export", session, "-f", "yolo", "-o", str(tmp_path / "y"), "--frames", "10:"]) == 2
    err = capsys.readouterr().err
    assert "nothing to export" in err and err.count("\n") == 1 and not (tmp_path / "y").exists()


class DialogApp(App[None]):
    """The export dialog alone, on a scenario's session (what `e` opens in the annotate screen)."""

    CSS_PATH = str(Path(sam2tui.tui.__file__).parent / "sam2tui.tcss")

    def __init__(self, scenario: Scenario, folder: Path) -> None:
        super().__init__()
        self.scenario, self.folder = scenario, folder
        self.done: list[ExportDone | None] = []

    def on_mount(self) -> None:
        s = self.scenario
        dialog = ExportScreen(s.store, s.video, s.store.objects(), self.folder)
        self.push_screen(dialog, self.done.append)


def text(widget: Static) -> str:
    return str(widget.render())


async def test_the_dialog_shows_the_counts_and_writes_stale_frames_only_when_ticked(
    half: Scenario, tmp_path: Path
) -> None:
    make_stale(half)
    app = DialogApp(half, tmp_path / "out")
    async with app.run_test(size=(110, 50)) as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportScreen)
        counts = dialog.query_one("#export-counts", Static)
        assert "3 prompted, 4 current, 1 absent, 2 stale, 14 untracked" in text(counts)
        stale = dialog.query_one("#include-stale", Checkbox)
        assert str(stale.label) == "include 2 stale frames" and not stale.value
        dialog.query_one("#object-2", Checkbox).value = False
        await pilot.pause()
        assert "2 stale" not in text(counts) and stale.disabled  # object 1 alone has none
        dialog.query_one("#object-2", Checkbox).value = True
        await pilot.click("#export")
        await settle(pilot, lambda: "stale" in text(dialog.query_one("#export-status", Static)))
        assert not (tmp_path / "out").exists() and app.screen is dialog
        stale.value = True
        await pilot.pause()
        assert "Writes prompted, current, absent, stale; skips untracked" in text(counts)
        # Textual's Button ignores a click for 0.2 s after a press (its "-active" flash): a refused
        # export can come back sooner than that, so wait as a person would before clicking again.
        button = dialog.query_one("#export", Button)
        await settle(pilot, lambda: not button.has_class("-active"))
        await pilot.click("#export")
        await settle(pilot, lambda: bool(app.done))
    (done,) = app.done
    assert done is not None and done.stale == 2 and done.written == [tmp_path / "out" / "coco.json"]
    images = json.loads((tmp_path / "out" / "coco.json").read_text())["images"]
    assert [image["frame_id"] for image in images] == HALF_LABELLED


# --- options --------------------------------------------------------------------------------------


def test_frame_range_objects_and_every_k(scenario: Scenario, tmp_path: Path) -> None:
    out = export(
        scenario, "coco", tmp_path / "c.json", frames=range(2, 11), obj_ids=frozenset({2, 3}), every=3
    )
    data = json.loads(out[0].read_text())
    assert [img["frame_id"] for img in data["images"]] == [2, 5, 8]
    pairs = {
        (data["images"][[i["id"] for i in data["images"]].index(a["image_id"])]["frame_id"], a["track_id"])
        for a in data["annotations"]
    }
    assert pairs == {(2, 2), (2, 3), (5, 2), (5, 3), (8, 2), (8, 3)}
    # Category ids do not depend on the subset: "dog" stays 2 when "person" objects are left out.
    assert {a["category_id"] for a in data["annotations"] if a["track_id"] == 2} == {2}

    export(scenario, "mot", tmp_path / "mot", frames=range(0, 4), obj_ids=frozenset({1}))
    lines = (tmp_path / "mot" / "gt" / "gt.txt").read_text().splitlines()
    assert [line.split(",")[:2] for line in lines] == [["1", "1"], ["2", "1"], ["3", "1"], ["4", "1"]]

    export(scenario, "davis", tmp_path / "davis", every=5)
    assert sorted(p.name for p in (tmp_path / "davis").glob("*.png")) == [
        "00000.png",
        "00005.png",
        "00010.png",
    ]

    export(scenario, "yolo", tmp_path / "yolo", frames=range(9, 100))
    assert sorted(p.name for p in (tmp_path / "yolo" / "labels").iterdir()) == [
        "frame_000009.txt",
        "frame_000010.txt",
        "frame_000011.txt",
    ]

    data = json.loads(export(scenario, "ytvis", tmp_path / "y.json", frames=range(5, 8))[0].read_text())
    assert data["videos"][0]["file_names"] == ["clip/00005.jpg", "clip/00006.jpg", "clip/00007.jpg"]
    ring = next(a for a in data["annotations"] if a["id"] == 2)
    assert [s is not None for s in ring["segmentations"]] == [True, False, False]  # lost on 6 and 7


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"frames": range(50, 60)}, "no frame of 50:60"),
        ({"obj_ids": frozenset({1, 7})}, "no object 7"),
        ({"every": 0}, "every 0"),
    ],
)
def test_options_that_choose_nothing_valid_are_refused(
    scenario: Scenario, tmp_path: Path, options: dict[str, object], problem: str
) -> None:
    with pytest.raises(ExportError, match=problem):
        export(scenario, "coco", tmp_path / "c.json", **options)
    assert not (tmp_path / "c.json").exists()


def test_yolo_needs_the_video(scenario: Scenario, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="needs the video"):
        export_session(scenario.store, "yolo", tmp_path / "yolo")


# --- atomic writes and unwritable targets -----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_unwritable_target_is_a_one_line_export_error(scenario: Scenario, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "plain-file").write_text("x")
    with pytest.raises(ExportError) as caught:
        export(scenario, fmt, tmp_path / "plain-file" / "out")
    assert "\n" not in str(caught.value) and str(tmp_path / "plain-file" / "out") in str(caught.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failed_export_leaves_the_earlier_one_intact(scenario: Scenario, tmp_path: Path, fmt: str) -> None:
    out = target(tmp_path / "out", fmt)
    export(scenario, fmt, out, frames=range(0, 3))
    before = snapshot(tmp_path / "out")

    def fail_midway(done: int, total: int) -> None:
        if done == 2:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        export_session(scenario.store, fmt, out, video=scenario.video, progress=fail_midway)
    assert snapshot(tmp_path / "out") == before  # same files, same bytes, and no temporary leftovers


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_new_export_replaces_an_earlier_folder_export_whole(scenario: Scenario, tmp_path: Path) -> None:
    export(scenario, "davis", tmp_path / "davis")
    export(scenario, "davis", tmp_path / "davis", frames=range(0, 2))
    assert sorted(p.name for p in (tmp_path / "davis").iterdir()) == [MARKER, "00000.png", "00001.png"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_folder_of_other_files_is_never_replaced(scenario: Scenario, tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "precious.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not an earlier sam2tui export"):
        export(scenario, "davis", tmp_path / "datasets")
    assert (tmp_path / "datasets" / "precious.txt").read_text() == "keep me"
    with pytest.raises(ExportError, match="is a folder"):
        export(scenario, "coco", tmp_path / "datasets")


def test_exported_files_get_ordinary_permissions(scenario: Scenario, tmp_path: Path) -> None:
    path = export(scenario, "coco", tmp_path / "c.json")[0]
    reference = tmp_path / "plain"
    reference.write_text("")
    assert path.stat().st_mode == reference.stat().st_mode  # the umask's, not mkstemp's 0600


# --- targets and the command line -------------------------------------------------------------------


def test_parse_export_target() -> None:
    assert parse_export_target("coco:out/a.json") == ("coco", Path("out/a.json"))
    assert parse_export_target("yolo-seg:ds") == ("yolo-seg", Path("ds"))
    with pytest.raises(ExportError, match="unknown export format 'voc'"):
        parse_export_target("voc:x")
    with pytest.raises(ExportError, match="FORMAT:PATH"):
        parse_export_target("out.json")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    return parser.parse_args(argv)


def test_cli_exports_one_format_to_the_out_path(scenario: Scenario, tmp_path: Path, capsys) -> None:
    session = str(scenario.store.path)
    scenario.store.close()  # the CLI opens the session itself (a second open would be "in use")
    args = parse(
        [session, "--format", "mot", "--out", str(tmp_path / "seq"), "--frames", "3:", "--objects", "1,2"]
    )
    assert run_export(args) == 0
    lines = (tmp_path / "seq" / "gt" / "gt.txt").read_text().splitlines()
    assert lines[0].startswith("4,1,") and {line.split(",")[1] for line in lines} == {"1", "2"}
    assert "mot: wrote" in capsys.readouterr().out


def test_cli_exports_several_formats_into_a_folder(scenario: Scenario, tmp_path: Path) -> None:
    session = str(scenario.store.path)
    scenario.store.close()
    args = parse(
        [session, "-f", "coco", "-f", "yolo", "-f", "ytvis", "--out", str(tmp_path / "all"), "--every", "4"]
    )
    assert run_export(args) == 0  # yolo finds the video where the session says it is
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["coco.json", "yolo", "ytvis.json"]
    assert len(list((tmp_path / "all" / "yolo" / "images").iterdir())) == 3


def test_cli_refuses_another_video(scenario: Scenario, tmp_path: Path, capsys) -> None:
    session = str(scenario.store.path)
    scenario.store.close()
    other = write_frames(tmp_path / "other", 5, 32, 32)
    code = main(["export", session, "-f", "yolo", "-o", str(tmp_path / "y"), "--video", str(other)])
    err = capsys.readouterr().err
    assert code == 2 and "is not the session's video" in err and err.count("\n") == 1
    assert not (tmp_path / "y").exists()


@pytest.mark.parametrize(
    ("extra", "problem"),
    [(["--frames", "9:3"], "--frames 9:3"), (["--objects", "1,x"], "--objects 1,x")],
)
def test_cli_bad_options_are_one_line_errors(
    scenario: Scenario, tmp_path: Path, capsys, extra: list[str], problem: str
) -> None:
    session = str(scenario.store.path)
    scenario.store.close()
    assert main(["export", session, "-f", "coco", "-o", str(tmp_path / "c.json"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sam2tui: {problem}") and err.count("\n") == 1


def test_cli_missing_session(tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path / "none.sam2tui"), "-f", "coco", "-o", str(tmp_path / "c.json")]) == 2
    assert "no such session file" in capsys.readouterr().err


def test_every_format_follows_a_swap_of_identities(scenario: Scenario, tmp_path: Path) -> None:
    """A swap from frame 5 on (the fix for a tracker's identity switch) is what every export writes: the
    track ids (and so the categories) of frames 5 and later are exchanged, the earlier ones are not."""
    from sam2tui.session.history import History

    History(scenario.store).swap_objects(1, 2, 5)
    swapped = {1: 2, 2: 1, 3: 3}
    scenario.masks = {
        (frame, swapped[obj_id] if frame >= 5 else obj_id): mask
        for (frame, obj_id), mask in scenario.masks.items()
    }
    scenario.scores = {
        (frame, swapped[obj_id] if frame >= 5 else obj_id): score
        for (frame, obj_id), score in scenario.scores.items()
    }
    check_all(scenario, tmp_path)
    coco = json.loads(export_session(scenario.store, "coco", tmp_path / "again.json")[0].read_text())
    frame_of = {image["id"]: image["frame_id"] for image in coco["images"]}
    dog = next(c["id"] for c in coco["categories"] if c["name"] == "dog")
    dog_frames = sorted({frame_of[a["image_id"]] for a in coco["annotations"] if a["track_id"] == 2})
    assert all(a["category_id"] == dog for a in coco["annotations"] if a["track_id"] == 2)
    assert 4 in dog_frames and 5 in dog_frames  # track 2 holds object 1's ellipse from frame 5 on
