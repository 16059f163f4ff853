"""SIGKILL at random frames: `track` (real SAM 2 with random weights, and the scripted double), the app in
tmux while it propagates, and `export` while it writes. What must survive: every result committed before the
kill, an intact file (`PRAGMA integrity_check`), the lock taken over by the next run, which goes on; an
export target that is the previous export or the complete new one, never a mix or nothing.

The kill points are random; the seed is printed (set SAM2TUI_FAULT_SEED to replay one).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sam2tui.export._io import MARKER
from sam2tui.session.store import SessionStore
from tests.fixtures_engine import (
    clip_frames,
    random_checkpoint_fixture,  # noqa: F401 - the fixture
    tracked_frames,
    write_jpeg_folder,
)
from tests.reliability.helpers import (
    APP_FRAMES,
    SCRIPTED_TRACKER,
    Snapshot,
    assert_kept,
    disc_results,
    exit_status,
    fake_fingerprint,
    integrity,
    kill_when,
    lock_holder,
    no_orphans,
    progress_total,
    prompted_clip,
    result_count,
    run,
    sam2tui_argv,
    start,
    start_app,
    stored,
    track_argv,
    tree,
    wait_for,
)
from tests.tmux_driver import Tmux, needs_tmux

SEED = int(os.environ.get("SAM2TUI_FAULT_SEED", str(time.time_ns() % 100_000)))
print(f"test_kill: SAM2TUI_FAULT_SEED={SEED}")

PROMPTS = {"objects": [{"id": 1, "name": "square", "prompts": [{"frame": 0, "box": [20, 40, 60, 80]}]}]}


@dataclass
class Kill:
    rows: int  # killed once the session held this many result rows
    status: int
    seen: Snapshot  # committed before the kill, read by another connection
    reopened: Snapshot  # what the next SessionStore.open shows
    integrity: list[str]
    lock_taken_over: bool


@dataclass
class KillSequence:
    frames: int
    kills: list[Kill] = field(default_factory=list)
    final: subprocess.CompletedProcess[str] | None = None
    final_frames: list[int] = field(default_factory=list)
    final_integrity: list[str] = field(default_factory=list)


def kill_points(count: int, low: int, high: int, salt: int) -> list[int]:
    return sorted(random.Random(SEED + salt).sample(range(low, high), count))


def kill_track_repeatedly(
    folder: Path, frames: int, args: list[str | Path], points: list[int], **env: str
) -> KillSequence:
    """Run `track` again and again, SIGKILLing it at each point; then once more to the end."""
    clip = write_jpeg_folder(folder / "clip", clip_frames(frames))
    prompts = folder / "prompts.json"
    prompts.write_text(json.dumps(PROMPTS))
    session = folder / "clip.sam2tui"
    argv = track_argv(clip, "--prompts", prompts, "--session", session, *args)
    sequence = KillSequence(frames)
    for rows in points:
        process = start(argv, folder / f"kill-{rows}.log", **env)
        seen = kill_when(process.pid, session, rows)
        status = process.wait(timeout=30)
        checked = integrity(session)
        with SessionStore.open(session) as store:  # the dead process's lock file is still there
            reopened = stored(store)
            taken_over = lock_holder(session) == os.getpid()
        sequence.kills.append(Kill(rows, status, seen, reopened, checked, taken_over))
    sequence.final = run(argv, timeout=180, **env)
    sequence.final_integrity = integrity(session)
    with SessionStore.open(session) as store:
        sequence.final_frames = tracked_frames(store)
    return sequence


def check_kills(sequence: KillSequence) -> None:
    for kill in sequence.kills:
        where = f"killed at {kill.rows} rows (seed {SEED})"
        assert kill.status == -signal.SIGKILL, where
        assert kill.integrity == ["ok"], where
        assert kill.lock_taken_over, where
        assert_kept(kill.seen, kill.reopened)
        frames = sorted(frame for frame, _ in kill.reopened)
        assert frames == list(range(len(frames))), f"{where}: a gap in the tracked frames {frames}"
    assert sequence.final is not None
    assert sequence.final.returncode == 0, sequence.final.stderr
    assert "Traceback" not in sequence.final.stderr
    assert sequence.final_integrity == ["ok"]
    assert sequence.final_frames == list(range(sequence.frames))


def check_continues(sequence: KillSequence) -> None:
    """The run after the last kill tracks what was left (give or take the frame in flight), not all over."""
    assert sequence.final is not None
    left = sequence.frames - len(sequence.kills[-1].reopened)
    total = progress_total(sequence.final.stderr)
    assert total is not None and total <= left + 1, (
        f"the run after the kill tracked {total} frames; {left} were left (seed {SEED})"
    )


@pytest.fixture(scope="module")
def engine_kills(tmp_path_factory: pytest.TempPathFactory, random_checkpoint: Path) -> KillSequence:
    folder = tmp_path_factory.mktemp("engine-kills")
    args: list[str | Path] = ["--checkpoint", random_checkpoint, "--image-size", "128", "--device", "cpu"]
    return kill_track_repeatedly(folder, 30, args, kill_points(2, 2, 27, salt=1))


@pytest.fixture(scope="module")
def scripted_kills(tmp_path_factory: pytest.TempPathFactory) -> KillSequence:
    folder = tmp_path_factory.mktemp("scripted-kills")
    dummy = folder / "unused.pt"  # the scripted tracker loads no checkpoint; track only checks it exists
    dummy.write_bytes(b"")
    env = {"SAM2TUI_TEST_TRACKER": SCRIPTED_TRACKER, "SCRIPTED_DELAY": "0.015"}
    return kill_track_repeatedly(folder, 60, ["--checkpoint", dummy], kill_points(3, 2, 56, salt=2), **env)


@pytest.mark.engine
def test_sigkill_of_track_with_sam2_keeps_every_committed_frame(engine_kills: KillSequence) -> None:
    check_kills(engine_kills)


def test_sigkill_of_track_keeps_every_committed_frame(scripted_kills: KillSequence) -> None:
    check_kills(scripted_kills)


@pytest.mark.engine
def test_track_with_sam2_continues_after_sigkill(engine_kills: KillSequence) -> None:
    check_continues(engine_kills)


def test_track_continues_after_sigkill(scripted_kills: KillSequence) -> None:
    check_continues(scripted_kills)


# ---- the app in tmux ----


@pytest.mark.tmux
@needs_tmux
def test_sigkill_of_the_app_while_propagating_keeps_every_committed_frame(tmux: Tmux, tmp_path: Path) -> None:
    clip, session = prompted_clip(tmp_path)
    env = {"SAM2TUI_TEST_TRACKER": SCRIPTED_TRACKER, "SCRIPTED_DELAY": "0.04"}
    rows = kill_points(1, 5, APP_FRAMES - 10, salt=3)[0]
    start_app(tmux, tmp_path / "rc1", [clip], **env)
    wait_for(lambda: result_count(session) >= 1, "the replayed prompt's mask", 60)  # model ready
    tmux.keys("p")
    pid = lock_holder(session)
    assert pid is not None
    seen = kill_when(pid, session, rows)
    assert exit_status(tmp_path / "rc1") == (-signal.SIGKILL, pid)
    assert len(seen) < APP_FRAMES, "the propagation ended before the kill"
    assert integrity(session) == ["ok"]
    with SessionStore.open(session) as store:
        assert_kept(seen, stored(store))
        assert len(store.prompts()) == 1

    tmux.kill_server()  # a second run, in a fresh terminal, propagates the rest and quits cleanly
    with SessionStore.open(session) as store:
        kept = len(tracked_frames(store))
    start_app(tmux, tmp_path / "rc2", [clip], **env)
    wait_for(lambda: lock_holder(session) not in (None, pid), "the app to take over the lock", 60)
    tmux.wait_screen(lambda s: "ready" in s, "the model to be ready")
    tmux.keys("p")  # goes on from the first frame the killed run did not store
    tmux.wait_screen(lambda s: f"propagated {APP_FRAMES - kept} frames" in s, "the propagation to finish")
    tmux.keys("q")
    status, _ = exit_status(tmp_path / "rc2")
    assert status == 0
    assert integrity(session) == ["ok"]
    with SessionStore.open(session) as store:
        assert tracked_frames(store) == list(range(APP_FRAMES))
    no_orphans(str(tmp_path))


# ---- export ----


def exported_session(folder: Path, frames: int = 120) -> Path:
    session = folder / "clip.sam2tui"
    with SessionStore.open(session, fake_fingerprint(frames, 96, 64)) as store:
        store.add_object("disc")
        store.put_results(disc_results(range(frames), 1, 96, 64))
    return session


def export_argv(session: Path, fmt: str, out: Path) -> list[str]:
    return sam2tui_argv("export", session, "--format", fmt, "--out", out)


def killing_export(session: Path, fmt: str, out: Path, patch: str) -> subprocess.CompletedProcess[str]:
    """`sam2tui export` in a child that SIGKILLs itself at a chosen point (`patch` installs the trap)."""
    code = "\n".join(
        [
            "import os, signal, sys",
            "from sam2tui import cli",
            "def die(*args, **kwargs): os.kill(os.getpid(), signal.SIGKILL)",
            patch,
            f"sys.exit(cli.main({['export', str(session), '--format', fmt, '--out', str(out)]!r}))",
        ]
    )
    return run([sys.executable, "-c", code], timeout=60)


def test_sigkill_before_a_file_export_is_renamed_leaves_the_previous_export(tmp_path: Path) -> None:
    session = exported_session(tmp_path)
    out = tmp_path / "out" / "coco.json"
    assert run(export_argv(session, "coco", out)).returncode == 0
    before = out.read_bytes()
    with SessionStore.open(session) as store:  # new results, so that a new export would differ
        store.delete_results(frames=[7])
    patch = "import sam2tui.export._io as io_; io_.os.replace = die"
    killed = killing_export(session, "coco", out, patch)
    assert killed.returncode == -signal.SIGKILL
    assert out.read_bytes() == before
    json.loads(out.read_text())  # still a whole JSON document
    again = run(export_argv(session, "coco", out))  # the leftover temporary file does not get in the way
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() != before and len(json.loads(out.read_text())["annotations"]) == 119


RENAME_TRAP = """
import sam2tui.export._io as io_
calls = [0]
def trap(original):
    def renaming(*args, **kwargs):
        calls[0] += 1
        if calls[0] == {at} and {before}:
            die()
        done = original(*args, **kwargs)
        if calls[0] == {at}:
            die()
        return done
    return renaming
io_.os.rename = trap(io_.os.rename)
io_.os.replace = trap(io_.os.replace)
if hasattr(io_, "_exchange"):  # where folders trade places in one step
    io_._exchange = trap(io_._exchange)
"""


@pytest.mark.parametrize(
    ("at", "before"),
    [(1, True), (1, False), (2, True), (2, False)],
    ids=["before-rename-1", "after-rename-1", "before-rename-2", "after-rename-2"],
)
def test_sigkill_while_a_folder_export_is_swapped_in_leaves_one_whole_export(
    tmp_path: Path, at: int, before: bool
) -> None:
    """A folder export replaces the previous one; a kill around any rename leaves the old or the new one."""
    session = exported_session(tmp_path)
    out = tmp_path / "out" / "davis"
    assert run(export_argv(session, "davis", out)).returncode == 0
    old = tree(out)
    with SessionStore.open(session) as store:
        store.delete_results(frames=range(60, 120))
    killed = killing_export(session, "davis", out, RENAME_TRAP.format(at=at, before=before))
    assert killed.returncode in (0, -signal.SIGKILL), killed.stderr  # 0: it needed fewer renames
    assert out.is_dir(), f"no export at {out} after a kill at rename {at}: {os.listdir(out.parent)}"
    new = tree(out)
    pngs = sorted(name for name in new if name.endswith(".png"))
    if new != old:  # the whole new export: frames 60-119 are untracked now, so they have no PNG
        assert MARKER in new and pngs == sorted(name for name in old if name.endswith(".png"))[:60]
    again = run(export_argv(session, "davis", out))
    assert again.returncode == 0, again.stderr
    assert (out / MARKER).exists() and len(list(out.glob("*.png"))) == 60


def test_sigkill_in_the_middle_of_a_folder_export_leaves_the_previous_export(tmp_path: Path) -> None:
    session = exported_session(tmp_path, frames=1500)
    out = tmp_path / "out" / "davis"
    assert run(export_argv(session, "davis", out), timeout=180).returncode == 0
    before = tree(out)
    process = start(export_argv(session, "davis", out), tmp_path / "export.log")

    def half_written() -> bool:
        temps = [p for p in out.parent.iterdir() if p.name.startswith(".davis.") and p.is_dir()]
        return any(len(list(t.glob("*.png"))) >= 100 for t in temps) or process.poll() is not None

    wait_for(half_written, "the export to be under way", 120)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL, "the export finished before the kill"
    assert tree(out) == before
