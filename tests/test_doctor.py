"""`sam2tui doctor`: a verdict per fact, exit 0 when the tool will work, 1 with the fix named when not."""

from __future__ import annotations

import argparse
import importlib.metadata
import subprocess
import sys

import pytest

from sam2tui import doctor
from sam2tui.doctor import Check, Verdict
from sam2tui.tui.termcaps import TermCaps


def test_doctor_passes_on_this_machine_without_a_terminal() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sam2tui", "doctor"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for topic in ("python", "torch", "sam2", "device", "checkpoints", "terminal", "colour"):
        assert any(line.split()[1:2] == [topic] for line in lines if line.strip()), topic
    assert "not a terminal" in done.stdout and "will work here" in done.stdout
    assert done.stderr == ""


def test_missing_sam2_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    check = doctor.check_sam2()
    assert check.verdict is Verdict.FAIL and check.fix == doctor.SAM2_INSTALL


def test_a_failure_exits_1_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        doctor,
        "gather",
        lambda: [
            Check("python", Verdict.OK, "3.11"),
            Check("terminal", Verdict.FAIL, "60x20 cells", "enlarge the window to at least 80x24"),
        ],
    )
    assert doctor.run_doctor(argparse.Namespace()) == 1
    out = capsys.readouterr().out
    assert "-> enlarge the window to at least 80x24" in out and "fix: terminal" in out


@pytest.mark.parametrize(
    ("caps", "says", "fix"),
    [
        (
            TermCaps(tmux=True, truecolor=True),
            "allow-passthrough off: no kitty graphics",
            "set -g allow-passthrough on",
        ),
        (
            TermCaps(tmux=True, passthrough=True, kitty=True, truecolor=True),
            "kitty graphics pass through to the terminal outside",
            "",
        ),
        (
            TermCaps(tmux=True, passthrough=True, truecolor=True, sixel=True),
            "the terminal outside does not report kitty graphics; Sixel drawn by tmux",
            "",
        ),
    ],
)
def test_inside_tmux_doctor_says_what_works_and_the_setting_it_needs(
    monkeypatch: pytest.MonkeyPatch, caps: TermCaps, says: str, fix: str
) -> None:
    monkeypatch.setattr(doctor, "tmux_option", lambda name: "on")
    check = doctor.check_tmux(caps)
    assert says in check.detail and "half-block text always works" in check.detail
    assert (fix in check.fix if fix else check.fix == "") and check.verdict is (
        Verdict.WARN if fix else Verdict.OK
    )


def test_doctor_names_the_text_edge_choice() -> None:
    assert "octants, 2x4 per cell" in doctor.check_text_edges("octant").detail
    assert "sextants, 2x3 per cell" in doctor.check_text_edges("sextant").detail
    plain = doctor.check_text_edges("halfblock").detail
    assert "half blocks" in plain and "--render octant" in plain
