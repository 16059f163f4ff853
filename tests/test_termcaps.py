"""Terminal detection in a real pty against a fake terminal that answers (late, or never)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from benchmarks.pty_terminal import PtyTerminal, TerminalProfile
from sam2tui.tui.termcaps import PASSTHROUGH_SETTING, TermCaps, detect, parse_replies, tmux_passthrough

REPO = Path(__file__).resolve().parents[1]

# Runs in the pty: detect, then look for anything left to read (in cbreak mode, as the app would read keys).
CHILD = """
import dataclasses, json, os, select, sys, termios, tty
from sam2tui.tui.termcaps import detect
caps = detect(timeout=float(sys.argv[2]))
tty.setcbreak(0, termios.TCSANOW)
readable, _, _ = select.select([0], [], [], 0.6)
stray = os.read(0, 4096).decode("latin-1") if readable else ""
with open(sys.argv[1], "w") as out:
    json.dump({**dataclasses.asdict(caps), "stray": stray}, out)
"""


def run_detect(
    tmp_path: Path, profile: TerminalProfile, timeout: float = 1.0, **env: str
) -> dict[str, object]:
    result = tmp_path / "caps.json"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "SSH_", "COLORTERM"))}
    child_env.update(PYTHONPATH=str(REPO), **env)
    with PtyTerminal(
        [sys.executable, "-c", CHILD, str(result), str(timeout)], profile, env=child_env
    ) as term:
        deadline = time.monotonic() + 20
        while term.returncode is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert term.returncode == 0
    caps: dict[str, object] = json.loads(result.read_text())
    return caps


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_detects_sixel_kitty_and_cell_size(tmp_path: Path, delay: float) -> None:
    profile = TerminalProfile(cols=100, rows=30, cell=(9, 18), sixel=True, kitty=True, reply_delay=delay)
    caps = run_detect(tmp_path, profile, COLORTERM="truecolor")
    assert caps["is_tty"] and caps["answered"]
    assert caps["sixel"] and caps["kitty"]
    assert caps["cell_size"] == [9, 18]
    assert caps["truecolor"] and not caps["tmux"]
    assert caps["answered_in_ms"] >= delay * 1000  # type: ignore[operator]
    assert caps["stray"] == ""  # no reply is left over for the app to read as keys


def test_a_short_wait_would_leave_late_replies_for_the_app(tmp_path: Path) -> None:
    # What textual-image's 0.1 s queries do on a slow link: the replies arrive later and read as keys.
    # This is why detect() waits for DA1 with a generous timeout (and proves the stray check can fail).
    caps = run_detect(tmp_path, TerminalProfile(reply_delay=0.3, sixel=True), timeout=0.05)
    assert not caps["answered"]
    assert "\x1b[?62;4;22c" in str(caps["stray"])


def test_plain_terminal_without_graphics(tmp_path: Path) -> None:
    caps = run_detect(tmp_path, TerminalProfile(reply_delay=0.3))
    assert caps["answered"] and not caps["sixel"] and not caps["kitty"]
    assert not caps["truecolor"]
    assert caps["stray"] == ""


def test_no_kitty_inside_tmux(tmp_path: Path) -> None:
    caps = run_detect(
        tmp_path, TerminalProfile(kitty=True), TMUX="/tmp/tmux-0/default,1,0", SSH_TTY="/dev/pts/3"
    )
    assert caps["answered"] and not caps["kitty"]
    assert caps["tmux"] and caps["ssh"]


def test_silent_terminal_times_out_with_the_cell_size_from_the_kernel(tmp_path: Path) -> None:
    started = time.monotonic()
    caps = run_detect(tmp_path, TerminalProfile(silent=True, cell=(8, 16)), timeout=0.3)
    assert time.monotonic() - started < 10
    assert caps["is_tty"] and not caps["answered"] and caps["answered_in_ms"] is None
    assert caps["cell_size"] == [8, 16]  # TIOCGWINSZ pixels / cells
    assert caps["stray"] == ""


def test_not_a_tty_asks_nothing() -> None:
    # Under pytest stdin is not a terminal.
    caps = detect(timeout=0.1, env={"COLORTERM": "24bit"})
    assert not caps.is_tty and not caps.answered and caps.truecolor
    assert caps.choose_renderer("auto") == "halfblock"
    assert caps.choose_renderer("sixel") == "halfblock"


def test_parse_replies() -> None:
    data = b"\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[?64;1;2;4;6;9;15;22c"
    assert parse_replies(data) == {
        "answered": True,
        "da1": "64;1;2;4;6;9;15;22",
        "sixel": True,
        "kitty": True,
        "cell_size": (10, 20),
    }
    refused = parse_replies(b"\x1b_Gi=31;ENOTSUPPORTED:nope\x1b\\\x1b[?62;22c")
    assert refused["answered"] and not refused["kitty"] and not refused["sixel"]
    assert parse_replies(b"")["answered"] is False


def test_renderer_choice() -> None:
    both = TermCaps(is_tty=True, answered=True, sixel=True, kitty=True)
    plain = TermCaps(is_tty=True, answered=True)
    assert both.choose_renderer("auto", env={}) == "sixel"
    assert TermCaps(is_tty=True, answered=True, kitty=True).choose_renderer("auto", env={}) == "kitty"
    assert both.choose_renderer("kitty", env={}) == "kitty"
    assert both.choose_renderer("auto", env={"SAM2TUI_RENDER": "halfblock"}) == "halfblock"
    assert both.choose_renderer("kitty", env={"SAM2TUI_RENDER": "halfblock"}) == "kitty"  # explicit wins
    renderer, reason = plain.renderer_choice("sixel", env={})
    assert renderer == "halfblock" and "Sixel" in reason
    renderer, reason = TermCaps(is_tty=True, answered=True, tmux=True).renderer_choice("kitty", env={})
    assert renderer == "halfblock" and "tmux" in reason
    renderer, reason = both.renderer_choice("auto", env={"SAM2TUI_RENDER": "ascii"})
    assert renderer == "sixel" and "SAM2TUI_RENDER" in reason
    with pytest.raises(ValueError):
        plain.choose_renderer("ascii", env={})


def test_color_note() -> None:
    assert TermCaps(truecolor=True).color_note == "24-bit colour"
    assert TermCaps(term="xterm-256color").color_system == "256"
    assert "256 colours" in TermCaps(term="xterm-256color").color_note
    assert TermCaps(term="xterm").color_system == "standard"
    assert (
        "16 colours" in TermCaps(term="xterm").color_note and "COLORTERM" in TermCaps(term="xterm").color_note
    )


def test_tmux_passthrough_doubles_every_escape_inside_dcs_tmux() -> None:
    wrapped = tmux_passthrough("\x1b_Ga=q;AAAA\x1b\\")
    assert wrapped == "\x1bPtmux;\x1b\x1b_Ga=q;AAAA\x1b\x1b\\\x1b\\"


def test_inside_tmux_kitty_needs_passthrough() -> None:
    off = TermCaps(is_tty=True, answered=True, tmux=True)
    renderer, reason = off.renderer_choice("kitty", env={})
    assert renderer == "halfblock" and PASSTHROUGH_SETTING in reason
    on_without = TermCaps(is_tty=True, answered=True, tmux=True, passthrough=True)
    renderer, reason = on_without.renderer_choice("kitty", env={})
    assert renderer == "halfblock" and "outside tmux" in reason
    on = TermCaps(is_tty=True, answered=True, tmux=True, passthrough=True, kitty=True)
    assert on.choose_renderer("auto", env={}) == "kitty"


def test_text_renderers_need_no_terminal_answer() -> None:
    silent = TermCaps()
    assert silent.renderer_choice("octant", env={}) == ("octant", "")
    assert silent.choose_renderer("auto", env={"SAM2TUI_RENDER": "sextant"}) == "sextant"
