"""`sam2tui track` end to end (subprocesses on the real SAM 2 code, random weights) and its input errors."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sam2tui import masks
from sam2tui.cli import main
from sam2tui.session.project import load_settings
from sam2tui.session.states import label_states
from sam2tui.session.store import SessionStore
from sam2tui.values import LabelState
from tests import scripted_tracker
from tests.fixtures_engine import (
    clip_frames,
    random_checkpoint_fixture,  # noqa: F401 - the fixture
    tracked_frames,
    write_jpeg_folder,
)

REPO = Path(__file__).resolve().parents[1]

# The SAM 2 video notebook's prompts for this clip (see its PROVENANCE.txt), all on frame 0.
BEDROOM_PROMPTS = {
    "objects": [
        {
            "id": 1,
            "name": "child",
            "prompts": [{"frame": 0, "points": [[210, 350], [250, 220]], "labels": [1, 1]}],
        },
        {
            "id": 2,
            "name": "left shirt",
            "class": "shirt",
            "prompts": [{"frame": 0, "points": [[200, 300], [275, 175]], "labels": [1, 0]}],
        },
        {"id": 3, "name": "right shirt", "class": "shirt", "prompts": [{"frame": 0, "points": [[400, 150]]}]},
    ]
}


def track(*args: str | Path, **popen: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sam2tui", "track", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        **popen,  # type: ignore[call-overload]
    )


@pytest.mark.engine
def test_track_bedroom_exports_coco_and_continues(
    tmp_path: Path, shared_data: Path, random_checkpoint: Path
) -> None:
    video = shared_data / "bedroom" / "bedroom.mp4"
    if not video.is_file():
        pytest.skip("bedroom.mp4 is not in ../shared/data")
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(BEDROOM_PROMPTS))
    session, coco = tmp_path / "bedroom.sam2tui", tmp_path / "coco.json"
    common = [
        "--prompts",
        prompts,
        "--checkpoint",
        random_checkpoint,
        "--image-size",
        "128",
        "--session",
        session,
    ]
    done = track(video, *common, "--frames", "0:8", "--export", f"coco:{coco}")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    from pycocotools.coco import COCO

    dataset = COCO(str(coco))
    assert len(dataset.getImgIds()) >= 8
    assert {c["name"] for c in dataset.loadCats(dataset.getCatIds())} == {"object", "shirt"}
    for ann in dataset.loadAnns(dataset.getAnnIds()):
        assert dataset.annToMask(ann).shape == (540, 960)

    again = track(video, *common, "--frames", "0:8")
    assert again.returncode == 0 and "nothing to track" in again.stderr
    more = track(video, *common, "--frames", "0:10")
    assert more.returncode == 0, more.stderr
    assert re.search(r"\b2/2\b", more.stderr)  # only frames 8 and 9 were tracked
    with SessionStore.open(session) as store:
        assert tracked_frames(store) == list(range(10))
        assert len(store.prompts()) == 5  # the same prompts were not stored twice
        assert {(o.obj_id, o.name, o.class_name) for o in store.objects()} == {
            (1, "child", "object"),
            (2, "left shirt", "shirt"),
            (3, "right shirt", "shirt"),
        }


@pytest.mark.engine
def test_ctrl_c_saves_what_is_tracked_and_the_next_run_continues(
    tmp_path: Path, random_checkpoint: Path
) -> None:
    frames = write_jpeg_folder(tmp_path / "clip", clip_frames(40))
    prompts = tmp_path / "prompts.json"
    prompts.write_text(
        json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [20, 40, 60, 80]}]}]})
    )
    args = [frames, "--prompts", prompts, "--checkpoint", random_checkpoint, "--image-size", "128"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sam2tui", "track", *map(str, args)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    stderr: list[str] = []
    reader = threading.Thread(
        target=lambda: stderr.extend(iter(lambda: process.stderr.read(1), "")), daemon=True
    )
    reader.start()
    deadline = time.monotonic() + 180
    while not re.search(r"\| ?[3-9]/40", "".join(stderr)) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    reader.join(timeout=10)
    text = "".join(stderr)
    assert (
        "interrupted" in text and "run the same command again to continue" in text and "Traceback" not in text
    )
    session = tmp_path / "clip.sam2tui"
    with SessionStore.open(session) as store:
        kept = tracked_frames(store)
    assert 3 <= len(kept) < 40 and kept == list(range(len(kept)))

    rest = track(*args)
    assert rest.returncode == 0, rest.stderr
    assert re.search(rf"\b{40 - len(kept)}/{40 - len(kept)}\b", rest.stderr)  # only what was left
    with SessionStore.open(session) as store:
        assert tracked_frames(store) == list(range(40))
        continued = {r.frame: r.rle for r in store.results()}
        assert store.pending_corrections() == []  # settled: every frame is current with its prompts
        assert set(label_states(store, 40)[1]) == {LabelState.PROMPTED, LabelState.CURRENT}
    # it continued from the memory of the frames before (rebuilt from their masks), as an uninterrupted run
    whole = tmp_path / "whole.sam2tui"
    assert track(*args, "--session", whole).returncode == 0
    with SessionStore.open(whole) as store:
        uninterrupted = {r.frame: r.rle for r in store.results()}
    assert min(masks.iou(continued[f], uninterrupted[f]) for f in range(len(kept), 40)) >= 0.99


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_jpeg_folder(tmp_path / "clip", clip_frames(4))


@pytest.mark.parametrize(
    ("prompts", "extra", "problem"),
    [
        (None, [], "prompts.json: no such file"),
        ("{", [], "prompts.json: not valid JSON (line 1 column 2"),
        (
            {"objects": [{"id": 1, "prompts": [{"frame": 9, "box": [1, 1, 5, 5]}]}]},
            [],
            "frame 9 is past the end",
        ),
        (
            {"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[500, 1]]}]}]},
            [],
            "is outside the 160x120",
        ),
        (
            {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}]},
            ["--export", "png:x"],
            "png",
        ),
        (
            {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}]},
            ["--frames", "7:9"],
            "B <= 4",
        ),
        (
            {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}]},
            ["--device", "cuda:3"],
            "CUDA",
        ),
        (
            {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}]},
            ["--checkpoint", "absent.pt"],
            "absent.pt: checkpoint file not found",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    clip: Path,
    capsys: pytest.CaptureFixture[str],
    prompts: object,
    extra: list[str],
    problem: str,
) -> None:
    path = tmp_path / "prompts.json"
    if prompts is not None:
        path.write_text(prompts if isinstance(prompts, str) else json.dumps(prompts))
    assert main(["track", str(clip), "--prompts", str(path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1 and problem in err, err


def test_missing_video_exits_2_without_traceback(tmp_path: Path) -> None:
    done = track(tmp_path / "absent.mp4", "--prompts", tmp_path / "p.json")
    assert done.returncode == 2
    assert (
        done.stderr.startswith("sam2tui: ") and done.stderr.count("\n") == 1 and "absent.mp4" in done.stderr
    )


def test_a_session_is_re_tracked_with_its_own_prompts(
    tmp_path: Path, clip: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Draft, then finalise on another model: `track SESSION --model ...` uses the session's prompts."""
    monkeypatch.setenv("SAM2TUI_TEST_TRACKER", "tests.scripted_tracker:make_tracker")
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 1, "points": [[40, 50]]}]}]}))
    session = tmp_path / "clip.sam2tui"
    assert main(["track", str(clip), "--prompts", str(prompts), "--session", str(session)]) == 0
    with SessionStore.open(session) as store:
        before, drafted = store.prompts(), store.setting("track.progress")
    capsys.readouterr()
    assert main(["track", str(session), "--image-size", "512"]) == 0  # another model setting: starts over
    assert "5/5" in capsys.readouterr().err  # every frame again: forward 1-3, backward 1-0
    with SessionStore.open(session) as store:
        assert store.prompts() == before and tracked_frames(store) == [0, 1, 2, 3]
        assert store.setting("track.progress")["revision"] != drafted["revision"]
        assert store.pending_corrections() == []
        finalised = store.setting("track.progress")
    # batched objects' masks may differ from sam2's loop by float rounding: not a run to continue either
    assert main(["track", str(session), "--image-size", "512", "--batch-objects"]) == 0
    assert "5/5" in capsys.readouterr().err
    with SessionStore.open(session) as store:
        assert store.setting("track.progress")["revision"] != finalised["revision"]
    for argv, problem in (
        (["track", str(session), "--prompts", str(prompts)], "re-tracked with its own prompts"),
        (["track", str(clip)], "give --prompts FILE or --prompts-from"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("sam2tui: ") and err.count("\n") == 1 and problem in err, err


def _results(session: Path) -> dict[tuple[int, int], object]:
    with SessionStore.open(session) as store:
        return {(r.frame, r.obj_id): r.rle for r in store.results()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder of three frame-folder clips (a, b, c) and MOT pre-labels for a and b only."""
    folder = tmp_path / "project"
    for name, count in (("a", 4), ("b", 5), ("c", 3)):
        write_jpeg_folder(folder / name, clip_frames(count))
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("1,1,21,41,40,40,1,-1,-1,-1\n")
    (labels / "b.txt").write_text("2,1,21,41,40,40,1,-1,-1,-1\n2,2,101,51,30,30,1,-1,-1,-1\n")
    return folder


def test_track_dir_tracks_each_clip_as_track_clip_does(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`track DIR --prompts-from mot:FOLDER`: one bar over every clip, clips without pre-labels skipped,
    and each clip's session as `track CLIP` makes it; then `track DIR` alone re-tracks the sessions."""
    monkeypatch.setenv("SAM2TUI_TEST_TRACKER", "tests.scripted_tracker:make_tracker")
    built = []

    def make_tracker(*args: object) -> scripted_tracker.ScriptedTracker:
        built.append(scripted_tracker.ScriptedTracker())
        return built[-1]

    monkeypatch.setattr(scripted_tracker, "make_tracker", make_tracker)
    labels = tmp_path / "labels"
    assert main(["track", str(project), "--prompts-from", f"mot:{labels}"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"tracking 2 clips.*\b10/10\b", err)  # a: 0-3; b: 1-4 forward, 1-0 backward
    assert len(built) == 1  # one model for both clips, started on each
    started = [call[1] for call in built[0].calls if call[0] == "start"]
    assert list(dict.fromkeys(started)) == [str(project / "a"), str(project / "b")]
    assert "2 clips tracked, 0 done already, 1 skipped: c (no c.txt in" in err
    assert not (project / "c.sam2tui").exists()
    assert load_settings(project).classes == ["object"]  # the pre-labels' classes join the project's list
    single = tmp_path / "single"
    for name in ("a", "b"):
        session = single / f"{name}.sam2tui"
        single.mkdir(exist_ok=True)
        argv = ["track", str(project / name), "--prompts-from", f"mot:{labels / name}.txt"]
        assert main([*argv, "--session", str(session)]) == 0
        assert _results(project / f"{name}.sam2tui") == _results(session)
    capsys.readouterr()

    assert main(["track", str(project)]) == 0  # the same prompts and model: nothing left
    assert "0 clips tracked, 2 done already, 1 skipped: c (no session)" in capsys.readouterr().err
    assert main(["track", str(project), "--image-size", "512"]) == 0  # finalise: another model
    err = capsys.readouterr().err
    assert re.search(r"\b10/10\b", err) and "2 clips tracked" in err and "c (no session)" in err


@pytest.mark.engine
def test_track_dir_gives_each_clip_what_track_clip_gives_it_with_one_sam2_tracker(
    tmp_path: Path, project: Path, random_checkpoint: Path
) -> None:
    """The clips of a serial `track DIR` share one Sam2Tracker: nothing of one clip reaches the next."""
    labels = tmp_path / "labels"
    model = ["--checkpoint", str(random_checkpoint), "--image-size", "128", "--device", "cpu"]
    assert main(["track", str(project), "--prompts-from", f"mot:{labels}", *model]) == 0
    for name in ("a", "b"):
        session = tmp_path / f"single_{name}.sam2tui"
        argv = ["track", str(project / name), "--prompts-from", f"mot:{labels / name}.txt"]
        assert main([*argv, "--session", str(session), *model]) == 0
        assert _results(project / f"{name}.sam2tui") == _results(session), name


def test_track_dir_goes_on_past_a_broken_clip_and_lists_it(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAM2TUI_TEST_TRACKER", "tests.scripted_tracker:make_tracker")
    (project / "0broken.mp4").write_bytes(b"not a video")
    labels = tmp_path / "labels"
    (labels / "0broken.txt").write_text("1,1,21,41,40,40,1,-1,-1,-1\n")
    (labels / "c.txt").write_text("9,1,21,41,40,40,1,-1,-1,-1\n")  # frame 8 of a 3-frame clip
    assert main(["track", str(project), "--prompts-from", f"mot:{labels}"]) == 2
    lines = capsys.readouterr().err.splitlines()
    failed = [line for line in lines if line.startswith("sam2tui: failed: ")]
    assert len(failed) == 2 and "0broken.mp4" in failed[0] and "c.txt" in failed[1], lines
    assert "Traceback" not in "\n".join(lines)
    assert sorted(p.name for p in project.glob("*.sam2tui")) == ["a.sam2tui", "b.sam2tui"]
    assert tracked_frames_of(project / "b.sam2tui") == [0, 1, 2, 3, 4]


def tracked_frames_of(session: Path) -> list[int]:
    with SessionStore.open(session) as store:
        return tracked_frames(store)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--prompts-from", "mot:{labels}/a.txt"], "names a folder with one <clip>.txt per clip"),
        (["--prompts", "{labels}/a.txt"], "--prompts names one clip's file"),
        (["--export", "coco:x.json"], "--export names one clip's file"),
        (["--prompts-from", "voc:{labels}"], "expected FORMAT:PATH"),
    ],
)
def test_track_dir_refuses_what_fits_one_clip_only(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str], extra: list[str], problem: str
) -> None:
    argv = ["track", str(project), *(arg.format(labels=tmp_path / "labels") for arg in extra)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1 and problem in err, err
    assert not list(project.glob("*.sam2tui"))


def test_track_dir_without_clips_or_sessions_exits_2(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["track", str(empty)]) == 2
    assert "no clips in this folder" in capsys.readouterr().err
    assert main(["track", str(project)]) == 2  # no clip has a session yet
    assert "3 skipped" in capsys.readouterr().err


def test_ray_is_for_project_folders_and_named_when_missing(
    tmp_path: Path, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = tmp_path / "labels"
    assert main(["track", str(project / "a"), "--prompts-from", f"mot:{labels}/a.txt", "--ray"]) == 2
    assert "--ray goes with a project folder" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    assert main(["track", str(project), "--prompts-from", f"mot:{labels}", "--ray"]) == 2
    err = capsys.readouterr().err
    assert err == 'sam2tui: --ray: Ray is not installed: pip install "sam2tui[ray]"\n', err
    assert not list(project.glob("*.sam2tui"))
