"""`sam2tui track DIR --ray`: two small clips on a local Ray with 2 CPUs, the real SAM 2 (random weights).

The tasks' masks equal a serial run's; a task whose worker dies mid-clip leaves its committed frames, and
the next run continues the clip. One Ray per module: starting it costs seconds.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sam2tui import masks
from sam2tui.cli import main
from sam2tui.engine.options import sam2_tracker
from sam2tui.engine.tracker import ModelSpec
from sam2tui.session.store import SessionStore
from tests.fixtures_engine import (
    clip_frames,
    random_checkpoint_fixture,  # noqa: F401 - the fixture
    write_jpeg_folder,
)

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.engine, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DIES_AFTER = 3  # propagated frames before the killing tracker's worker process exits
FRAMES = 8


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A Ray of this process with 2 CPUs; its workers import this checkout (and tests/, for the tracker
    that kills its worker) whether or not the package is installed."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


class _DiesMidClip:
    """SAM 2's tracker, whose process exits (as a killed worker or a lost node) after DIES_AFTER frames."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tracker, name)

    def propagate(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for done, results in enumerate(self.tracker.propagate(*args, **kwargs)):
            if done == DIES_AFTER:
                os._exit(1)
            yield results


def dies_mid_clip(spec: ModelSpec, progress: Any) -> _DiesMidClip:
    return _DiesMidClip(sam2_tracker(spec, progress))


def _project(root: Path) -> Path:
    """Two clips (8 and 6 frames) with a box on frame 0 of each, as MOT pre-labels in root/labels."""
    folder = root / "project"
    write_jpeg_folder(folder / "a", clip_frames(FRAMES))
    write_jpeg_folder(folder / "b", clip_frames(FRAMES - 2)[::-1])
    labels = root / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("1,1,21,41,40,40,1,-1,-1,-1\n")
    (labels / "b.txt").write_text("1,1,101,56,30,30,1,-1,-1,-1\n")
    return folder


def _results(session: Path) -> dict[tuple[int, int], dict[str, Any]]:
    with SessionStore.open(session) as store:
        return {(r.frame, r.obj_id): r.rle for r in store.results()}


def test_ray_tasks_equal_serial_runs_and_a_killed_task_continues(
    tmp_path: Path,
    random_checkpoint: Path,
    local_ray: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serial = _project(tmp_path)
    labels = tmp_path / "labels"
    model = ["--checkpoint", str(random_checkpoint), "--image-size", "128"]
    on_ray, killed = tmp_path / "on_ray", tmp_path / "killed"
    shutil.copytree(serial, on_ray)
    shutil.copytree(serial, killed)

    assert main(["track", str(serial), "--prompts-from", f"mot:{labels}", *model]) == 0
    assert main(["track", str(on_ray), "--prompts-from", f"mot:{labels}", *model, "--ray"]) == 0
    assert "2 clips tracked" in capsys.readouterr().err
    for clip in ("a", "b"):
        expected = _results(serial / f"{clip}.sam2tui")
        assert len(expected) == (FRAMES if clip == "a" else FRAMES - 2)
        assert _results(on_ray / f"{clip}.sam2tui") == expected  # the same masks

    monkeypatch.setenv("SAM2TUI_TEST_TRACKER", f"{__name__}:dies_mid_clip")
    assert main(["track", str(killed), "--prompts-from", f"mot:{labels}", *model, "--ray"]) == 1
    err = capsys.readouterr().err
    assert err.count("its Ray task was lost") == 2 and "Traceback" not in err, err
    for clip in ("a", "b"):
        kept = sorted(frame for frame, _ in _results(killed / f"{clip}.sam2tui"))
        assert kept == list(range(len(kept))) and 1 <= len(kept) <= DIES_AFTER, kept
    monkeypatch.delenv("SAM2TUI_TEST_TRACKER")

    assert main(["track", str(killed), "--prompts-from", f"mot:{labels}", *model, "--ray"]) == 0
    for clip in ("a", "b"):
        expected, continued = _results(serial / f"{clip}.sam2tui"), _results(killed / f"{clip}.sam2tui")
        assert continued.keys() == expected.keys()
        # the frames after the kill continue from SAM 2's memory rebuilt from the stored masks (clip.py)
        assert min(masks.iou(continued[key], expected[key]) for key in expected) >= 0.99


def test_a_ray_address_that_does_not_answer_exits_2_touching_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _project(tmp_path)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [
        "track",
        str(project),
        "--prompts-from",
        f"mot:{tmp_path / 'labels'}",
        "--ray",
        f"127.0.0.1:{port}",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1 and "no Ray cluster answers there" in err, err
    assert not list(project.glob("*.sam2tui"))
