"""The installed `sam2tui` in a real terminal (tmux): click, propagate, export, quit.

The app runs with the scripted tracker through the testing hook SAM2TUI_TEST_TRACKER; the click is a real
SGR mouse report sent with `tmux send-keys -H`. The tmux server has its own socket and is killed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pycocotools.coco import COCO

from sam2tui.session.store import SessionStore
from sam2tui.video import VideoSource
from tests.fixtures_tui import CLIP_FRAMES, WIDE_CLIP, write_clip_folder

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

REPO = Path(__file__).resolve().parents[1]
COLUMNS, ROWS = 100, 32


def sam2tui_command() -> list[str]:
    """The console script beside this Python (the installed package), else `python -m sam2tui`."""
    script = Path(sys.executable).with_name("sam2tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sam2tui"]


class Tmux:
    def __init__(self) -> None:
        self.socket = f"sam2tui-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{text}")
            time.sleep(0.1)

    def click(self, column: int, row: int, button: int = 0) -> None:
        """A mouse click at a 0-based cell as the terminal reports it (SGR: 1-based, press then release)."""
        for final in "Mm":
            report = f"\x1b[<{button};{column + 1};{row + 1}{final}".encode()
            self("send-keys", "-t", "app", "-H", *(f"{byte:02x}" for byte in report))

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "app", *keys)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    server = Tmux()
    yield server
    subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True, timeout=30)
    socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
    (socket_dir / server.socket).unlink(missing_ok=True)


def test_click_propagate_export_quit_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    clip = write_clip_folder(tmp_path / "clip", size=WIDE_CLIP)
    environment = {
        "SAM2TUI_TEST_TRACKER": "tests.scripted_tracker:make_tracker",
        "SCRIPTED_LOST": "12",
        "PYTHONPATH": str(REPO),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        **{k: v for k, v in os.environ.items() if k.startswith("SAM2TUI_") and k != "SAM2TUI_TEST_TRACKER"},
    }
    command = " ".join([*sam2tui_command(), str(clip), "--render", "halfblock"])
    tmux(
        "new-session",
        "-d",
        "-s",
        "app",
        "-x",
        str(COLUMNS),
        "-y",
        str(ROWS),
        *(item for key, value in environment.items() for item in ("-e", f"{key}={value}")),
        f"cd {REPO} && {command}; echo SAM2TUI_EXIT=$?; sleep 60",
    )
    tmux.wait_for(lambda s: "ready on cpu" in s, "the model to be ready")
    tmux.click(30, 12)
    tmux.wait_for(lambda s: "1: object 1" in s, "object 1 after the click")
    tmux.keys("p")
    tmux.wait_for(lambda s: "propagated 20 frames" in s, "the propagation to finish")
    tmux.keys("]")
    tmux.wait_for(lambda s: "lost (score -3.0)" in s and "frame 12/19" in s, "the review jump")
    tmux.keys("e")
    tmux.wait_for(lambda s: "Export" in s and "coco" in s, "the export dialog")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "exported" in s, "the export to finish")
    tmux.keys("q")
    tmux.wait_for(lambda s: "SAM2TUI_EXIT=0" in s, "the app to quit cleanly")

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
