"""What a person sees of the overlays in a real terminal: the app in tmux (tests/tmux_driver.py), and in the
pty harness (benchmarks/pty_terminal.py) for what tmux cannot show.

The screen comes back with its colours (`capture-pane -e`) and is read as half-block cells, two pixels each:
a point is its object's colour in the one cell it falls in, the selected object's contour is lighter than
the others', the other objects' marks are dimmed; mask contours in sextant (tmux) or octant (pty) glyphs.
The app runs with the scripted tracker (a disc of 10 video pixels around the clicked point).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.app_terminal import drawn_colours
from benchmarks.pty_terminal import PtyTerminal, TerminalProfile
from sam2tui.tui.compose import MARK_EDGE
from sam2tui.tui.render.halfblock import BLANK, FULL, LOWER, QUANT_BITS, UPPER
from sam2tui.tui.termcaps import TermCaps
from sam2tui.values import Color
from tests.fixtures_tui import WIDE_CLIP, write_clip_folder
from tests.test_tmux import sam2tui_command
from tests.tmux_driver import Tmux, needs_tmux

MAGENTA, CYAN = (255, 0, 255), (0, 255, 255)  # the palette of the tests' settings: in no frame of the clip
FIRST, SECOND = (30, 14), (50, 14)  # cells on the picture (the canvas is the 72 columns left of the panel)
OCTANTS, SEXTANTS = range(0x1CD00, 0x1CDE6), range(0x1FB00, 0x1FB3C)
HALF_BLOCKS = {BLANK, UPPER, LOWER, FULL}
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def quantised(colour: Color) -> Color:
    """`colour` as the half-block painter sends it (5 bits per channel, expanded back)."""
    shift = 8 - QUANT_BITS
    r, g, b = ((c >> shift << shift) | (c >> shift >> (QUANT_BITS - shift)) for c in colour)
    return (r, g, b)


def marks(grid: list[list[Cell]], colour: Color) -> list[tuple[int, int]]:
    """(row, column) of the positive point marks of `colour`: a cell wholly of it with a dark edge left and
    right (the result boxes are drawn in the object's colour too)."""
    return [
        (y, x)
        for y, row in enumerate(grid)
        for x in range(1, len(row) - 1)
        if row[x].pixels == (colour, colour)
        and MARK_EDGE in row[x - 1].pixels
        and MARK_EDGE in row[x + 1].pixels
    ]


@dataclass(frozen=True)
class Cell:
    glyph: str
    fg: Color | None
    bg: Color | None

    @property
    def pixels(self) -> tuple[Color | None, Color | None]:
        """(upper, lower) colour of a half-block cell."""
        return {
            UPPER: (self.fg, self.bg),
            LOWER: (self.bg, self.fg),
            FULL: (self.fg, self.fg),
            BLANK: (self.bg, self.bg),
        }.get(self.glyph, (None, None))


def cells(captured: str) -> list[list[Cell]]:
    """`capture-pane -e -p` output as rows of cells (24-bit colours only; others read as None)."""
    rows = []
    for line in captured.splitlines():
        fg: Color | None = None
        bg: Color | None = None
        row: list[Cell] = []
        pos = 0
        for match in [*SGR.finditer(line), None]:
            end = match.start() if match is not None else len(line)
            row.extend(Cell(glyph, fg, bg) for glyph in line[pos:end])
            if match is None:
                break
            pos = match.end()
            codes = [int(code) for code in match.group(1).split(";") if code] or [0]
            while codes:
                code = codes.pop(0)
                if code in (38, 48) and codes[:1] == [2]:
                    colour = (codes[1], codes[2], codes[3])
                    del codes[:4]
                    fg, bg = (colour, bg) if code == 38 else (fg, colour)
                elif code in (38, 48) and codes[:1] == [5]:
                    del codes[:2]
                    fg, bg = (None, bg) if code == 38 else (fg, None)
                elif code in (0, 39, 49):
                    fg = None if code in (0, 39) else fg
                    bg = None if code in (0, 49) else bg
        rows.append(row)
    return rows


def pixels_of(grid: list[list[Cell]]) -> list[Color | None]:
    return [pixel for row in grid for cell in row for pixel in cell.pixels]


def start_app(tmux: Tmux, tmp_path: Path, render: str) -> None:
    clip = write_clip_folder(tmp_path / "clip", size=WIDE_CLIP)
    config = Path(os.environ["SAM2TUI_CONFIG_DIR"])  # the hermetic one (tests/conftest.py)
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(
        'palette = ["#{:02x}{:02x}{:02x}", "#{:02x}{:02x}{:02x}"]\n'.format(*MAGENTA, *CYAN)
    )
    command = " ".join([*sam2tui_command(), str(clip), "--render", render])
    tmux.start(f"{command}; sleep 60", SAM2TUI_TEST_TRACKER="tests.scripted_tracker:make_tracker")
    tmux.wait_screen(lambda s: "ready on cpu" in s, "the model to be ready")


def captured(tmux: Tmux) -> list[list[Cell]]:
    """The canvas's cells: left of the objects panel (whose colour swatches are not marks)."""
    grid = cells(tmux("capture-pane", "-e", "-p", "-t", "app"))
    top = "".join(cell.glyph for cell in grid[0])
    border = top.index("╭") if "╭" in top else len(top)
    return [row[:border] for row in grid]


def wait_cells(tmux: Tmux, check: Callable[[list[list[Cell]]], bool], what: str) -> list[list[Cell]]:
    deadline = time.monotonic() + 20
    while not check(grid := captured(tmux)):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{tmux.screen()}")
        time.sleep(0.1)
    return grid


def test_octant_edges_become_sextants_inside_tmux() -> None:
    # tmux 3.3a drops the Unicode 16 octants (its wcwidth does not know them) and shifts the rest of the row.
    choice = TermCaps(is_tty=True, answered=True, tmux=True).renderer_choice("octant", env={})
    assert choice.renderer == "sextant" and "tmux drops octant glyphs" in choice.reason
    assert TermCaps(is_tty=True, answered=True).renderer_choice("octant", env={}).renderer == "octant"


@pytest.mark.tmux
@needs_tmux
def test_marks_contours_and_the_emphasis_of_the_selected_object_in_tmux(tmux: Tmux, tmp_path: Path) -> None:
    start_app(tmux, tmp_path, "halfblock")
    tmux.click(*FIRST)
    tmux.wait_screen(lambda s: "1: object 1" in s, "object 1 after the click")
    contour = quantised(drawn_colours(MAGENTA, selected=True)[0])
    grid = wait_cells(tmux, lambda g: contour in pixels_of(g), "object 1's contour")
    # The point: one cell exactly its object's colour (the layout changed with the first object: found by
    # colour), in a dark edge (the cells left and right of it). The selected mask's contour: lighter.
    [(_, x1)] = marks(grid, quantised(MAGENTA))
    assert pixels_of(grid).count(contour) >= 5

    tmux.keys("n")  # a new object, selected
    tmux.wait_screen(lambda s: "New object" in s, "the new object dialog")
    tmux.keys("Enter")
    tmux.wait_screen(lambda s: "New object" not in s, "the dialog to close")
    tmux.click(*SECOND)
    tmux.wait_screen(lambda s: "2: object 2" in s, "object 2 after the click")
    contour2 = quantised(drawn_colours(CYAN, selected=True)[0])
    grid = wait_cells(tmux, lambda g: contour2 in pixels_of(g), "object 2's contour")
    # Object 2 is selected: its point and lighter contour. Object 1: its contour in its own colour, not
    # lighter, and its point dimmed (greyer).
    seen = pixels_of(grid)
    [(y2, x2)] = marks(grid, quantised(CYAN))
    assert seen.count(contour2) >= 5 and contour not in seen
    assert seen.count(quantised(drawn_colours(MAGENTA, selected=False)[0])) >= 5
    dimmed = quantised(drawn_colours(MAGENTA, selected=False)[1])
    assert dimmed != quantised(MAGENTA) and len(marks(grid, dimmed)) == 1
    assert not marks(grid, quantised(MAGENTA))

    # A negative point: dark in its cell, in a ring of its object's colour (the cells beside it). The layout
    # stays as it is now (two objects).
    nx, ny = (x1 + x2) // 2, y2  # between the two masks
    tmux.click(nx, ny, button=2)  # SGR button 2: right
    grid = wait_cells(tmux, lambda g: g[ny][nx].pixels == (MARK_EDGE, MARK_EDGE), "the negative mark")
    assert grid[ny][nx - 1].pixels == (quantised(CYAN),) * 2 == grid[ny][nx + 1].pixels


@pytest.mark.tmux
@needs_tmux
def test_mask_edges_in_sextants_inside_tmux_and_half_blocks_elsewhere(tmux: Tmux, tmp_path: Path) -> None:
    start_app(tmux, tmp_path, "octant")  # inside tmux: sextants (see above)
    tmux.wait_screen(lambda s: "sextant 24-bit" in s, "the status bar naming sextant")
    tmux.click(*FIRST)
    screen = tmux.wait_screen(
        lambda s: "1: object 1" in s and sum(ord(c) in SEXTANTS for c in s) >= 6, "sextants on the contour"
    )
    lines = screen.splitlines()
    border = lines[0].index("╭")  # the objects panel's top-left corner, right of the canvas
    end = next(y for y, line in enumerate(lines) if "▼" in line)  # the timeline, below the canvas
    finer = [(y, x) for y, line in enumerate(lines) for x, c in enumerate(line) if ord(c) in SEXTANTS]
    assert len(finer) >= 6
    assert all(abs(x - FIRST[0]) <= 8 and abs(y - FIRST[1]) <= 4 for y, x in finer)  # around the mask
    # Every row keeps its width: the panel's border stays in its column (a dropped glyph would shift it).
    assert [line[border : border + 1] for line in lines[1:end]] == ["│"] * (end - 1), screen
    picture = [line[:border] for line in lines[:end]]
    others = {c for line in picture for c in line if c not in HALF_BLOCKS and ord(c) not in SEXTANTS}
    assert others <= {"▌", "▐"}, others  # the two sextants that older characters draw


def test_mask_edges_in_octants_in_a_terminal_that_has_them(tmp_path: Path) -> None:
    """Outside tmux the glyphs reach the terminal as they are: the pty harness reads them back."""
    clip = write_clip_folder(tmp_path / "clip", size=WIDE_CLIP)
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.update(
        TERM="xterm-256color",
        COLORTERM="truecolor",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        SAM2TUI_TEST_TRACKER="tests.scripted_tracker:make_tracker",
    )
    argv = [*sam2tui_command(), str(clip), "--render", "octant"]
    with PtyTerminal(argv, TerminalProfile(cols=100, rows=32), env=env, keep_output=True) as term:
        assert term.wait_for_text("ready on cpu", timeout=60)
        assert term.wait_for_text("octant 24-bit")
        term.click(*FIRST)
        assert term.wait_for_text("1: object 1")
        term.wait_quiet(quiet=0.5)
        lines = term.screen().lines()
    finer = [(y, x) for y, line in enumerate(lines) for x, c in enumerate(line) if ord(c) in OCTANTS]
    assert len(finer) >= 6
    assert all(abs(x - FIRST[0]) <= 8 and abs(y - FIRST[1]) <= 4 for y, x in finer)
