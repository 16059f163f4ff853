"""The real app - the `sam2tui VIDEO` console script - in the fake terminal of benchmarks/pty_terminal.py.

Same terminal as benchmarks/terminal.py (160x48 cells of 10x20 px, COLORTERM=truecolor) on the same 1280x720
clip (../shared/data/cups/02_cups.mp4, else one generated into the temporary folder), with hermetic config,
data, state and cache folders and a fresh session file per run, all in a temporary folder. The tracker is
the scripted one of tests/ behind the testing hook (`bench_tracker` below), except in the last measurement.

1. start: process spawn to the end of the first screen update that holds the frame's half blocks, with the
   model still loading (the scripted tracker takes LOAD_DELAY s to "load"); and the same with the real SAM 2
   tiny model loading (torch is imported on the engine thread meanwhile);
2. click to mask: an SGR left click on the picture to the end of the update that draws the mask (the
   scripted tracker answers at once: this is the app's own latency: event, session write, engine thread,
   compose, then the half blocks, the octant glyphs, or the sharp image's update), and the bytes a click
   costs. The mask is recognised by what compose.py draws for it (its contour's colour, read back from
   compose() itself), as each renderer sends it;
3. frames/s with `right` held at 30 Hz and KB per frame step: half-block, octant edges, Sixel and kitty (the
   sharp image comes once the frame is still); the baseline is the canvas alone (benchmarks/terminal.py,
   same run);
4. detection over a slow link: every terminal reply 300 ms late (`--render` left to auto). The app must pick
   Sixel, keep showing frame 0 and end up with exactly the screen it shows with instant replies (a late
   reply taken for keys would step a frame, open help, toggle a layer...), then step on `right`;
5. frames/s with `right` held while the real SAM 2 engine (tiny, random weights, 256 px, CPU) propagates on
   its worker thread, against the same with no propagation: docs/architecture.md ("The engine worker") asks for it to choose
   between that thread and a process.

    python -m benchmarks.app_terminal [--quick]      # prints the figures (no canvas baselines)
"""

from __future__ import annotations

import argparse
import base64
import io
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.pty_terminal import SYNC_END, PtyTerminal, ScreenText, TerminalProfile
from benchmarks.terminal import CELL, CLIP, COLS, ROOT, ROWS, bench_row, held_script, run_in_pty, step_script
from sam2tui.tui.render.blocks import OCTANTS
from sam2tui.values import Color

HOOK = "benchmarks.app_terminal:bench_tracker"  # SAM2TUI_TEST_TRACKER value
LOAD_DELAY_ENV = "BENCH_LOAD_DELAY"
LOAD_DELAY = 3.0  # seconds the scripted model "loads": the first frame must not wait for it
MASK_RADIUS = 60  # video pixels: the scripted mask is a disk this big around the clicked point
OBJECT_COLOUR: Color = (255, 0, 255)  # object 1's colour (settings.toml palette), in no frame of the clip
CLICK_CELL = (66, 20)  # the middle of the picture (the canvas is the 132 columns left of the objects panel)
FRAME_GLYPHS = 400  # an update with this many half-block cells draws a frame (status, timeline: none)
GENERATED_FRAMES = 90  # frames of the clip made when the cups clip is absent
SLOW_REPLY = 0.3  # seconds: an SSH round trip
FIRST_FRAME_TARGET = "<= 1500"
FRAME_NUMBER = re.compile(r"frame (\d+)/\d+")
PROPAGATING = re.compile(r"propagating (\d+)/\d+ frames")
SIXEL_IMAGE = re.compile(rb"\x1bP[0-9;]*q")
SIXEL_BODY = re.compile(rb"\x1bP[0-9;]*q(.*?)\x1b\\", re.S)
SIXEL_REGISTER = re.compile(rb"#\d+;2;(\d+);(\d+);(\d+)")  # a colour register, RGB in percent
WHOLE_IMAGE = re.compile(rb"\x1bP[0-9;]*q|\x1b_Ga=t,")  # a Sixel image, or a kitty transmission
KITTY_COMMAND = re.compile(rb"\x1b_G([^;\x1b]*);?([^\x1b]*)\x1b\\")  # keys; payload
PALETTE_TOLERANCE = 12  # per channel (0..255): the Sixel and kitty images are quantised to 256 colours
# The octant glyphs outside the BMP (U+1CD00.., U+1CEA0.., U+1FB82..): the UI's own borders and bars use only
# BMP block characters, so these are the mask contour of `--render octant`.
OCTANT_GLYPH = re.compile(b"|".join(re.escape(g.encode()) for g in sorted(set(OCTANTS)) if ord(g) > 0xFFFF))
HALF_BLOCKS = ("▀".encode(), "▄".encode())
CANVAS_ALONE = "FrameCanvas alone (benchmark app)"
SHARP = ("sixel", "kitty")  # the sharp renderers measured in the app


# -- inside the app: the testing hook's tracker ------------------------------------------------------------------


def bench_tracker(_spec: object = None, progress: Callable[[str, float | None], None] | None = None) -> Any:
    """The scripted tracker of tests/ with a load time (env BENCH_LOAD_DELAY, seconds) and a quick mask.

    Called by the app on its engine thread (SAM2TUI_TEST_TRACKER=benchmarks.app_terminal:bench_tracker).
    Its masks are disks of MASK_RADIUS px computed in their bounding box: the tests' version fills a
    full-frame grid (10-80 ms at 1280x720), which would be counted as the app's latency.
    """
    import os

    import numpy as np

    from sam2tui.values import POSITIVE, FramePrompt
    from tests.scripted_tracker import ScriptedTracker, folded

    delay = float(os.environ.get(LOAD_DELAY_ENV) or 0)
    if delay:
        if progress is not None:
            progress("loading the benchmark's scripted model", None)
        time.sleep(delay)

    class QuickDiskTracker(ScriptedTracker):
        def mask(self, prompt: FramePrompt, offset: int) -> np.ndarray:
            box, points, labels = folded(prompt)
            if box is not None or any(label != POSITIVE for label in labels):
                return super().mask(prompt, offset)
            height, width = self.size
            cx = float(np.mean([p[0] for p in points])) + self.drift[0] * offset
            cy = float(np.mean([p[1] for p in points])) + self.drift[1] * offset
            r = self.radius
            x0, x1 = max(0, int(cx - r)), min(width, int(cx + r) + 2)
            y0, y1 = max(0, int(cy - r)), min(height, int(cy + r) + 2)
            mask = np.zeros((height, width), dtype=bool)
            if x0 < x1 and y0 < y1:
                ys, xs = np.ogrid[y0:y1, x0:x1]
                mask[y0:y1, x0:x1] = (xs - cx) ** 2 + (ys - cy) ** 2 <= r**2
            return mask

    return QuickDiskTracker(radius=MASK_RADIUS)


# -- the harness ------------------------------------------------------------------------------------------------


def sam2tui_argv() -> list[str]:
    """The console script beside this Python (the installed app), else `python -m sam2tui`."""
    script = Path(sys.executable).with_name("sam2tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sam2tui"]


def drawn_colours(colour: Color = OBJECT_COLOUR, selected: bool = True) -> tuple[Color, Color]:
    """What compose.py draws for an object of `colour` while an object is selected (this one, as after a
    click, or another): its mask's contour and its positive point's mark. Composed by compose() itself on a
    black frame and read back, so the markers below follow the app's drawing (tests/ use it too)."""
    from sam2tui.masks import encode
    from sam2tui.tui.compose import MaskLayer, Overlay, PointLayer, compose
    from sam2tui.tui.viewport import Viewport

    size, lo, hi, point = 64, 16, 48, 8
    mask = np.zeros((size, size), bool)
    mask[lo:hi, lo:hi] = True
    other = PointLayer(60, 60, True, (1, 2, 3), selected=not selected)  # the selected one, when not this
    overlay = Overlay(
        masks=(MaskLayer(1, encode(mask), colour, selected),),
        points=(PointLayer(point, point, True, colour, selected), other),
    )
    black = np.zeros((size, size, 3), np.uint8)
    picture = compose(black, overlay, Viewport(size, size, size, size), size, size)
    (r, g, b), (mr, mg, mb) = (
        picture[lo, lo].tolist(),
        picture[point, point].tolist(),
    )  # a mask corner: contour
    return (r, g, b), (mr, mg, mb)


def sgr_marker(colour: Color) -> re.Pattern[bytes]:
    """The SGR code of `colour` in text cells (as the foreground or background of a cell), quantised as the
    half-block painter does."""
    from sam2tui.tui.render.halfblock import QUANT_BITS

    shift = 8 - QUANT_BITS
    parts = [(c >> shift << shift) | (c >> shift >> (QUANT_BITS - shift)) for c in colour]
    return re.compile(rb"[34]8;2;" + ";".join(map(str, parts)).encode() + rb"[;m]")


def _near(colours: np.ndarray, colour: Color) -> bool:
    """Whether any of `colours` (Nx3, 0..255) is `colour` but for the sharp encoders' palette quantisation."""
    return bool((np.abs(colours.astype(np.int32) - colour).max(axis=-1) <= PALETTE_TOLERANCE).any())


def sixel_has(update: bytes, colour: Color) -> bool:
    """Whether a Sixel image in `update` defines `colour` among its colour registers (RGB in percent)."""
    for image in SIXEL_BODY.findall(update):
        registers = np.array([list(map(int, r)) for r in SIXEL_REGISTER.findall(image)], np.float64)
        if registers.size and _near(np.rint(registers.reshape(-1, 3) * 255 / 100), colour):
            return True
    return False


def kitty_has(update: bytes, colour: Color) -> bool:
    """Whether a kitty image or image edit (PNG, in base64 chunks) in `update` has pixels of `colour`."""
    from PIL import Image

    pngs: list[bytes] = []
    for keys, payload in KITTY_COMMAND.findall(update):
        if b"f=100" in keys.split(b","):  # the first chunk of a PNG (a=t, or a=f for an edit)
            pngs.append(b"")
        if pngs:
            pngs[-1] += payload
    for data in pngs:
        with Image.open(io.BytesIO(base64.standard_b64decode(data))) as png:
            if _near(np.asarray(png.convert("RGB")).reshape(-1, 3), colour):
                return True
    return False


def drawn_in(renderer: str, colour: Color, octants: bool = False) -> Callable[[bytes], bool]:
    """Whether a screen update shows `colour` as `renderer` sends it: in text cells (all renderers: the sharp
    ones show half blocks until the picture is still, and again after a relayout), in the Sixel or kitty
    image or image update; with `octants`, also octant glyphs (a mask's contour in octant mode, whose cells
    average the contour with the fill)."""
    sgr = sgr_marker(colour)

    def wanted(update: bytes) -> bool:
        if sgr.search(update) is not None or (octants and OCTANT_GLYPH.search(update) is not None):
            return True
        if renderer == "sixel":
            return sixel_has(update, colour)
        if renderer == "kitty":
            return kitty_has(update, colour)
        return False

    return wanted


def is_frame(update: bytes) -> bool:
    return sum(update.count(glyph) for glyph in HALF_BLOCKS) >= FRAME_GLYPHS


def count_frames(output: bytes) -> int:
    """Screen updates that draw a frame: the app also sends updates of the status bar alone."""
    return sum(is_frame(update) for update in output.split(SYNC_END))


class Workspace:
    """A temporary folder: the clip (unless the cups clip exists), settings and a session per run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clip = CLIP if CLIP.exists() else self._generate_clip()
        self._runs = 0
        config = root / "config"
        config.mkdir()
        (config / "settings.toml").write_text('palette = ["#{:02x}{:02x}{:02x}"]\n'.format(*OBJECT_COLOUR))

    def _generate_clip(self) -> Path:
        from tests.clipgen import make_clip

        path = self.root / "clip.mp4"
        make_clip(path, frames=GENERATED_FRAMES, size=(1280, 720))
        return path

    def argv(self, *options: str) -> list[str]:
        """The app on the clip with a new session file."""
        self._runs += 1
        session = self.root / f"run{self._runs}.sam2tui"
        return [*sam2tui_argv(), str(self.clip), "--session", str(session), *options]

    def env(self, scripted: bool = True, load_delay: float = 0.0) -> dict[str, str]:
        env = {
            f"SAM2TUI_{name}_DIR": str(self.root / name.lower())
            for name in ("CONFIG", "DATA", "STATE", "CACHE")
        }
        if scripted:
            env.update({"SAM2TUI_TEST_TRACKER": HOOK, LOAD_DELAY_ENV: str(load_delay)})
        return env

    def checkpoint(self) -> Path:
        """A random-weights SAM 2.1 tiny checkpoint (built in a child process: torch stays out of this one)."""
        path = self.root / "random_tiny.pt"
        code = (
            "import sys; from pathlib import Path; from sam2tui.engine.checkpoints import MODELS; "
            "from tests.fixtures_engine import TINY, build_random_checkpoint; "
            "build_random_checkpoint(MODELS[TINY].config, Path(sys.argv[1]))"
        )
        subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, check=True, timeout=300)
        return path


def profile(sixel: bool = False, kitty: bool = False, reply_delay: float = 0.0) -> TerminalProfile:
    return TerminalProfile(cols=COLS, rows=ROWS, cell=CELL, sixel=sixel, kitty=kitty, reply_delay=reply_delay)


def wait_for_update(
    term: PtyTerminal, mark: int, wanted: Callable[[bytes], bool], timeout: float = 5.0
) -> float:
    """When the first update after chunk `mark` that is `wanted` had arrived."""
    deadline = time.monotonic() + timeout
    checked = 0  # updates already looked at (complete ones do not change; decoding images is not free)
    while time.monotonic() < deadline:
        updates = term.updates_since(mark)
        found = next((at for at, update in updates[checked:] if wanted(update)), None)
        if found is not None:
            return found
        checked = len(updates)
        time.sleep(0.005)
    raise RuntimeError("the expected screen update never came")


def wait_for_output(term: PtyTerminal, mark: int, pattern: re.Pattern[bytes], timeout: float) -> None:
    """Wait until the output after chunk `mark` holds `pattern` (however busy the machine is)."""
    deadline = time.monotonic() + timeout
    while pattern.search(term.output_since(mark)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {pattern.pattern!r} within {timeout} s")
        time.sleep(0.02)


def first_frame(term: PtyTerminal) -> tuple[float, ScreenText]:
    """Seconds from spawn to the end of the first update with a frame, and the screen then."""
    screen = ScreenText(COLS, ROWS)
    assert term.started is not None
    for at, update in term.updates_since(0):
        screen.feed(update)
        if is_frame(update):
            return at - term.started, screen
    raise RuntimeError("the app drew no frame")


def start_script(term: PtyTerminal) -> dict[str, float]:
    seconds, screen = first_frame(term)
    return {"first_frame_ms": seconds * 1000, "loading": float(screen.find("ready on") is None)}


def click_script(clicks: int, renderer: str, quiet: float = 0.3) -> Callable[[PtyTerminal], dict[str, float]]:
    """Step to a frame without prompts, click the middle of the picture, wait for the mask; `clicks` times
    after a first click (which also makes object 1 and changes the layout, so it is reported apart).
    The mask is there when an update shows its contour's colour (`drawn_colours`) as `renderer` sends it
    (`drawn_in`: half blocks, octant glyphs, the sharp image or its update), the point when one shows the
    mark's colour. `quiet`: how long the terminal must be quiet before and after each click (the sharp
    renderers: the image too)."""

    def script(term: PtyTerminal) -> dict[str, float]:
        contour, mark_colour = drawn_colours()
        mask = drawn_in(renderer, contour, octants=renderer == "octant")
        point = drawn_in(renderer, mark_colour)
        masks, points, sizes = [], [], []
        for _ in range(clicks + 1):
            mark = term.mark()
            term.key("right")
            if renderer in SHARP:  # a click before the image is on screen would be answered by a whole image
                wait_for_output(term, mark, WHOLE_IMAGE, timeout=30)
            term.wait_quiet(quiet=quiet, after=mark)
            mark = term.mark()
            sent = time.monotonic()
            term.click(*CLICK_CELL)
            masks.append(wait_for_update(term, mark, mask) - sent)
            points.append(wait_for_update(term, mark, point) - sent)
            term.wait_quiet(quiet=quiet)
            sizes.append(term.bytes_since(mark))
        return {
            "click_mask_ms": statistics.median(masks[1:]) * 1000,
            "click_point_ms": statistics.median(points[1:]) * 1000,
            "kb_per_click": statistics.median(sizes[1:]) / 1000,
            "first_click_mask_ms": masks[0] * 1000,
            "clicks": clicks,
        }

    return script


def scrub_script(
    renderer: str, steps: int, holds: int, seconds: float, quiet: float, clicks: int = 0
) -> Callable[[PtyTerminal], dict[str, float]]:
    """Frame steps, then holds of `right` from frame 0, then (optionally) clicks, in the app run with
    `--render renderer`."""

    def script(term: PtyTerminal) -> dict[str, float]:
        result = step_script(steps, quiet)(term)
        held = []
        for _ in range(holds):
            term.key("home")
            term.wait_quiet(quiet=quiet)
            held.append(held_script(seconds, count=count_frames)(term))
        result.update({key: statistics.median(h[key] for h in held) for key in held[0]})
        if clicks:
            result.update(click_script(clicks, renderer, quiet)(term))
        return result

    return script


def detection_script(term: PtyTerminal) -> dict[str, Any]:
    """What the app showed from its start until quiet (run_in_pty waited for it), then after `right`."""
    seconds, _ = first_frame(term)
    frames_seen: set[int] = set()
    replay = ScreenText(COLS, ROWS)
    for _, update in term.updates_since(0):
        replay.feed(update)
        frames_seen.update(int(n) for line in replay.lines() for n in FRAME_NUMBER.findall(line))
    lines = replay.lines()
    images = len(SIXEL_IMAGE.findall(term.output_since(0)))
    mark = term.mark()
    term.key("right")
    term.wait_quiet(quiet=1.0, after=mark)
    return {
        "first_frame_ms": seconds * 1000,
        "frames_seen": sorted(frames_seen),
        "sixel_named": any("sixel" in line for line in lines),
        "sixel_images": images,
        "lines": lines,
        "stepped": term.screen().find("frame 1/") is not None,
    }


def propagation_done(term: PtyTerminal) -> tuple[int, float]:
    """Frames the running propagation has done (status bar), and when that was read."""
    for line in term.screen().lines():
        if found := PROPAGATING.search(line):
            return int(found.group(1)), time.monotonic()
    raise RuntimeError("no propagation is running")


def engine_script(holds: int, seconds: float) -> Callable[[PtyTerminal], dict[str, float]]:
    """With SAM 2 loaded and one click made: `p`, watch the engine alone for `seconds`, hold `right`, escape,
    then hold `right` with nothing running; `holds` times (from frame 0 each time)."""

    def script(term: PtyTerminal) -> dict[str, float]:
        started, _ = first_frame(term)
        if not term.wait_for_text("ready on", timeout=180):
            raise RuntimeError("the SAM 2 model did not load")
        term.wait_quiet(quiet=0.5)
        term.click(*CLICK_CELL)
        term.wait_quiet(quiet=0.5, timeout=30)
        busy, idle, alone, scrubbing = [], [], [], []
        for _ in range(holds):
            term.key("home")
            term.wait_quiet(quiet=0.3)
            term.key("p")
            if not term.wait_for_text("propagating", timeout=10):
                raise RuntimeError("the propagation did not start")
            time.sleep(0.3)
            d0, t0 = propagation_done(term)
            time.sleep(seconds)
            d1, t1 = propagation_done(term)
            busy.append(held_script(seconds, count=count_frames, settle=False)(term)["fps"])
            d2, t2 = propagation_done(term)
            alone.append((d1 - d0) / (t1 - t0))
            scrubbing.append((d2 - d1) / (t2 - t1))
            term.key("escape")
            if not term.wait_for_text("propagation cancelled", timeout=30):
                raise RuntimeError("the propagation did not stop")
            term.key("home")
            term.wait_quiet(quiet=0.5)
            idle.append(held_script(seconds, count=count_frames)(term)["fps"])
        return {
            "first_frame_ms": started * 1000,
            "fps_busy": statistics.median(busy),
            "fps_idle": statistics.median(idle),
            "engine_fps_alone": statistics.median(alone),
            "engine_fps_scrubbing": statistics.median(scrubbing),
        }

    return script


# -- the measurements -------------------------------------------------------------------------------------------


def measure_starts(
    ws: Workspace, checkpoint: Path, repeats: int, sam2_repeats: int
) -> dict[str, list[float]]:
    """Interleaved: the scripted model loading for LOAD_DELAY s, and SAM 2 loading (quit while it loads)."""
    scripted, loading, sam2 = [], [], []
    sam2_options = ("--checkpoint", str(checkpoint), "--model", "sam2.1-tiny", "--image-size", "256")
    for n in range(repeats):
        argv = ws.argv("--render", "halfblock")
        run = run_in_pty(argv, COLS, ROWS, start_script, profile(), ws.env(load_delay=LOAD_DELAY))
        scripted.append(run["first_frame_ms"])
        loading.append(run["loading"])
        if n < sam2_repeats:
            argv = ws.argv("--render", "halfblock", "--device", "cpu", *sam2_options)
            run = run_in_pty(argv, COLS, ROWS, start_script, profile(), ws.env(scripted=False))
            sam2.append(run["first_frame_ms"])
    return {"scripted": scripted, "loading": loading, "sam2": sam2}


def measure_detection(ws: Workspace, repeats: int) -> dict[str, Any]:
    """Interleaved: instant and SLOW_REPLY replies, `--render` left to auto on a Sixel terminal."""
    runs: dict[float, list[dict[str, Any]]] = {0.0: [], SLOW_REPLY: []}
    for _ in range(repeats):
        for delay in runs:
            term_profile = profile(sixel=True, reply_delay=delay)
            runs[delay].append(run_in_pty(ws.argv(), COLS, ROWS, detection_script, term_profile, ws.env()))
    reference = runs[0.0][0]["lines"]
    failures: list[str] = []
    for run in runs[SLOW_REPLY]:
        checks = {
            "the status bar names sixel": run["sixel_named"],
            "a Sixel image was sent": run["sixel_images"] > 0,
            "the status bar showed frame 0 only": run["frames_seen"] == [0],
            "the screen is the one of instant replies": run["lines"] == reference,
            "right then stepped to frame 1": run["stepped"],
        }
        failures.extend(name for name, ok in checks.items() if not ok)
    return {
        "instant_ms": statistics.median(r["first_frame_ms"] for r in runs[0.0]),
        "slow_ms": statistics.median(r["first_frame_ms"] for r in runs[SLOW_REPLY]),
        "failures": failures,
        "runs": len(runs[SLOW_REPLY]),
    }


def measure_app(quick: bool = False) -> dict[str, Any]:
    """Every figure of the real app (see the module docstring)."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sam2tui-bench-app-") as folder:
        ws = Workspace(Path(folder))
        checkpoint = ws.checkpoint()
        # The engine run below starts the same way: its start is one more SAM 2 sample.
        results["start"] = measure_starts(ws, checkpoint, 1 if quick else 3, 0 if quick else 2)
        steps, holds, seconds = (3, 1, 1.0) if quick else (10, 3, 2.0)
        clicks = 2 if quick else 5
        for renderer, renderer_clicks in (("halfblock", clicks), ("octant", max(1, clicks // 2))):
            scrub = scrub_script(renderer, steps, holds, seconds, quiet=0.3, clicks=renderer_clicks)
            results[renderer] = run_in_pty(
                ws.argv("--render", renderer), COLS, ROWS, scrub, profile(), ws.env()
            )
        for renderer in SHARP:
            sharp = scrub_script(
                renderer, max(3, steps // 2), holds, seconds, quiet=1.0, clicks=1 if quick else 3
            )
            term_profile = profile(sixel=renderer == "sixel", kitty=renderer == "kitty")
            results[renderer] = run_in_pty(
                ws.argv("--render", renderer), COLS, ROWS, sharp, term_profile, ws.env()
            )
        results["detection"] = measure_detection(ws, 1 if quick else 2)
        argv = ws.argv(
            "--render", "halfblock", "--checkpoint", str(checkpoint), "--model", "sam2.1-tiny",
            "--image-size", "256", "--device", "cpu",
        )  # fmt: skip
        engine = engine_script(1 if quick else 3, seconds)
        results["engine"] = run_in_pty(argv, COLS, ROWS, engine, profile(), ws.env(scripted=False))
        results["start"]["sam2"].append(results["engine"]["first_frame_ms"])
    return results


def sharp_rows(
    name: str, figures: Mapping[str, Any], alone: Callable[[str, str], float | None]
) -> list[dict[str, Any]]:
    """The rows of a sharp renderer in the app (`alone`: the canvas-alone figure of a renderer's metric)."""
    return [
        bench_row(
            f"app {name}: frames/s with the key held at 30 Hz",
            figures["fps"],
            "frames/s",
            ">= 20",
            alone(name, "fps"),
            CANVAS_ALONE,
            "half blocks while held",
        ),
        bench_row(
            f"app {name}: KB per frame step (half blocks, then the image)",
            figures["kb_per_step"],
            "KB",
            baseline=alone(name, "kb_per_step"),
            baseline_name=CANVAS_ALONE,
        ),
        bench_row(
            f"app {name}: {name} image KB, once still",
            figures["graphics_kb_per_step"],
            "KB",
            baseline=alone(name, "graphics_kb_per_step"),
            baseline_name=CANVAS_ALONE,
            note="sent once per still frame, 150 ms after the last change",
        ),
        bench_row(
            f"app {name}: KB written per click (until quiet)",
            figures["kb_per_click"],
            "KB",
            note=f"the image's changed part only (the point, then the mask); click to mask in the image "
            f"{figures['click_mask_ms']:.0f} ms; median of {figures['clicks']} clicks",
        ),
        bench_row(
            f"app {name}: key to last byte (the image)",
            figures["latency_ms"],
            "ms",
            baseline=alone(name, "latency_ms"),
            baseline_name=CANVAS_ALONE,
        ),
    ]


def rows_from(
    results: Mapping[str, Any], canvas: Mapping[str, Mapping[str, float]] | None
) -> list[dict[str, Any]]:
    """Rows for benchmarks/README.md; the canvas-alone figures of benchmarks/terminal.py are baselines."""
    canvas = canvas or {}

    def alone(renderer: str, metric: str) -> float | None:
        return canvas.get(renderer, {}).get(metric)

    start, half, octant = results["start"], results["halfblock"], results["octant"]
    detection, engine = results["detection"], results["engine"]
    loading = sum(start["loading"])
    spawn = "spawn of `sam2tui VIDEO --render halfblock` to the end of the first update with the frame"
    late = f"replies {SLOW_REPLY * 1000:.0f} ms late"
    failures = "; ".join(detection["failures"]) or (
        "none: Sixel chosen and sent, status bar frame 0 throughout, the same screen as with instant replies, "
        "then right stepped to frame 1"
    )
    return [
        bench_row(
            "app: start to first frame, model loading",
            statistics.median(start["scripted"]),
            "ms",
            FIRST_FRAME_TARGET,
            note=f"{spawn}; scripted tracker loading for {LOAD_DELAY:.0f} s (still loading at the first frame "
            f"in {loading:.0f} of {len(start['loading'])} runs); median of {len(start['scripted'])}",
        ),
        bench_row(
            "app: start to first frame, SAM 2 loading",
            statistics.median(start["sam2"]),
            "ms",
            FIRST_FRAME_TARGET,
            note=f"{spawn}; real engine (tiny, random weights, CPU) importing torch and building the model on "
            f"its thread meanwhile; median of {len(start['sam2'])}",
        ),
        bench_row(
            "app: click to mask drawn",
            half["click_mask_ms"],
            "ms",
            "<= 50",
            note=f"SGR left click to the end of the update drawing the mask (scripted tracker: answers at once); "
            f"the point mark {half['click_point_ms']:.0f} ms; first click (makes object 1, relayout) "
            f"{half['first_click_mask_ms']:.0f} ms; median of {half['clicks']} clicks",
        ),
        bench_row(
            "app: KB written per click (until quiet)",
            half["kb_per_click"],
            "KB",
            note="point mark, mask, objects panel and timeline",
        ),
        bench_row(
            "app halfblock: frames/s with the key held at 30 Hz",
            half["fps"],
            "frames/s",
            ">= 20",
            alone("halfblock", "fps"),
            CANVAS_ALONE,
            "frames = updates with the picture's half blocks (the status bar is updated apart)",
        ),
        bench_row(
            "app halfblock: KB per frame step (until quiet)",
            half["kb_per_step"],
            "KB",
            "<= 240",
            alone("halfblock", "kb_per_step"),
            CANVAS_ALONE,
            "canvas, status bar and timeline",
        ),
        bench_row(
            "app halfblock: key to last byte",
            half["latency_ms"],
            "ms",
            baseline=alone("halfblock", "latency_ms"),
            baseline_name=CANVAS_ALONE,
        ),
        bench_row(
            "app octant: frames/s with the key held at 30 Hz",
            octant["fps"],
            "frames/s",
            ">= 20",
            alone("octant", "fps"),
            CANVAS_ALONE,
            "octants on the mask's contour cells, half blocks elsewhere",
        ),
        bench_row(
            "app octant: KB per frame step (until quiet)",
            octant["kb_per_step"],
            "KB",
            "<= 240",
            alone("octant", "kb_per_step"),
            CANVAS_ALONE,
            "canvas, status bar and timeline",
        ),
        bench_row(
            "app octant: KB written per click (until quiet)",
            octant["kb_per_click"],
            "KB",
            note=f"click to mask (octant glyphs) {octant['click_mask_ms']:.0f} ms; median of "
            f"{octant['clicks']} clicks",
        ),
        *(row for name in SHARP for row in sharp_rows(name, results[name], alone)),
        bench_row(
            f"app, {late}: start to first frame",
            detection["slow_ms"],
            "ms",
            baseline=detection["instant_ms"],
            baseline_name="instant replies",
            note="`--render` auto on a terminal with Sixel; includes the wait for the DA1 reply",
        ),
        bench_row(
            f"app, {late}: failed checks",
            len(detection["failures"]),
            "checks",
            "<= 0",
            note=f"{detection['runs']} runs; failed: {failures}",
        ),
        bench_row(
            "app halfblock: frames/s held while SAM 2 propagates",
            engine["fps_busy"],
            "frames/s",
            ">= 20",
            engine["fps_idle"],
            "no propagation running",
            f"engine on its worker thread (tiny, random weights, 256 px, CPU) propagated "
            f"{engine['engine_fps_alone']:.1f} frames/s alone, {engine['engine_fps_scrubbing']:.1f} while "
            "the key was held",
        ),
    ]


def measure(
    quick: bool = False, canvas: Mapping[str, Mapping[str, float]] | None = None
) -> list[dict[str, Any]]:
    """The app's rows; `canvas`: benchmarks/terminal.py's per-renderer figures from the same run."""
    return rows_from(measure_app(quick), canvas)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_terminal")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = measure_app(args.quick)
    for name, figures in results.items():
        print(name, {k: v for k, v in figures.items() if k != "lines"}, flush=True)
    for row in rows_from(results, None):
        print(f"{row['metric']}: {row['ours']} {row['unit']} (baseline {row['baseline']}) {row['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
