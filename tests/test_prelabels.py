"""`track --prompts-from`: MOT, COCO and YOLO boxes become objects and box prompts on keyframes.

The MOT tests read MOT17-04's real ground truth and public detections (../shared/data/mot17_04_mini, see
its PROVENANCE.txt: MOT frame n is video frame n-1); COCO and YOLO read back sam2tui's own exports.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sam2tui.cli import main
from sam2tui.errors import PromptsError
from sam2tui.export import export_session
from sam2tui.session.store import SessionStore
from sam2tui.track.prelabels import MOT_CLASSES, Clip, Keyframes, load_prelabels
from sam2tui.values import Prompt, PromptKind
from sam2tui.video import VideoSource
from tests.fixtures_engine import clip_frames, tracked_frames, write_jpeg_folder
from tests.fixtures_export import HEIGHT, WIDTH, synthetic_scenario

MOT_CLIP = Clip(1920, 1080, 8)
SCRIPTED = "tests.scripted_tracker:make_tracker"


@pytest.fixture
def mot(shared_data: Path) -> Path:
    folder = shared_data / "mot17_04_mini"
    if not (folder / "gt" / "gt.txt").is_file():
        pytest.skip("mot17_04_mini is not in ../shared/data")
    return folder


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_jpeg_folder(tmp_path / "clip", clip_frames(4))  # 160x120, 4 frames


def mot_rows(path: Path, frame: int) -> list[list[float]]:
    """The rows of one MOT frame (1-based), read with the csv module."""
    return [[float(v) for v in row] for row in csv.reader(path.open()) if int(row[0]) == frame]


def mot_box(row: list[float]) -> tuple[float, float, float, float]:
    """A MOT row's box as 0-based corners, clipped to the 1920x1080 frame."""
    left, top, width, height = row[2] - 1, row[3] - 1, row[4], row[5]
    return (max(left, 0), max(top, 0), min(left + width, 1920), min(top + height, 1080))


def test_mot17_gt_frame_1_gives_99_objects_with_its_boxes(mot: Path) -> None:
    gt = mot / "gt" / "gt.txt"
    rows = mot_rows(gt, 1)
    assert len(rows) == 99  # every row of MOT frame 1: 42 evaluated pedestrians and 57 ignored rows
    labels = load_prelabels("mot", gt, MOT_CLIP)
    assert [o.obj_id for o in labels.objects] == sorted(int(r[1]) for r in rows)
    by_id = {int(r[1]): r for r in rows}
    for obj in labels.objects:
        assert obj.class_name == MOT_CLASSES[int(by_id[obj.obj_id][7])]
        assert obj.name == f"{obj.class_name} {obj.obj_id}"
    assert len(labels.prompts) == 99
    for prompt in labels.prompts:
        assert (prompt.frame, prompt.kind) == (0, PromptKind.BOX)
        assert prompt.box == mot_box(by_id[prompt.obj_id])
    # conf (column 7) is MOTChallenge's "consider" flag: --min-score 1 keeps the evaluated rows only.
    evaluated = load_prelabels("mot", gt, MOT_CLIP, min_score=1)
    assert {o.obj_id for o in evaluated.objects} == {int(r[1]) for r in rows if r[6] == 1}
    assert len(evaluated.objects) == 42
    assert {o.class_name for o in evaluated.objects} == {"pedestrian"}


def test_mot17_detections_above_a_threshold_are_one_object_per_box(mot: Path) -> None:
    det = mot / "det" / "det.txt"
    kept = [r for r in mot_rows(det, 1) if r[6] >= 0.95]
    assert 0 < len(kept) < len(mot_rows(det, 1))  # the threshold drops some boxes
    labels = load_prelabels("mot", det, MOT_CLIP, min_score=0.95)
    assert [o.obj_id for o in labels.objects] == list(range(1, len(kept) + 1))
    assert all(p.frame == 0 for p in labels.prompts)
    assert [p.box for p in labels.prompts] == [mot_box(r) for r in kept]  # one prompt per box, in file order


def test_every_k_prompts_every_kth_frame_with_that_frames_boxes(mot: Path) -> None:
    gt = mot / "gt" / "gt.txt"
    labels = load_prelabels("mot", gt, MOT_CLIP, keyframes=Keyframes.parse("every:3"))
    assert sorted({p.frame for p in labels.prompts}) == [0, 3, 6]
    for frame in (0, 3, 6):
        expected = {(int(r[1]), mot_box(r)) for r in mot_rows(gt, frame + 1)}
        assert {(p.obj_id, p.box) for p in labels.prompts if p.frame == frame} == expected
    assert len(labels.objects) == len({int(r[1]) for f in (1, 4, 7) for r in mot_rows(gt, f)})


def test_track_prompts_from_mot_stores_objects_prompts_and_results(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small clip: with the real 99 objects, Replay's per-prompt commits of every object's mask take minutes.
    monkeypatch.setenv("SAM2TUI_TEST_TRACKER", SCRIPTED)
    gt = tmp_path / "gt.txt"
    gt.write_text(
        "1,4,11,21,30,40,1,1,1\n1,7,81,31,20,20,1,3,1\n3,4,15,21,30,40,1,1,1\n4,7,85,31,20,20,1,3,1\n"
    )
    session = tmp_path / "clip.sam2tui"
    argv = [
        "track",
        str(clip),
        "--prompts-from",
        f"mot:{gt}",
        "--keyframes",
        "every:2",
        "--session",
        str(session),
    ]
    assert main(argv) == 0
    with SessionStore.open(session) as store:
        assert [(o.obj_id, o.name, o.class_name) for o in store.objects()] == [
            (4, "pedestrian 4", "pedestrian"),
            (7, "car 7", "car"),
        ]
        assert store.prompts() == [
            Prompt.rectangle(0, 4, (10, 20, 40, 60)),
            Prompt.rectangle(0, 7, (80, 30, 100, 50)),
            Prompt.rectangle(
                2, 4, (14, 20, 44, 60)
            ),  # MOT frame 3 = video frame 2; MOT frame 4 is no keyframe
        ]
        assert tracked_frames(store) == [0, 1, 2, 3]


def test_coco_export_reads_back_as_the_same_objects_and_boxes(tmp_path: Path) -> None:
    scenario = synthetic_scenario(tmp_path)
    try:
        [coco] = export_session(scenario.store, "coco", tmp_path / "coco.json")
        clip = Clip(WIDTH, HEIGHT, scenario.frame_count)
        labels = load_prelabels("coco", coco, clip, keyframes=Keyframes(every=1))
        objects = {o.obj_id: o.class_name for o in scenario.store.objects()}
        assert {o.obj_id: o.class_name for o in labels.objects} == objects
        expected = {
            (r.frame, r.obj_id, (r.box[0], r.box[1], r.box[0] + r.box[2], r.box[1] + r.box[3]))
            for r in scenario.store.results()
            if r.box is not None
        }
        assert {(p.frame, p.obj_id, p.box) for p in labels.prompts} == expected
        first = load_prelabels("coco", coco, clip)  # keyframes first: frame 0 only
        assert {p.frame for p in first.prompts} == {0}
    finally:
        scenario.close()


def test_yolo_export_reads_back_as_one_object_per_box(tmp_path: Path) -> None:
    scenario = synthetic_scenario(tmp_path)
    try:
        export_session(scenario.store, "yolo", tmp_path / "yolo", video=scenario.video)
        clip = Clip(WIDTH, HEIGHT, scenario.frame_count)
        labels = load_prelabels("yolo", tmp_path / "yolo" / "labels", clip, keyframes=Keyframes(every=1))
        classes = {o.obj_id: o.class_name for o in scenario.store.objects()}
        expected = sorted(
            (r.frame, classes[r.obj_id], (r.box[0], r.box[1], r.box[0] + r.box[2], r.box[1] + r.box[3]))
            for r in scenario.store.results()
            if r.box is not None
        )
        names = {o.obj_id: o.class_name for o in labels.objects}
        got = sorted((p.frame, names[p.obj_id], p.box) for p in labels.prompts)
        assert len(labels.objects) == len(labels.prompts) == len(expected)  # no ids: an object per box
        for (frame, name, box), (want_frame, want_name, want_box) in zip(got, expected, strict=True):
            assert (frame, name) == (want_frame, want_name)
            assert box == pytest.approx(want_box, abs=1e-3)  # 6 decimals of a normalized coordinate
        # The dataset folder works as well as its labels folder.
        assert load_prelabels("yolo", tmp_path / "yolo", clip) == load_prelabels(
            "yolo", tmp_path / "yolo" / "labels", clip
        )
    finally:
        scenario.close()


def test_yolo_names_from_a_list_and_polygons_by_their_box(tmp_path: Path) -> None:
    folder = tmp_path / "labels"
    folder.mkdir()
    (tmp_path / "data.yaml").write_text("names: [cat, dog]\n")
    (folder / "clip_2.txt").write_text("1 0.5 0.5 0.5 0.5 0.9\n0 0.1 0.1 0.3 0.1 0.2 0.4\n")
    labels = load_prelabels("yolo", folder, Clip(100, 50, 4), min_score=0.5)
    assert [(o.class_name, p.frame, p.box) for o, p in zip(labels.objects, labels.prompts, strict=True)] == [
        ("dog", 2, (25.0, 12.5, 75.0, 37.5)),
        ("cat", 2, pytest.approx((10.0, 5.0, 30.0, 20.0))),
    ]


def _coco(images: list[dict[str, object]], bbox: list[float]) -> str:
    annotation = {"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox}
    return json.dumps(
        {"images": images, "annotations": [annotation], "categories": [{"id": 1, "name": "cup"}]}
    )


IMAGE = {"id": 1, "frame_id": 0, "width": 160, "height": 120}


@pytest.mark.parametrize(
    ("name", "text", "extra", "problem"),
    [
        ("gt.txt", "1,1,10,10,20,20,1,1,1\n5,1,10,10,20,20,1,1,1\n", [], "gt.txt: line 2: MOT frame 5"),
        ("gt.txt", "1,1,10,10,20,20,1,1,1\n1,2,200,10,20,20,1,1,1\n", [], "line 2: the box (199, 9"),
        ("gt.txt", "1,1,10,10,20,20,1,1,1\n1,2,ten,10,20,20,1\n", [], "line 2: expected frame,id,"),
        ("gt.txt", "1,1,10,10,0,20,1,1,1\n", [], "line 1: the box has no area"),
        ("gt.txt", "1,3,10,10,20,20,1,1,1\n1,3,30,10,20,20,1,1,1\n", [], "line 2: track 3 has a second box"),
        ("gt.txt", "1,1,10,10,20,20,0.3\n", ["--min-score", "0.5"], "gt.txt: no boxes"),
        ("gt.txt", "1,1,10,10,20,20,1\n", ["--keyframes", "every:0"], "expected first or every:K"),
        ("c.json", _coco([IMAGE], [1, 1, 5, 5])[:-3], [], "c.json: not valid JSON"),
        ("c.json", _coco([{**IMAGE, "width": 320}], [1, 1, 5, 5]), [], "images[0]: 320x120, the video"),
        ("c.json", _coco([{**IMAGE, "frame_id": 4}], [1, 1, 5, 5]), [], "images[0]: frame is not in"),
        ("c.json", _coco([IMAGE], [1, 1, 5]), [], "annotations[0]: bbox must be"),
        ("c.json", _coco([IMAGE], [170, 1, 5, 5]), [], "annotations[0]: the box (170, 1, 175, 6) is outside"),
    ],
)
def test_bad_prelabels_exit_2_with_one_line_and_leave_the_session(
    tmp_path: Path,
    clip: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    text: str,
    extra: list[str],
    problem: str,
) -> None:
    monkeypatch.setenv("SAM2TUI_TEST_TRACKER", SCRIPTED)
    session = tmp_path / "clip.sam2tui"
    with VideoSource.open(clip) as video, SessionStore.open(session, video.fingerprint()) as store:
        store.add_object("mine", "cup", obj_id=1)
        store.add_prompt(Prompt.click(0, 1, 50, 50))
    path = tmp_path / name
    path.write_text(text)
    fmt = "coco" if name.endswith(".json") else "mot"
    argv = ["track", str(clip), "--prompts-from", f"{fmt}:{path}", "--session", str(session), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1 and problem in err, err
    with SessionStore.open(session) as store:
        assert [(o.obj_id, o.name) for o in store.objects()] == [(1, "mine")]
        assert store.prompts() == [Prompt.click(0, 1, 50, 50)]
        assert store.results() == []


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--prompts-from", "csv:x.txt"], "expected FORMAT:PATH with FORMAT one of mot, coco, yolo"),
        (["--prompts-from", "yolo:absent"], "absent: expected a YOLO labels folder"),
        (["--prompts", "p.json", "--prompts-from", "mot:gt.txt"], "not allowed with argument"),
        ([], "give --prompts FILE or --prompts-from FORMAT:PATH"),
        (["--prompts", "p.json", "--keyframes", "every:2"], "p.json: --keyframes and --min-score go with"),
    ],
)
def test_prompt_source_errors_are_one_line(
    clip: Path, capsys: pytest.CaptureFixture[str], argv: list[str], problem: str
) -> None:
    try:
        status = main(["track", str(clip), *argv])
    except SystemExit as stop:  # argparse's errors (one line, see cli.OneLineParser)
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1 and problem in err, err


def test_yolo_label_file_without_a_frame_number_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "frame.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(PromptsError, match=r"frame.txt: no frame number in the file name"):
        load_prelabels("yolo", folder, Clip(100, 50, 4))
