"""What the fault tests share: child processes of sam2tui, a second view of a session file, kills, mounts.

A session is watched through its own SQLite connection (what another program would see): the number of
result rows tells how far a propagation got, and a snapshot of them is what must survive a kill.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sam2tui.engine.tracker import result_from_mask
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, Prompt
from sam2tui.video import VideoFingerprint, VideoSource
from tests.fixtures_tui import WIDE_CLIP, write_clip_folder
from tests.tmux_driver import Tmux

REPO = Path(__file__).resolve().parents[2]
SCRIPTED_TRACKER = "tests.scripted_tracker:make_tracker"
FAULTY_TRACKER = "tests.reliability.fault_tracker:make_tracker"

Snapshot = dict[tuple[int, int], str]
"""(frame, obj_id) -> RLE counts of every result row."""


# ---- child processes ----


def sam2tui_argv(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "sam2tui", *map(str, args)]


def track_argv(*args: str | Path) -> list[str]:
    """`sam2tui track ...` (it honours SAM2TUI_TEST_TRACKER like the app)."""
    return [sys.executable, "-m", "sam2tui", "track", *map(str, args)]


def child_env(**extra: str) -> dict[str, str]:
    """Our environment (with the conftest's SAM2TUI_* folders), the repo importable, unbuffered output."""
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **extra}


def run(argv: list[str], timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=child_env(**extra_env)
    )


def start(argv: list[str], log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    """A child whose stdout and stderr go to `log` (a pipe nobody reads could block it)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=child_env(**extra_env)
        )


def one_error_line(stderr: str) -> str:
    """The single line a failing command printed; fails on tracebacks and multi-line output."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sam2tui: "), stderr
    return lines[0]


def progress_total(stderr: str) -> int | None:
    """How many frames the last `track` progress bar announced ("| 3/40 [")."""
    found = re.findall(r"\b\d+/(\d+) \[", stderr)
    return int(found[-1]) if found else None


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def processes_mentioning(token: str) -> list[int]:
    """PIDs of live processes, tmux aside, whose command line contains `token` (orphans left by a test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if token in cmdline and not cmdline.startswith("tmux ") and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def no_orphans(token: str, timeout: float = 10.0) -> None:
    """Every process started for the test (its command line mentions `token`) ends soon."""
    wait_for(lambda: not processes_mentioning(token), f"no process mentioning {token} left", timeout, 0.1)


def lock_holder(session: Path) -> int | None:
    """The PID written in `<session>.lock` (the process that has the session open)."""
    try:
        text = session.with_name(session.name + ".lock").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# ---- a second view of the session file ----


def _connect(session: Path) -> sqlite3.Connection:
    # mode=rw: never create the file while the app is still creating it under a temporary name.
    return sqlite3.connect(f"file:{session}?mode=rw", uri=True, timeout=5)


def result_count(session: Path) -> int:
    """Result rows committed so far (0 while the file does not exist yet)."""
    try:
        conn = _connect(session)
    except sqlite3.Error:
        return 0
    try:
        return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def snapshot(session: Path) -> Snapshot:
    """Every committed result row, as another program reads it."""
    conn = _connect(session)
    try:
        rows = conn.execute("SELECT frame, obj_id, rle_counts FROM results").fetchall()
    finally:
        conn.close()
    return {(frame, obj_id): counts for frame, obj_id, counts in rows}


def integrity(session: Path) -> list[str]:
    conn = _connect(session)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    finally:
        conn.close()


def stored(store: SessionStore) -> Snapshot:
    return {(r.frame, r.obj_id): r.rle["counts"] for r in store.results()}


def assert_kept(before: Snapshot, after: Snapshot) -> None:
    """Every row seen before the fault is still there, unchanged."""
    lost = sorted(set(before) - set(after))
    changed = sorted(key for key in set(before) & set(after) if before[key] != after[key])
    assert not lost, f"lost committed results {lost}"
    assert not changed, f"committed results changed {changed}"


def kill_when(pid: int, session: Path, rows: int, timeout: float = 120.0) -> Snapshot:
    """SIGKILL `pid` as soon as `session` holds `rows` result rows; returns what was committed by then."""
    wait_for(lambda: result_count(session) >= rows or not pid_alive(pid), f"{rows} result rows", timeout)
    seen = snapshot(session)
    os.kill(pid, signal.SIGKILL)
    assert len(seen) >= rows, f"the process ended before it committed {rows} rows"
    return seen


# ---- sessions made directly (no video needed: exports read only the fingerprint) ----


def fake_fingerprint(
    frames: int, width: int, height: int, path: str = "/nonexistent/clip.mp4"
) -> VideoFingerprint:
    return VideoFingerprint(path, frames, width, height, 25.0, uuid.uuid4().hex + "00000000")


def disc(frame: int, width: int, height: int, radius: int = 6) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    cx, cy = 10 + frame % max(1, width - 20), height // 2
    mask: np.ndarray = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2
    return mask


def disc_results(frames: range, obj_id: int, width: int, height: int) -> list[FrameResult]:
    return [result_from_mask(f, obj_id, disc(f, width, height), 7.0, "test") for f in frames]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- file systems that fill up or turn read-only (needs root and mount; else the test skips) ----


def mount_tmpfs(where: Path, size_kib: int) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0777", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'})")


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True, capture_output=True)


def unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder: Path, name: str = "filler") -> Path:
    """Write zeros into `folder/name` until the file system is full; returns the filler (delete it to free)."""
    filler = folder / name
    chunk = b"\0" * 4096
    with contextlib.suppress(OSError), filler.open("ab", buffering=0) as out:
        while True:
            out.write(chunk)
    with contextlib.suppress(OSError), filler.open("ab", buffering=0) as out:
        while True:
            out.write(b"\0")
    return filler


# ---- the app in a real terminal ----

APP_FRAMES = 60


def prompted_clip(folder: Path, frames: int = APP_FRAMES) -> tuple[Path, Path]:
    """A PNG clip and its session beside it with object 1 clicked on frame 0 (nothing tracked yet)."""
    clip = write_clip_folder(folder / "clip", count=frames, size=WIDE_CLIP)
    session = folder / "clip.sam2tui"
    with VideoSource.open(clip) as video, SessionStore.open(session, video.fingerprint()) as store:
        store.add_object("square")
        store.add_prompt(Prompt.click(0, 1, 45.0, 30.0))
    return clip, session


def start_app(tmux: Tmux, rc_file: Path, app_args: list[str | Path], **env: str) -> None:
    """`sam2tui APP_ARGS` in tmux under hangup_wrapper, which passes a SIGHUP on to it as a terminal would;
    its exit status lands in `rc_file`."""
    wrapper = [sys.executable, "-m", "tests.reliability.hangup_wrapper", str(rc_file), "--"]
    tmux.start("exec " + " ".join([*wrapper, *sam2tui_argv(*app_args), "--render", "halfblock"]), **env)


def exit_status(rc_file: Path, timeout: float = 60.0) -> tuple[int, int]:
    """(exit status, pid) of the app that hangup_wrapper ran; negative status: killed by that signal."""
    wait_for(
        lambda: rc_file.exists() and rc_file.read_text().endswith("\n"), "the app to exit", timeout, 0.05
    )
    status, pid = rc_file.read_text().split()
    return int(status), int(pid)
