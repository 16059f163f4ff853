"""The app in a real terminal: a tmux server of the test's own (its own socket) with one session, "app".

Keys and SGR mouse reports go in with `tmux send-keys`, the screen comes back as text with `capture-pane`.
The `tmux` fixture (tests/conftest.py) kills the server at the end of the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, columns: int = 100, rows: int = 32) -> None:
        self.socket = f"sam2tui-test-{uuid.uuid4().hex[:8]}"
        self.size = (columns, rows)

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        if check and done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def start(self, shell_line: str, **env: str) -> None:
        """Run `shell_line` from the repo in a new session "app" of the terminal's size.

        Its environment: the test's SAM2TUI_* settings, the repo importable, unbuffered output, a truecolor
        xterm, then `env`.
        """
        environment = {
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            **{k: v for k, v in os.environ.items() if k.startswith("SAM2TUI_")},
            **env,
        }
        self(
            "new-session",
            "-d",
            "-s",
            "app",
            "-x",
            str(self.size[0]),
            "-y",
            str(self.size[1]),
            *(item for key, value in environment.items() for item in ("-e", f"{key}={value}")),
            f"cd {REPO} && {shell_line}",
        )

    def screen(self) -> str:
        """The pane's text; empty once the server is gone (a test may kill it on purpose)."""
        return self("capture-pane", "-p", "-t", "app", check=False)

    def wait_screen(self, check: Callable[[str], bool], what: str, timeout: float = 60.0) -> str:
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
            self._mouse(f"\x1b[<{button};{column + 1};{row + 1}{final}")

    def drag(self, start: tuple[int, int], end: tuple[int, int], steps: int = 4) -> None:
        """A left drag between 0-based cells: the press, `steps` moves with the button held (SGR 32), the
        release."""
        (c0, r0), (c1, r1) = start, end
        self._mouse(f"\x1b[<0;{c0 + 1};{r0 + 1}M")
        for i in range(1, steps + 1):
            column, row = round(c0 + (c1 - c0) * i / steps), round(r0 + (r1 - r0) * i / steps)
            self._mouse(f"\x1b[<32;{column + 1};{row + 1}M")
        self._mouse(f"\x1b[<0;{c1 + 1};{r1 + 1}m")

    def _mouse(self, report: str) -> None:
        self("send-keys", "-t", "app", "-H", *(f"{byte:02x}" for byte in report.encode()))

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "app", *keys)

    def kill_server(self) -> None:
        """Kill the server (the terminal goes away: its programs get SIGHUP) and remove its socket."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / self.socket).unlink(missing_ok=True)
