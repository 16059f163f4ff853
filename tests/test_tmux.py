"""The installed `sam2tui` in a real terminal (tmux): click, propagate, edit, paint, export, quit.

The app runs with the scripted tracker through the testing hook SAM2TUI_TEST_TRACKER; the click is a real
SGR mouse report (tests/tmux_driver.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from sam2tui import masks
from sam2tui.session.store import SessionStore
from sam2tui.values import PromptKind
from sam2tui.video import VideoSource
from tests.fixtures_tui import CLIP_FRAMES, WIDE_CLIP, write_clip_folder
from tests.tmux_driver import Tmux, needs_tmux

pytestmark = [pytest.mark.tmux, needs_tmux]


def sam2tui_command() -> list[str]:
    """The console script beside this Python (the installed package), else `python -m sam2tui`."""
    script = Path(sys.executable).with_name("sam2tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sam2tui"]


def test_click_propagate_export_quit_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    clip = write_clip_folder(tmp_path / "clip", size=WIDE_CLIP)
    command = " ".join([*sam2tui_command(), str(clip), "--render", "halfblock"])
    tmux.start(
        f"{command}; echo SAM2TUI_EXIT=$?; sleep 60",
        SAM2TUI_TEST_TRACKER="tests.scripted_tracker:make_tracker",
        SCRIPTED_LOST="12",
    )
    tmux.wait_screen(lambda s: "ready on cpu" in s, "the model to be ready")
    tmux.click(30, 12)
    tmux.wait_screen(lambda s: "1: object 1" in s, "object 1 after the click")
    tmux.keys("p")
    tmux.wait_screen(lambda s: "propagated 20 frames" in s, "the propagation to finish")
    tmux.keys("]")
    tmux.wait_screen(lambda s: "lost (score -3.0)" in s and "frame 12/19" in s, "the review jump")
    tmux.keys("e")
    tmux.wait_screen(lambda s: "Export" in s and "coco" in s, "the export dialog")
    tmux.keys("Enter")
    tmux.wait_screen(lambda s: "exported" in s, "the export to finish")
    tmux.keys("q")
    tmux.wait_screen(lambda s: "SAM2TUI_EXIT=0" in s, "the app to quit cleanly")

    coco = COCO(str(tmp_path / "clip_export" / "coco.json"))
    assert len(coco.getImgIds()) == CLIP_FRAMES
    assert len(coco.getAnnIds()) == CLIP_FRAMES - 1  # lost on frame 12
    with (
        VideoSource.open(clip) as video,
        SessionStore.open(tmp_path / "clip.sam2tui", video.fingerprint()) as store,
    ):
        [prompt] = store.prompts()
        assert (
            prompt.frame == 0 and 0 <= prompt.point[0] < WIDE_CLIP[0] and 0 <= prompt.point[1] < WIDE_CLIP[1]
        )
        assert len(store.results()) == CLIP_FRAMES


def test_rename_absent_range_point_delete_brush_stroke_and_an_export_from_another_shell(
    tmux: Tmux, tmp_path: Path
) -> None:
    clip = write_clip_folder(tmp_path / "clip", size=WIDE_CLIP)
    classes = tmp_path / "data.yaml"
    classes.write_text("names:\n  0: person\n  1: cup\n")
    command = " ".join([*sam2tui_command(), str(clip), "--render", "halfblock", "--classes", str(classes)])
    tmux.start(
        f"{command}; echo SAM2TUI_EXIT=$?; sleep 60",
        SAM2TUI_TEST_TRACKER="tests.scripted_tracker:make_tracker",
    )
    tmux.wait_screen(lambda s: "ready on cpu" in s, "the model to be ready")
    tmux.click(30, 12)
    tmux.wait_screen(
        lambda s: "object 1  person" in s and "(person) - " in s, "object 1 of the list's first class"
    )
    tmux.keys("R")
    tmux.wait_screen(lambda s: "Object 1" in s and "Class" in s, "the rename dialog")
    tmux.keys("blue cup", "Enter")  # replaces the name, selected in the field
    tmux.wait_screen(lambda s: "blue cup  person" in s, "the rename")
    tmux.keys("C")
    tmux.wait_screen(lambda s: "Object 1" in s and "Class" in s, "the class dialog")
    tmux.keys("cu")  # replaces the class, selected in the field
    time.sleep(0.5)
    tmux.keys("Right", "Enter")  # the class completes to "cup", a class of the list: saved at once
    tmux.wait_screen(lambda s: "blue cup  cup" in s, "the new class")
    tmux.click(36, 12)  # a second point ...
    tmux.keys("D")
    tmux.wait_screen(lambda s: "point editing" in s, "point-edit mode")
    tmux.click(36, 12)  # ... clicked in point-edit mode: deleted
    tmux.wait_screen(lambda s: "deleted a point" in s, "the point deleted")
    tmux.keys("D")
    tmux.keys("p")
    tmux.wait_screen(lambda s: "propagated 20 frames" in s, "the propagation to finish")
    tmux.keys("g")
    tmux.wait_screen(lambda s: "Go to frame" in s, "the go-to dialog")
    tmux.keys("5", "Enter")
    tmux.wait_screen(lambda s: "frame 5/19" in s, "frame 5")
    tmux.keys("A")
    tmux.wait_screen(lambda s: "how many frames" in s, "the absent dialog")
    tmux.keys("3", "Enter")  # replaces the default (up to the end), selected in the field
    tmux.wait_screen(lambda s: "absent on fram" in s and "◇" in s, "the absent range")
    tmux.keys("r")
    tmux.wait_screen(lambda s: "propagated" in s and "stale" not in s, "the re-propagation")
    tmux.keys("g")
    tmux.wait_screen(lambda s: "Go to frame" in s, "the go-to dialog")
    tmux.keys("1", "5", "Enter")
    tmux.wait_screen(lambda s: "frame 15/19" in s, "frame 15")
    tmux.keys("w")
    tmux.wait_screen(lambda s: "brush: drag" in s, "the brush")
    tmux.drag((22, 10), (40, 14))
    tmux.wait_screen(lambda s: "painted object 1" in s, "the brush stroke")
    tmux.keys("r")
    tmux.wait_screen(lambda s: "propagated" in s and "stale" not in s, "the stroke's re-propagation")

    out = tmp_path / "coco.json"
    session = tmp_path / "clip.sam2tui"
    exported = subprocess.run(
        [*sam2tui_command(), "export", str(session), "--format", "coco", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr  # while the app still has the session open
    coco = COCO(str(out))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["person", "cup"]
    annotated = {coco.anns[a]["image_id"] - 1 for a in coco.getAnnIds(catIds=[2])}
    assert 0 in annotated and not annotated & {5, 6, 7}  # the absent frames are confirmed negatives:
    assert {5, 6, 7} <= {image_id - 1 for image_id in coco.getImgIds()}  # images without the object
    [painted] = coco.loadAnns(coco.getAnnIds(imgIds=[16]))
    tmux.keys("q")
    tmux.wait_screen(lambda s: "SAM2TUI_EXIT=0" in s, "the app to quit cleanly")
    with SessionStore.open(session) as store:
        [point] = store.prompts(frame=0)  # the deleted point is gone
        [stroke] = store.prompts(frame=15)
    assert point.kind is PromptKind.POINT and stroke.kind is PromptKind.MASK
    assert np.array_equal(coco.annToMask(painted).astype(bool), masks.decode(stroke.mask))  # as painted
