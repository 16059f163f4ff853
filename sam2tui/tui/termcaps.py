"""What the terminal can show, asked once before the app starts.

`detect()` writes three queries in one go - the kitty graphics query, `CSI 16 t` (cell size in pixels) and
DA1 (`CSI c`) - and reads replies until DA1's arrives. Every terminal answers DA1, and answers in order, so
its reply comes last: waiting for it (with a generous timeout, for slow SSH links) instead of a fixed short
wait means nothing arrives after we stop listening. The tty is then restored with TCSAFLUSH, which drops
anything unread, so no reply can reach the app as key presses. (textual-image queries at import time with
0.1 s timeouts: over a slow link it falls back silently and its late replies fire key bindings. Never
import `textual_image.widget` or `textual_image.renderable` in the app.)

Inside tmux, DA1 is answered by tmux itself (at once: Sixel only if tmux draws it) and the kitty query
would reach nobody. With `allow-passthrough` on (`tmux show -pAv allow-passthrough`), the kitty query and
`CSI 16 t` are wrapped for tmux to hand to the terminal outside (`tmux_passthrough`); tmux passes their
replies back to the pane (tmux 3.3a, measured) but swallows the outer terminal's DA1, so there the outer
`CSI 16 t` reply - after the kitty one, as terminals answer in order - is what detection waits for. kitty
graphics then reach the outer terminal in passthrough, shown in Unicode placeholder cells tmux draws as text
(render/kitty.py).

Colours: Textual (through Rich) emits 24-bit colour only when COLORTERM is "truecolor" or "24bit";
otherwise it downgrades every colour to the 256-colour palette (TERM ending in -256color) or even to 16
colours, which bands the half-block picture. Over SSH and in tmux COLORTERM is often lost:
`TermCaps.color_system` / `color_note` say so for the status bar and `sam2tui doctor`.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import termios
import time
import tty
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

# Text renderers need nothing but the font: octants (Unicode 16) and sextants (Unicode 13) sharpen mask edges.
TEXT_RENDERERS = ("halfblock", "octant", "sextant")
RENDERERS = (*TEXT_RENDERERS, "sixel", "kitty")
RENDER_ENV = "SAM2TUI_RENDER"
KITTY_QUERY = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
CELL_SIZE_QUERY = "\x1b[16t"
DA1_QUERY = "\x1b[c"
QUERIES = KITTY_QUERY + CELL_SIZE_QUERY + DA1_QUERY
PASSTHROUGH_SETTING = "set -g allow-passthrough on"  # in ~/.tmux.conf (or `tmux set -g allow-passthrough on`)

_DA1_REPLY = re.compile(rb"\x1b\[\?([\d;]*)c")
_KITTY_REPLY = re.compile(rb"\x1b_Gi=31;([^\x1b]*)\x1b\\")
_CELL_SIZE_REPLY = re.compile(rb"\x1b\[6;(\d+);(\d+)t")


class RendererChoice(NamedTuple):
    """The renderer to use and, when it is not what was asked for, why."""

    renderer: str
    reason: str


@dataclass(frozen=True)
class TermCaps:
    """The terminal's answers plus what the environment says."""

    is_tty: bool = False
    answered: bool = False  # DA1 replied before the timeout
    answered_in_ms: float | None = None
    kitty: bool = False  # kitty graphics reach the terminal (inside tmux: the outer one, in passthrough)
    sixel: bool = False  # DA1 lists attribute 4
    cell_size: tuple[int, int] | None = None  # one cell in pixels (width, height)
    truecolor: bool = False  # COLORTERM says 24-bit (else Textual downgrades: see color_system)
    tmux: bool = False
    passthrough: bool = False  # inside tmux, allow-passthrough is on
    ssh: bool = False
    da1: str = ""  # DA1 attributes as received, e.g. "62;4;22"
    term: str = ""

    @property
    def color_system(self) -> str:
        """What Textual (Rich) will emit: "truecolor", "256" or "standard" (16 colours), as Rich decides it."""
        if self.truecolor:
            return "truecolor"
        return "256" if self.term.rpartition("-")[2] in ("256color", "kitty") else "standard"

    @property
    def color_note(self) -> str:
        """One line for the status bar / doctor about the colours Textual will send."""
        if self.truecolor:
            return "24-bit colour"
        colours = "256 colours" if self.color_system == "256" else f"16 colours (TERM={self.term or 'unset'})"
        return f"{colours}: set COLORTERM=truecolor for 24-bit"

    def renderer_choice(
        self, requested: str = "auto", env: Mapping[str, str] | None = None
    ) -> RendererChoice:
        """Resolve "auto" or one of RENDERERS (an "auto" request defers to $SAM2TUI_RENDER)."""
        env = os.environ if env is None else env
        note = ""
        if requested == "auto" and env.get(RENDER_ENV):
            requested = env[RENDER_ENV].strip().lower()
            if requested not in (*RENDERERS, "auto"):
                note = f"{RENDER_ENV}={requested!r} is not one of auto, {', '.join(RENDERERS)}; "
                requested = "auto"
        if requested == "auto":
            if self.sixel:
                return RendererChoice("sixel", note)
            if self.kitty:
                return RendererChoice("kitty", note)
            return RendererChoice("halfblock", note + self._no_graphics_reason())
        if requested == "octant" and self.tmux:
            # tmux (3.3a, measured) drops the Unicode 16 glyphs its wcwidth does not know, shifting the row.
            return RendererChoice("sextant", f"{note}octant requested, but tmux drops octant glyphs; sextant")
        if requested in TEXT_RENDERERS:
            return RendererChoice(requested, note)
        if requested not in RENDERERS:
            raise ValueError(
                f"unknown renderer {requested!r}; expected auto or one of {', '.join(RENDERERS)}"
            )
        if getattr(self, requested):
            return RendererChoice(requested, note)
        return RendererChoice("halfblock", f"{note}{requested} requested, but {self._missing(requested)}")

    def choose_renderer(self, requested: str = "auto", env: Mapping[str, str] | None = None) -> str:
        """The renderer to use (see `renderer_choice` for the reason of a fallback)."""
        return self.renderer_choice(requested, env).renderer

    def _missing(self, renderer: str) -> str:
        if not self.is_tty:
            return "the output is not a terminal; using half-block"
        if renderer == "kitty" and self.tmux and not self.passthrough:
            return (
                f"inside tmux kitty graphics need allow-passthrough ({PASSTHROUGH_SETTING}); using half-block"
            )
        if not self.answered:
            return "the terminal did not answer its queries; using half-block"
        if renderer == "sixel":
            return "the terminal does not report Sixel (no 4 in its DA1 reply); using half-block"
        outer = " outside tmux" if self.tmux else ""
        return f"the terminal{outer} does not report kitty graphics; using half-block"

    def _no_graphics_reason(self) -> str:
        if not self.is_tty:
            return "not a terminal: half-block"
        if not self.answered:
            return "the terminal did not answer its queries: half-block"
        return ""


def _env_caps(env: Mapping[str, str]) -> dict[str, object]:
    return {
        "truecolor": env.get("COLORTERM", "").lower() in ("truecolor", "24bit"),
        "tmux": bool(env.get("TMUX")),
        "ssh": bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY") or env.get("SSH_CLIENT")),
        "term": env.get("TERM", ""),
    }


def parse_replies(data: bytes) -> dict[str, object]:
    """What the replies in `data` say (keys: answered, da1, sixel, kitty, cell_size)."""
    result: dict[str, object] = {
        "answered": False,
        "da1": "",
        "sixel": False,
        "kitty": False,
        "cell_size": None,
    }
    if da1 := _DA1_REPLY.search(data):
        attributes = da1.group(1).decode("ascii")
        result.update(answered=True, da1=attributes, sixel="4" in attributes.split(";")[1:])
    if kitty := _KITTY_REPLY.search(data):
        result["kitty"] = kitty.group(1) == b"OK"
    if cell := _CELL_SIZE_REPLY.search(data):
        height, width = int(cell.group(1)), int(cell.group(2))
        if width > 0 and height > 0:
            result["cell_size"] = (width, height)
    return result


def tmux_passthrough(sequence: str) -> str:
    """`sequence` wrapped for tmux to hand, unchanged, to the terminal outside it (needs allow-passthrough)."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def tmux_allows_passthrough(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this tmux pane passes sequences through (`allow-passthrough` on or all; unknown: False)."""
    pane = ["-t", env["TMUX_PANE"]] if env.get("TMUX_PANE") else []
    try:
        shown = subprocess.run(
            ["tmux", "show", "-pAv", *pane, "allow-passthrough"], capture_output=True, text=True, timeout=2
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return shown.returncode == 0 and shown.stdout.strip() in ("on", "all")


def _winsize_cell(fd: int) -> tuple[int, int] | None:
    """Cell size from the kernel's window size (ws_xpixel/ws_ypixel are 0 where nobody fills them in)."""
    try:
        import fcntl
        import struct

        rows, cols, xpix, ypix = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    if rows and cols and xpix and ypix:
        return xpix // cols, ypix // rows
    return None


def _ask(
    fd_in: int, fd_out: int, timeout: float, queries: str = QUERIES, last: re.Pattern[bytes] = _DA1_REPLY
) -> tuple[bytes, float | None]:
    """Write `queries`, read until the `last` reply or the timeout; returns (bytes read, ms to it)."""
    saved = termios.tcgetattr(fd_in)
    try:
        tty.setcbreak(fd_in, termios.TCSANOW)  # no echo, no line buffering
        start = time.monotonic()
        os.write(fd_out, queries.encode("ascii"))
        data = b""
        deadline = start + timeout
        while not (last.search(data) and _DA1_REPLY.search(data)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return data, None
            readable, _, _ = select.select([fd_in], [], [], remaining)
            if readable:
                chunk = os.read(fd_in, 4096)
                if not chunk:
                    return data, None
                data += chunk
        return data, (time.monotonic() - start) * 1000.0
    finally:
        # TCSAFLUSH drops input not yet read: nothing of the replies can reach the app as keys.
        termios.tcsetattr(fd_in, termios.TCSAFLUSH, saved)


def detect(timeout: float = 1.0, env: Mapping[str, str] = os.environ) -> TermCaps:
    """Probe stdin/stdout's terminal (call before the App starts; not a tty -> no queries, half-block)."""
    base = _env_caps(env)
    try:
        fd_in, fd_out = sys.stdin.fileno(), sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return TermCaps(**base)  # type: ignore[arg-type]
    if not (os.isatty(fd_in) and os.isatty(fd_out)):
        return TermCaps(**base)  # type: ignore[arg-type]
    sys.stdout.flush()
    passthrough = bool(base["tmux"]) and tmux_allows_passthrough(env)
    if passthrough:
        outer = tmux_passthrough(KITTY_QUERY) + tmux_passthrough(CELL_SIZE_QUERY)
        data, elapsed = _ask(fd_in, fd_out, timeout, outer + DA1_QUERY, _CELL_SIZE_REPLY)
    else:
        data, elapsed = _ask(fd_in, fd_out, timeout)
    replies = parse_replies(data)
    if replies["cell_size"] is None:
        replies["cell_size"] = _winsize_cell(fd_out)
    if base["tmux"] and not passthrough:
        replies["kitty"] = False  # a kitty reply could only be tmux's own misunderstanding
    return TermCaps(
        is_tty=True,
        answered_in_ms=elapsed,
        passthrough=passthrough,
        **replies,  # type: ignore[arg-type]
        **base,  # type: ignore[arg-type]
    )
