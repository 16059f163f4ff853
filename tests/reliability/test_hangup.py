"""The SSH connection drops while the app propagates: the terminal hangs up (tmux kill-server) and the app
gets SIGHUP, passed on by the pane's first process as a login shell would. It must stop or finish cleanly,
keep every committed frame, release the session, exit 0 or 1, say why in its log file
(`$SAM2TUI_STATE_DIR/sam2tui.log`), and leave no process behind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sam2tui.session.store import SessionStore
from tests.fixtures_engine import tracked_frames
from tests.reliability.helpers import (
    APP_FRAMES,
    SCRIPTED_TRACKER,
    assert_kept,
    exit_status,
    integrity,
    lock_holder,
    no_orphans,
    prompted_clip,
    result_count,
    sam2tui_argv,
    snapshot,
    start_app,
    stored,
    wait_for,
)
from tests.tmux_driver import Tmux, needs_tmux

pytestmark = [pytest.mark.tmux, needs_tmux]

HANGUP_LOGGED = re.compile(r"SIGHUP|hang ?up|terminal (closed|gone|lost)", re.IGNORECASE)


def log_file() -> Path:
    return Path(os.environ["SAM2TUI_STATE_DIR"]) / "sam2tui.log"


def test_hangup_while_propagating_saves_logs_and_exits(tmux: Tmux, tmp_path: Path) -> None:
    clip, session = prompted_clip(tmp_path)
    start_app(tmux, tmp_path / "rc", [clip], SAM2TUI_TEST_TRACKER=SCRIPTED_TRACKER, SCRIPTED_DELAY="0.05")
    wait_for(lambda: result_count(session) >= 1, "the replayed prompt's mask", 60)
    pid = lock_holder(session)
    tmux.keys("p")
    wait_for(lambda: result_count(session) >= 10, "the propagation to be under way", 60)
    seen = snapshot(session)
    tmux.kill_server()  # the terminal is gone: SIGHUP

    status, app_pid = exit_status(tmp_path / "rc", timeout=60)
    assert app_pid == pid
    no_orphans(str(tmp_path))
    log = log_file().read_text() if log_file().exists() else ""
    assert status in (0, 1), f"exit status {status}; log: {log!r}"
    assert HANGUP_LOGGED.search(log), f"no line about the hangup in {log_file()}: {log!r}"
    assert integrity(session) == ["ok"]
    assert not session.with_name(session.name + ".lock").exists(), "the lock was not released"
    with SessionStore.open(session) as store:
        assert_kept(seen, stored(store))
        frames = tracked_frames(store)
    assert frames == list(range(len(frames))) and len(frames) <= APP_FRAMES


def test_app_that_owns_its_terminal_ends_when_it_hangs_up(tmux: Tmux, tmp_path: Path) -> None:
    """Started as the terminal's own command (as `ssh -t host sam2tui CLIP` starts it), the app gets the
    kernel's SIGHUP and then its SIGCONT, on which Textual redraws to the dead terminal. The app used to
    outlive that for good, orphaned and holding the session's lock (two such were left by the tmux tests)."""
    clip, session = prompted_clip(tmp_path)
    command = " ".join(map(str, [*sam2tui_argv(clip), "--render", "halfblock"]))
    tmux.start(f"exec {command}", SAM2TUI_TEST_TRACKER=SCRIPTED_TRACKER)
    wait_for(lambda: result_count(session) >= 1, "the replayed prompt's mask", 60)
    tmux.kill_server()

    no_orphans(str(tmp_path), timeout=30)
    log = log_file().read_text() if log_file().exists() else ""
    assert HANGUP_LOGGED.search(log), f"no line about the hangup in {log_file()}: {log!r}"
    assert integrity(session) == ["ok"]
    assert lock_holder(session) is None, "the lock was not released"
