"""kitty graphics through a real tmux to a fake outer terminal that has them (tests/tmux_driver.py).

The outer terminal (benchmarks/pty_terminal.py) attaches a tmux client; inside, a small app detects the
terminal as `sam2tui` does and shows a frame on the canvas the detection chose. What tmux receives from the
app is piped to a file (`pipe-pane -O`), what the outer terminal receives is its output.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from benchmarks.pty_terminal import PtyTerminal, TerminalProfile
from sam2tui.tui.render.kitty import PLACEHOLDER
from tests.tmux_driver import Tmux, needs_tmux

pytestmark = [pytest.mark.tmux, needs_tmux]

APP = """
import sys
import numpy as np
from textual.app import App
from sam2tui.masks import encode
from sam2tui.tui.compose import MaskLayer, Overlay
from sam2tui.tui.termcaps import detect
from sam2tui.tui.widgets.frame_canvas import FrameCanvas, make_canvas

caps = detect(timeout=3.0)
choice = caps.renderer_choice("auto", env={})
open(sys.argv[1], "w").write(f"{choice.renderer} passthrough={caps.passthrough} kitty={caps.kitty}")
FRAME = np.full((160, 320, 3), 200, np.uint8)
FRAME[:80] = np.random.default_rng(0).integers(0, 256, (80, 320, 3), dtype=np.uint8)  # a picture's detail

class GraphicsApp(App):
    CSS = "FrameCanvas { height: 20; }"
    BINDINGS = [("c", "click", "a mask appears, as after a click")]

    def compose(self):
        yield make_canvas(choice.renderer, caps)

    def on_mount(self):
        self.query_one(FrameCanvas).show(0, FRAME, Overlay())

    def action_click(self):
        mask = np.zeros(FRAME.shape[:2], bool)
        mask[60:100, 140:180] = True
        overlay = Overlay(masks=(MaskLayer(1, encode(mask), (255, 0, 255), selected=True),))
        self.query_one(FrameCanvas).show(0, FRAME, overlay)

GraphicsApp().run()
"""


def run_in_tmux(
    tmux: Tmux, tmp_path: Path, passthrough: str, key: str | None = None
) -> tuple[str, bytes, bytes]:
    """(the app's detection, the bytes the app wrote, the bytes the outer terminal got); `key` is pressed
    once the app is quiet, and the terminal waited for again."""
    script, detected, piped = tmp_path / "app.py", tmp_path / "detected.txt", tmp_path / "pane.bin"
    script.write_text(APP)
    # The app waits for the outer terminal's client: its queries must reach a terminal.
    wait_client = 'until [ -n "$(tmux list-clients)" ]; do sleep 0.1; done'
    tmux.start(f"{wait_client}; {sys.executable} {script} {detected}; sleep 30")
    tmux("set", "-g", "allow-passthrough", passthrough)
    tmux("pipe-pane", "-O", "-t", "app", f"cat > {piped}")
    profile = TerminalProfile(cols=100, rows=32, kitty=True)
    client = ["tmux", "-L", tmux.socket, "attach", "-t", "app"]
    env = {**os.environ, "TERM": "xterm-256color"}  # the outer terminal has 256 colours
    with PtyTerminal(client, profile, env=env, keep_output=True) as term:
        deadline = time.monotonic() + 30
        while not detected.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        term.wait_quiet(quiet=1.5, timeout=20, after=0)
        if key is not None:
            mark = term.mark()
            tmux.keys(key)
            term.wait_quiet(quiet=1.5, timeout=20, after=mark)
        outer = bytes(term.output)
    return detected.read_text(), piped.read_bytes(), outer


def test_kitty_graphics_pass_through_tmux_in_placeholder_cells(tmux: Tmux, tmp_path: Path) -> None:
    detected, pane, outer = run_in_tmux(tmux, tmp_path, "on")
    assert detected == "kitty passthrough=True kitty=True"
    # The app wraps every command for tmux (ESC doubled inside DCS tmux; ... ST) ...
    assert b"\x1bPtmux;\x1b\x1b_Ga=t,f=100,i=" in pane and b"\x1bPtmux;\x1b\x1b_Ga=p,U=1," in pane
    assert b"\x1b_Ga=t" not in pane.replace(b"\x1b\x1b_G", b"")  # nothing unwrapped
    # ... and the outer terminal gets them as plain kitty commands: tmux unwrapped them.
    transmitted = re.search(rb"\x1b_Ga=t,f=100,i=(\d+),", outer)
    assert transmitted is not None and b"\x1b_Ga=p,U=1,i=" + transmitted.group(1) in outer
    # The cells are placeholders tmux draws as text, their colour the image id as a palette index (the app
    # runs with COLORTERM=truecolor: a 24-bit id would not survive tmux).
    placeholder = PLACEHOLDER.encode()
    assert outer.count(placeholder) >= 100 * 20 // 2
    assert re.search(rb"38;5;" + transmitted.group(1) + rb"m" + placeholder, outer)


def test_without_passthrough_tmux_gets_half_blocks(tmux: Tmux, tmp_path: Path) -> None:
    detected, pane, outer = run_in_tmux(tmux, tmp_path, "off")
    assert detected == "halfblock passthrough=False kitty=False"
    assert b"\x1b_Ga=" not in pane and PLACEHOLDER.encode() not in outer  # no image, no placeholders
    assert b"8;2;206;206;206" in pane  # the grey frame (200 -> 5 bits -> 206) as half-block cells


def image_bytes(pane: bytes) -> dict[bytes, int]:
    """Base64 bytes per kitty image command in the app's output (tmux-wrapped: ESC doubled), by the keys
    of its first chunk (a=t,... for a whole image, a=f,... for an edit)."""
    sizes: dict[bytes, int] = {}
    first = b""
    for keys, payload in re.findall(rb"\x1b\x1b_G([^;\x1b]*);([A-Za-z0-9+/=]*)\x1b\x1b\\", pane):
        if b"f=100" in keys.split(b","):
            first = keys
        if first:  # not the detection's query
            sizes[first] = sizes.get(first, 0) + len(payload)
    return sizes


def test_a_click_through_tmux_sends_only_the_changed_part_of_the_kitty_image(
    tmux: Tmux, tmp_path: Path
) -> None:
    detected, pane, outer = run_in_tmux(tmux, tmp_path, "on", key="c")
    assert detected.startswith("kitty ")
    # The mask is an edit of the image on screen (a=f: its root frame, r=1, pixels replaced), wrapped for tmux
    # like the rest, after the one transmission of the whole image.
    [(whole, whole_size), (edit, edit_size)] = image_bytes(pane).items()
    assert whole.startswith(b"a=t,f=100,i=") and edit.startswith(b"a=f,f=100,i=")
    image = re.search(rb"i=(\d+)", whole)
    assert image is not None and b",i=" + image.group(1) + b",r=1," in edit and b",X=1," in edit
    assert pane.count(b"\x1bPtmux;\x1b\x1b_Ga=f,") == 1 and pane.count(b"_Ga=t,") == 1
    assert edit_size < whole_size / 10
    assert b"\x1b_G" + edit in outer  # unwrapped by tmux for the outer terminal
