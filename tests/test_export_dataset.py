"""Dataset exports of a generated project (several clips, each with its session) read back by the tools that
consume them: pycocotools, py-motmetrics, supervision's YOLO loader, PIL, SA-V's reader, json."""

from __future__ import annotations

import configparser
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from sam2tui import masks
from sam2tui.cli import main
from sam2tui.engine.tracker import result_from_mask
from sam2tui.errors import ExportError, InputError
from sam2tui.export.dataset import export_dataset
from sam2tui.session.project import PROJECT_FILE, ProjectSettings, load_settings, save_settings, split_clips
from sam2tui.session.store import SessionStore
from tests.fixtures_export import (
    FRAMES,
    HEIGHT,
    WIDTH,
    Scenario,
    expected_labels,
    make_stale,
    open_scenario,
    synthetic_results,
    write_frames,
)

if not hasattr(np, "asfarray"):  # motmetrics 1.4.0 still calls it; numpy 2 removed it
    np.asfarray = lambda a, dtype=float: np.asarray(a, dtype=dtype)  # type: ignore[attr-defined]
import motmetrics as mm
import supervision as sv

PROJECT_CLASSES = ["dog", "person"]


@dataclass
class Project:
    folder: Path
    clips: dict[str, Scenario]  # sequence name -> its session's scenario (closed stores: masks kept)
    classes: dict[str, dict[int, str]]  # sequence name -> object id -> class


def make_project(root: Path, *, count: int = 3) -> Project:
    """`count` clips of 12 PNG frames (a_frames, b_frames, ...) with sessions, plus `z_frames` with none.

    a: the synthetic clip (person, dog, person; model "synthetic" and, for object 2, none recorded).
    b: its objects 1 and 3 only, as "cat" and "person", by "sam2.1-tiny". c...: object 1 as "dog".
    The project file lists dog, person: "cat" joins the dataset's categories after them.
    """
    folder = root / "project"
    folder.mkdir()
    save_settings(folder, ProjectSettings(PROJECT_CLASSES, 3, (0.5, 0.5, 0.0)))
    clips: dict[str, Scenario] = {}
    all_classes: dict[str, dict[int, str]] = {}
    for index in range(count):
        name = f"{chr(ord('a') + index)}_frames"
        frames = write_frames(folder / name, FRAMES, WIDTH, HEIGHT)
        results = synthetic_results()
        if index == 0:
            classes = {1: "person", 2: "dog", 3: "person"}
        elif index == 1:
            results = [
                result_from_mask(
                    r.frame, 1 if r.obj_id == 1 else 2, masks.decode(r.rle), r.score, "sam2.1-tiny"
                )
                for r in results
                if r.obj_id in (1, 3)
            ]
            classes = {1: "cat", 2: "person"}
        else:
            results = [r for r in results if r.obj_id == 1]
            classes = {1: "dog"}
        scenario = open_scenario(folder / f"{name}.sam2tui", frames, results, classes)
        clips[name] = scenario
        all_classes[name] = classes
    write_frames(folder / "z_frames", 4, WIDTH, HEIGHT)  # not started
    for scenario in clips.values():
        scenario.store.close()  # exports read snapshots; the masks stay in the scenario
    return Project(folder, clips, all_classes)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = make_project(tmp_path)
    yield p
    for scenario in p.clips.values():
        scenario.video.close()


def class_name(project: Project, sequence: str, obj_id: int) -> str:
    return project.classes[sequence][obj_id]


CATEGORIES = ["dog", "person", "cat"]


def test_coco_has_every_clip_with_unique_ids_and_one_category_list(project: Project, tmp_path: Path) -> None:
    report = export_dataset(project.folder, "coco", tmp_path / "coco.json")
    assert [(c.name, c.status) for c in report.clips] == [
        ("a_frames", "exported"),
        ("b_frames", "exported"),
        ("c_frames", "exported"),
        ("z_frames", "no session"),
    ]
    coco = COCO(str(tmp_path / "coco.json"))
    data = coco.dataset
    assert [c["name"] for c in data["categories"]] == CATEGORIES  # the project's order, then the rest
    assert [v["name"] for v in data["videos"]] == ["a_frames", "b_frames", "c_frames"]
    assert len({img["id"] for img in data["images"]}) == len(data["images"]) == 3 * FRAMES
    videos = {v["id"]: v["name"] for v in data["videos"]}
    tracks: dict[int, tuple[str, int]] = {}
    found = set()
    for ann in data["annotations"]:
        image = coco.imgs[ann["image_id"]]
        sequence = videos[ann["video_id"]]
        assert image["video_id"] == ann["video_id"] and image["file_name"].startswith(f"{sequence}/frame_")
        # One track id per (clip, object), never shared by two clips.
        obj_id = next(
            o
            for (f, o), m in project.clips[sequence].masks.items()
            if f == image["frame_id"] and np.array_equal(m, coco.annToMask(ann).astype(bool))
        )
        assert tracks.setdefault(ann["track_id"], (sequence, obj_id)) == (sequence, obj_id)
        assert coco.cats[ann["category_id"]]["name"] == class_name(project, sequence, obj_id)
        found.add((sequence, image["frame_id"], obj_id))
    assert found == {(s, f, o) for s, sc in project.clips.items() for f, o in sc.masks}
    assert len(set(tracks.values())) == len(tracks) == 3 + 2 + 1
    contributor = data["info"]["contributor"]
    assert (
        contributor.startswith("labels by ")
        and "sam2.1-tiny (" in contributor
        and "synthetic (" in contributor
    )
    detections = coco.loadRes([{**ann, "score": 1.0} for ann in data["annotations"]])
    evaluation = COCOeval(coco, detections, "segm")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_mot_is_one_sequence_folder_per_clip(project: Project, tmp_path: Path) -> None:
    export_dataset(project.folder, "mot", tmp_path / "mot")
    assert sorted(p.name for p in (tmp_path / "mot").iterdir() if not p.name.startswith(".")) == sorted(
        project.clips
    )
    for sequence, scenario in project.clips.items():
        folder = tmp_path / "mot" / sequence
        gt = mm.io.loadtxt(str(folder / "gt" / "gt.txt"), fmt="mot15-2D")
        assert len(gt) == len(scenario.masks)
        accumulator = mm.utils.compare_to_groundtruth(gt, gt, "iou", distth=0.5)
        summary = mm.metrics.create().compute(accumulator, metrics=["mota"], name="self")
        assert summary["mota"]["self"] == 1.0
        info = configparser.ConfigParser()
        info.read(folder / "seqinfo.ini")
        sequence_info = info["Sequence"]
        assert sequence_info["name"] == sequence and int(sequence_info["seqLength"]) == FRAMES
        assert sequence_info["frameRate"].isdigit()  # MOTChallenge's rates are whole numbers
        assert sequence_info["labelsBy"].startswith("labels by ")
        classes = {row.ClassId for row in gt.itertuples()}
        names = {CATEGORIES[int(c) - 1] for c in classes}
        assert names == {class_name(project, sequence, o) for _, o in scenario.masks}


@pytest.mark.parametrize("fmt", ["yolo", "yolo-seg"])
def test_yolo_splits_by_clip_and_reads_back(project: Project, tmp_path: Path, fmt: str) -> None:
    report = export_dataset(project.folder, fmt, tmp_path / fmt)
    out = tmp_path / fmt
    document = yaml.safe_load((out / "data.yaml").read_text())
    assert document["names"] == dict(enumerate(CATEGORIES)) and document["nc"] == 3
    expected = split_clips([*project.clips, "z_frames"], 3, (0.5, 0.5, 0.0))
    splits = {c.name: c.split for c in report.exported}
    assert splits == {name: expected[name] for name in project.clips}
    assert set(splits.values()) == {"train", "val"} and "test" not in document
    for split in set(splits.values()):
        assert document[split] == f"images/{split}"
        dataset = sv.DetectionDataset.from_yolo(
            str(out / "images" / split), str(out / "labels" / split), str(out / "data.yaml")
        )
        clips = {Path(path).name.split("_frame_")[0] for path in dataset.image_paths}
        assert clips == {name for name, s in splits.items() if s == split}  # every clip in one split
        for image_path, image, detections in dataset:
            sequence, _, frame_text = Path(image_path).stem.partition("_frame_")
            frame = int(frame_text)
            scenario = project.clips[sequence]
            assert image.shape == (HEIGHT, WIDTH, 3)
            present = [o for o in scenario.obj_ids if (frame, o) in scenario.masks]
            assert len(detections) == len(present)
            for index, obj_id in enumerate(present):
                assert CATEGORIES[detections.class_id[index]] == class_name(project, sequence, obj_id)


def test_the_split_is_seeded_whole_clips_and_its_options_override_the_project_file(tmp_path: Path) -> None:
    names = [f"clip{i:02d}" for i in range(20)]
    first = split_clips(names, 7, (0.7, 0.2, 0.1))
    assert first == split_clips(list(reversed(names)), 7, (0.7, 0.2, 0.1))  # the order given does not matter
    assert sorted(first.values()).count("train") == 14 and list(first.values()).count("test") == 2
    assert any(split_clips(names, seed, (0.7, 0.2, 0.1)) != first for seed in range(8, 12))
    assert set(split_clips(names[:2], 0, (0.8, 0.2, 0.0)).values()) == {"train", "val"}  # val gets one
    project = make_project(tmp_path, count=3)
    try:
        report = export_dataset(project.folder, "yolo", tmp_path / "y", split_seed=5, split_ratios=(0, 0, 1))
        assert {c.split for c in report.exported} == {"test"}
        document = yaml.safe_load((tmp_path / "y" / "data.yaml").read_text())
        assert document["test"] == "images/test" and "train" not in document
    finally:
        for scenario in project.clips.values():
            scenario.video.close()


def test_ytvis_has_every_clip_as_a_video(project: Project, tmp_path: Path) -> None:
    export_dataset(project.folder, "ytvis", tmp_path / "ytvis.json")
    data = json.loads((tmp_path / "ytvis.json").read_text())
    assert [v["name"] for v in data["videos"]] == list(project.clips)
    assert [c["name"] for c in data["categories"]] == CATEGORIES
    assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"]) == 3 + 2 + 1
    videos = {v["id"]: v for v in data["videos"]}
    for ann in data["annotations"]:
        video = videos[ann["video_id"]]
        assert video["file_names"][0] == f"{video['name']}/00000.jpg"
        scenario = project.clips[video["name"]]
        decoded = [
            (f, mask_util.decode(rle).astype(bool)) for f, rle in enumerate(ann["segmentations"]) if rle
        ]
        obj_ids = {
            o
            for (f, o), m in scenario.masks.items()
            for g, d in decoded[:1]
            if f == g and np.array_equal(m, d)
        }
        (obj_id,) = obj_ids
        assert all(np.array_equal(scenario.masks[f, obj_id], d) for f, d in decoded)
        assert len(decoded) == sum(1 for f, o in scenario.masks if o == obj_id)


def test_davis_and_sav_write_one_entry_per_clip(project: Project, tmp_path: Path) -> None:
    export_dataset(project.folder, "davis", tmp_path / "davis")
    export_dataset(project.folder, "sav", tmp_path / "sav")
    for sequence, scenario in project.clips.items():
        for frame in range(FRAMES):
            image = Image.open(tmp_path / "davis" / sequence / f"{frame:05d}.png")
            assert image.mode == "P" and np.array_equal(np.asarray(image), expected_labels(scenario, frame))
        annot = json.loads((tmp_path / "sav" / f"{sequence}_manual.json").read_text())
        assert annot["video_id"] == sequence and annot["masklet_num"] == len(scenario.obj_ids)
        for frame, rles in enumerate(annot["masklet"]):  # stride 1: annotated frame i is frame i
            for obj_id, rle in zip(scenario.obj_ids, rles, strict=True):
                mask = mask_util.decode(rle).astype(bool)
                assert np.array_equal(mask, scenario.masks.get((frame, obj_id), np.zeros_like(mask)))
        assert annot["labels_by"].startswith("labels by ")


def test_cli_exports_a_project_and_records_when(project: Project, tmp_path: Path, capsys) -> None:
    code = main(
        ["export", str(project.folder), "--format", "coco", "--format", "mot", "--out", str(tmp_path / "o")]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "coco: skipped z_frames (no session)" in out and "coco: wrote" in out and "3 clips" in out
    assert (tmp_path / "o" / "coco.json").is_file() and (
        tmp_path / "o" / "mot" / "a_frames" / "seqinfo.ini"
    ).is_file()
    exported = load_settings(project.folder).exported
    assert set(exported) == set(project.clips)


def test_stale_frames_refuse_the_export_naming_the_clip(tmp_path: Path, capsys) -> None:
    project = make_project(tmp_path, count=2)
    for scenario in project.clips.values():
        scenario.video.close()
    # Reopen b's session to make two of its frames stale (a correction not re-propagated).
    with SessionStore.open(project.folder / "b_frames.sam2tui") as store:
        stale = Scenario(store, project.clips["b_frames"].video)
        make_stale(stale)
    code = main(["export", str(project.folder), "--format", "davis", "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2 and "b_frames.sam2tui" in err and "stale" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()  # nothing written
    assert (
        main(["export", str(project.folder), "-f", "davis", "-o", str(tmp_path / "d"), "--include-stale"])
        == 0
    )


def test_a_clip_that_fails_is_listed_at_the_end_and_the_others_go_on(
    project: Project, tmp_path: Path, capsys
) -> None:
    write_frames(project.folder / "m_frames", 3, WIDTH, HEIGHT)
    (project.folder / "m_frames.sam2tui").write_text("not a session")
    code = main(["export", str(project.folder), "-f", "coco", "-o", str(tmp_path / "c.json")])
    captured = capsys.readouterr()
    assert code == 2
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("sam2tui: export: m_frames failed: ") and "m_frames.sam2tui" in line
    assert len(json.loads((tmp_path / "c.json").read_text())["videos"]) == 3


def test_a_folder_without_clips_and_bad_options_are_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no clips in this folder"):
        export_dataset(tmp_path / "empty", "coco", tmp_path / "c.json")
    assert main(["export", str(tmp_path / "empty"), "-f", "coco", "-o", str(tmp_path / "c.json")]) == 2
    assert "no clips in this folder" in capsys.readouterr().err
    write_frames(tmp_path / "p" / "a", 2, WIDTH, HEIGHT)
    with pytest.raises(ExportError, match="no clip of the project has labelled frames"):
        export_dataset(tmp_path / "p", "coco", tmp_path / "c.json")
    for options in (["--split", "0.5,x"], ["--split", "1,1"], ["--objects", "1"]):
        assert main(["export", str(tmp_path / "p"), "-f", "yolo", "-o", str(tmp_path / "y"), *options]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / PROJECT_FILE).exists()


def test_the_dataset_export_of_a_generated_project_takes_little_time(tmp_path: Path) -> None:
    """The figure the README quotes: every format of an 8-clip project (12 frames of 96x64 each)."""
    project = make_project(tmp_path, count=8)
    try:
        started = time.perf_counter()
        for fmt in ("coco", "yolo", "mot", "ytvis", "davis", "sav"):
            export_dataset(project.folder, fmt, tmp_path / "out" / fmt)
        elapsed = time.perf_counter() - started
    finally:
        for scenario in project.clips.values():
            scenario.video.close()
    print(f"dataset export of 8 clips, 6 formats: {elapsed:.2f} s")
    assert elapsed < 60


def test_yolo_lists_a_clip_whose_video_changed_and_writes_the_others(
    project: Project, tmp_path: Path, capsys
) -> None:
    frame = project.folder / "c_frames" / "00000.png"
    Image.fromarray(np.zeros((HEIGHT, WIDTH, 3), np.uint8)).save(frame)  # the fingerprint's first frame
    code = main(["export", str(project.folder), "-f", "yolo", "-o", str(tmp_path / "y"), "--split", "1,0,0"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and line.startswith("sam2tui: export: c_frames failed: ") and "changed" in line
    written = {p.name.split("_frame_")[0] for p in (tmp_path / "y" / "images" / "train").iterdir()}
    assert written == {"a_frames", "b_frames"}
