"""`sam2tui doctor`: one screen of facts about this machine and terminal, each with a verdict.

Exit status 0 when the tool will work here (warnings allowed), 1 when something must be fixed first;
every failing line names its fix.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from sam2tui.engine.options import CPU_SECONDS_PER_FRAME, SAM2_INSTALL

if TYPE_CHECKING:
    from sam2tui.tui.termcaps import TermCaps

MIN_COLUMNS, MIN_ROWS = 80, 24


class Verdict(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    topic: str
    verdict: Verdict
    detail: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", Verdict.OK, f"{version} ({sys.executable})")


def check_torch() -> list[Check]:
    try:
        import torch
    except ImportError:
        return [Check("torch", Verdict.FAIL, "not installed", "run `make install` (or pip install torch)")]
    checks = [Check("torch", Verdict.OK, f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}")]
    if torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        checks.append(Check("gpu", Verdict.OK, f"{name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free"))
    else:
        per_frame = ", ".join(f"{s}px ~{t:g} s" for s, t in CPU_SECONDS_PER_FRAME.items())
        checks.append(
            Check(
                "gpu",
                Verdict.WARN,
                f"none visible: SAM 2 runs on the CPU (sam2.1-tiny per frame: {per_frame})",
                "on CPU use --model sam2.1-tiny --image-size 512; on a GPU box install a CUDA torch",
            )
        )
    return checks


def check_sam2() -> Check:
    try:
        version = importlib.metadata.version("sam2")
        importlib.import_module("sam2")
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return Check("sam2", Verdict.FAIL, "not installed", SAM2_INSTALL)
    try:
        importlib.import_module("sam2._C")
        extension = "built (hole filling on)"
    except ImportError:
        extension = "not built (hole filling off; masks are otherwise the same)"
    return Check("sam2", Verdict.OK, f"{version}, _C extension {extension}")


def check_device() -> Check:
    try:
        from sam2tui.engine.device import resolve_device

        device = resolve_device("auto")
    except Exception as error:  # torch missing is reported by check_torch
        return Check("device", Verdict.WARN, f"cannot tell ({error})")
    return Check("device", Verdict.OK, f"--device auto picks {device}")


def check_checkpoints() -> Check:
    from sam2tui.engine.checkpoints import DEFAULT_MODEL, MODELS, cache_dir, download_url

    cached = [name for name, info in MODELS.items() if (cache_dir() / info.filename).is_file()]
    if DEFAULT_MODEL in cached:
        return Check("checkpoints", Verdict.OK, f"cached in {cache_dir()}: {', '.join(cached)}")
    info = MODELS[DEFAULT_MODEL]
    also = f"; cached: {', '.join(cached)}" if cached else ""
    return Check(
        "checkpoints",
        Verdict.WARN,
        f"{DEFAULT_MODEL} not cached: first use downloads {info.size_bytes / 1e6:.0f} MB from "
        f"{download_url(info)}{also}",
        f"offline: copy {info.filename} into {cache_dir()} or pass --checkpoint FILE",
    )


def check_terminal() -> list[Check]:
    from sam2tui.tui.termcaps import detect

    caps = detect(timeout=2.0)
    checks = []
    if not caps.is_tty:
        checks.append(
            Check(
                "terminal", Verdict.WARN, "not a terminal: the app needs one; `sam2tui track` works anywhere"
            )
        )
    else:
        size = shutil.get_terminal_size()
        small = size.columns < MIN_COLUMNS or size.lines < MIN_ROWS
        checks.append(
            Check(
                "terminal",
                Verdict.FAIL if small else Verdict.OK,
                f"{size.columns}x{size.lines} cells, TERM={caps.term or '?'}",
                f"enlarge the window to at least {MIN_COLUMNS}x{MIN_ROWS}" if small else "",
            )
        )
        if caps.answered_in_ms is not None:
            answer = f"answered in {caps.answered_in_ms:.0f} ms"
        else:
            answer = "answered in part (timed out)" if caps.answered else "no answer"
        graphics = "sixel" if caps.sixel else "kitty" if caps.kitty else "none (half-block text)"
        if caps.kitty and caps.tmux:
            graphics += " (through tmux)"
        choice = caps.renderer_choice()
        reason = f" ({choice.reason})" if choice.reason else ""
        checks.append(
            Check("graphics", Verdict.OK, f"{graphics}; {answer}; renderer: {choice.renderer}{reason}")
        )
        checks.append(check_text_edges(choice.renderer))
    checks.append(
        Check(
            "colour",
            Verdict.OK if caps.truecolor else Verdict.WARN,
            caps.color_note,
            "" if caps.truecolor else "export COLORTERM=truecolor (if your terminal has 24-bit colour)",
        )
    )
    checks.append(
        Check(
            "mouse",
            Verdict.OK,
            "clicks as SGR reports; pixel-precise pointer only in kitty/foot/WezTerm; every action also has a key",
        )
    )
    if caps.tmux:
        checks.append(check_tmux(caps))
    checks.append(Check("session", Verdict.OK, "over SSH" if caps.ssh else "local"))
    return checks


def check_text_edges(renderer: str) -> Check:
    """How mask edges are drawn in text, and the finer choices (no terminal reports its font's coverage)."""
    names = {"octant": "octants, 2x4 per cell", "sextant": "sextants, 2x3 per cell"}
    edges = names.get(renderer, "half blocks, 1x2 per cell")
    return Check(
        "text edges",
        Verdict.OK,
        f"mask edges in text: {edges} (--render octant needs Unicode 16 block glyphs: kitty >= 0.40, "
        "foot >= 1.20, ghostty >= 1.2, VTE >= 0.78; --render sextant Unicode 13)",
    )


def tmux_option(name: str) -> str:
    """A global tmux option's value ("?" when tmux cannot be asked)."""
    try:
        shown = subprocess.run(["tmux", "show", "-gv", name], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "?"
    return shown.stdout.strip() or "off"


def check_tmux(caps: TermCaps) -> Check:
    """What works inside this tmux (graphics, mouse, colour) and the settings that would make more work."""
    from sam2tui.tui.termcaps import PASSTHROUGH_SETTING

    mouse = tmux_option("mouse")
    fixes = [] if mouse == "on" else ["if clicks do not reach the app: tmux set -g mouse on"]
    if caps.kitty:
        graphics = "kitty graphics pass through to the terminal outside (allow-passthrough on)"
    elif caps.passthrough:
        graphics = "allow-passthrough on, but the terminal outside does not report kitty graphics"
    else:
        graphics = "allow-passthrough off: no kitty graphics"
        fixes.append(
            f"for kitty graphics through tmux (kitty, WezTerm, ghostty outside): {PASSTHROUGH_SETTING}"
        )
    sixel = "Sixel drawn by tmux" if caps.sixel else "no Sixel (this tmux does not draw it)"
    if not caps.truecolor:
        fixes.append("for 24-bit colour: tmux set -as terminal-features ',*:RGB' and COLORTERM=truecolor")
    return Check(
        "tmux",
        Verdict.WARN if fixes else Verdict.OK,
        f"inside tmux, mouse {mouse}; {graphics}; {sixel}; half-block text always works, sextant edges too "
        "(tmux drops octant glyphs: --render octant gives sextant)",
        "; ".join(fixes),
    )


def gather() -> list[Check]:
    steps: list[Callable[[], Check | list[Check]]] = [
        check_python,
        check_torch,
        check_sam2,
        check_device,
        check_checkpoints,
        check_terminal,
    ]
    checks: list[Check] = []
    for step in steps:
        found = step()
        checks.extend(found if isinstance(found, list) else [found])
    return checks


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Exit status 0: sam2tui will work here; 1: something must be fixed first (named on its line)."
    )


def run_doctor(args: argparse.Namespace) -> int:
    checks = gather()
    width = max(len(c.topic) for c in checks)
    for check in checks:
        print(f"{check.verdict.value:>4}  {check.topic:<{width}}  {check.detail}")
        if check.fix and check.verdict is not Verdict.OK:
            print(f"{'':>4}  {'':<{width}}  -> {check.fix}")
    failed = [c for c in checks if c.verdict is Verdict.FAIL]
    if failed:
        print(f"\nsam2tui will not work until you fix: {', '.join(c.topic for c in failed)}.")
        return 1
    print(
        "\nsam2tui will work here"
        + (" (see the warnings above)." if any(c.verdict is Verdict.WARN for c in checks) else ".")
    )
    return 0
