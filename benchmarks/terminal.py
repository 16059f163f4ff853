"""What the frame canvas costs on the wire and how fast it scrubs, per renderer, in a fake terminal (pty).

A small app shows a 1280x720 clip (../shared/data/cups/02_cups.mp4, or generated frames) with a mask and two
points, full screen at 160x48 cells of 10x20 pixels; `right` steps a frame, `c` plays a click (a point more
and the mask grown, or back). For each renderer it measures:
- KB written per frame step (one key, then everything until the terminal is quiet - graphics included);
- KB written per click, the same way;
- latency of a step: key to the end of the first screen update, and key to the last byte;
- frames/s while `right` is held at 30 Hz (screen updates counted by their synchronized-output frames;
  the median of three 2-second holds, as the machine may be shared), and KB per update while held.
The baselines are textual-image's own widgets on the same frames: HalfcellImage for half blocks, SixelImage
(which encodes on the UI thread, every frame) for Sixel.

    python -m benchmarks.terminal                    # all renderers, prints a table
    python -m benchmarks.terminal --quick
    python -m benchmarks terminal                    # as rows of benchmarks/README.md
    python -m benchmarks.terminal serve halfblock    # the app itself (run inside a terminal)

`run_in_pty(argv, cols, rows, script)` runs any command the same way: benchmarks/app_terminal.py measures the
real app (`sam2tui VIDEO`) with the same scripts (`step_script`, `held_script`), and `measure()` returns
its rows after these.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from benchmarks.pty_terminal import SYNC_END, PtyTerminal, TerminalProfile

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / ".." / "shared" / "data" / "cups" / "02_cups.mp4"
COLS, ROWS, CELL = 160, 48, (10, 20)
RENDERERS = ("halfblock", "octant", "sixel", "kitty", "baseline", "baseline-sixel")
GRAPHICS = re.compile(rb"\x1bP.*?\x1b\\|\x1b_G.*?\x1b\\", re.S)  # Sixel (DCS) and kitty (APC) images
METRICS = {
    "fps": "frames/s with the key held at 30 Hz",
    "kb_per_step": "KB per frame step (until quiet)",
    "kb_per_click": "KB per click (a point and a mask change, until quiet)",
    "kb_per_update": "KB per screen update, key held",
    "latency_ms": "key to last byte of a step",
    "first_update_ms": "key to the end of the first screen update",
}
T = TypeVar("T")


# -- the app under test (runs inside the pty) -------------------------------------------------------------------


def load_frames(count: int) -> list[Any]:
    """`count` 1280x720 RGB frames: the cups clip when present, else a generated moving pattern."""
    import cv2
    import numpy as np

    frames: list[Any] = []
    if CLIP.exists():
        capture = cv2.VideoCapture(str(CLIP))
        while len(frames) < count:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        capture.release()
    ys, xs = np.mgrid[0:720, 0:1280]
    while len(frames) < count:
        t = len(frames)
        rgb = np.stack([(xs + 8 * t) % 256, (ys + 3 * t) % 256, (xs ^ ys) % 256], axis=-1).astype(np.uint8)
        frames.append(rgb)
    return frames


def serve(renderer: str, count: int) -> None:
    """Run the benchmark app (in a terminal): the canvas, or textual-image's half-cell widget."""
    import numpy as np
    from textual.app import App, ComposeResult
    from textual.binding import BindingType
    from textual.widget import Widget
    from textual.widgets import Static

    from sam2tui.masks import encode
    from sam2tui.tui.compose import MaskLayer, Overlay, PointLayer
    from sam2tui.tui.termcaps import detect
    from sam2tui.tui.widgets.frame_canvas import FrameCanvas, make_canvas

    caps = detect()
    frames = load_frames(count)
    mask = np.zeros((720, 1280), bool)
    mask[300:560, 500:760] = True
    points = (
        PointLayer(630, 430, True, (230, 159, 0), True),
        PointLayer(900, 300, False, (230, 159, 0), True),
    )
    overlay = Overlay(masks=(MaskLayer(1, encode(mask), (230, 159, 0), selected=True),), points=points)
    grown = mask.copy()
    grown[540:600, 600:720] = True
    clicked = Overlay(
        masks=(MaskLayer(1, encode(grown), (230, 159, 0), selected=True),),
        points=(*points, PointLayer(660, 580, True, (230, 159, 0), True)),
    )

    if renderer.startswith("baseline"):
        from PIL import Image
        from textual_image.widget import HalfcellImage, SixelImage  # queries the terminal: after detect()

        baseline_widget = SixelImage if renderer == "baseline-sixel" else HalfcellImage

    class BenchApp(App[None]):
        CSS = "Screen { layout: vertical; } #view { width: 1fr; height: 1fr; } #status { height: 1; }"
        BINDINGS: ClassVar[list[BindingType]] = [("right", "step(1)"), ("left", "step(-1)"), ("c", "click")]

        def __init__(self) -> None:
            super().__init__()
            self.index = 0
            self.clicked = False

        def compose(self) -> ComposeResult:
            view: Widget
            if renderer.startswith("baseline"):
                view = baseline_widget(Image.fromarray(frames[0]), id="view")
            else:
                view = make_canvas(renderer, caps, id="view")
            yield view
            yield Static(self.status(), id="status")

        def status(self) -> str:
            return f"frame {self.index:4d}  renderer {renderer}"

        def on_mount(self) -> None:
            self.show()

        def show(self) -> None:
            view = self.query_one("#view")
            frame = frames[self.index % len(frames)]
            if isinstance(view, FrameCanvas):
                view.show(self.index, frame, clicked if self.clicked else overlay)
            else:
                view.image = Image.fromarray(frame)  # type: ignore[attr-defined]
            self.query_one("#status", Static).update(self.status())

        def action_click(self) -> None:
            self.clicked = not self.clicked
            self.show()

        def action_step(self, delta: int) -> None:
            self.index = max(0, self.index + delta)
            self.show()

    BenchApp().run()


# -- the harness ------------------------------------------------------------------------------------------------


def run_in_pty(
    argv: Sequence[str],
    cols: int,
    rows: int,
    script: Callable[[PtyTerminal], T],
    profile: TerminalProfile | None = None,
    env: dict[str, str] | None = None,
) -> T:
    """Start `argv` in a fake `cols x rows` terminal, wait until it has drawn, run `script` on it, quit it."""
    profile = profile or TerminalProfile(cols=cols, rows=rows, cell=CELL, sixel=True, kitty=True)
    if (profile.cols, profile.rows) != (cols, rows):
        raise ValueError("profile size differs from cols x rows")
    # The user's own SAM2TUI_* settings (a renderer, a test tracker) must not leak into a measurement.
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("SAM2TUI_") and k != "TMUX"}
    child_env.update(TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(ROOT))
    child_env.update(env or {})
    with PtyTerminal(argv, profile, env=child_env, cwd=str(ROOT), keep_output=True) as term:
        if term.wait_quiet(quiet=1.0, timeout=60.0, after=0) is None:
            raise RuntimeError(f"{argv} drew nothing within 60 s")
        return script(term)


def step_script(
    steps: int, quiet: float = 0.6, key: str = "right"
) -> Callable[[PtyTerminal], dict[str, float]]:
    """Press `key` `steps` times, each time waiting until the terminal is quiet (graphics included).

    `first_update_ms`: key to the end of the first screen update (the half blocks); `latency_ms`: key to
    the last byte (for the sharp renderers, the graphics image); `graphics_kb_per_step`: the bytes of
    Sixel / kitty images among them.
    """

    def script(term: PtyTerminal) -> dict[str, float]:
        sizes, latencies, firsts, graphics = [], [], [], []
        for _ in range(steps):
            mark = term.mark()
            sent = term.key(key)
            last = term.wait_quiet(quiet=quiet, after=mark)
            if last is None:
                raise RuntimeError("no update after a key press")
            sizes.append(term.bytes_since(mark))
            latencies.append(last - sent)
            firsts.append((term.arrival_of(mark, SYNC_END) or last) - sent)
            graphics.append(sum(len(image) for image in GRAPHICS.findall(term.output_since(mark))))
        return {
            "kb_per_step": statistics.median(sizes) / 1000,
            "latency_ms": statistics.median(latencies) * 1000,
            "first_update_ms": statistics.median(firsts) * 1000,
            "graphics_kb_per_step": statistics.median(graphics) / 1000,
        }

    return script


def count_updates(output: bytes) -> int:
    """Screen updates in `output` (each is one synchronized-output frame)."""
    return output.count(SYNC_END)


def held_script(
    seconds: float,
    rate: float = 30.0,
    count: Callable[[bytes], int] = count_updates,
    settle: bool = True,
) -> Callable[[PtyTerminal], dict[str, float]]:
    """Hold `right` (repeat at `rate` Hz) for `seconds`: frames per second and KB per frame.

    Counts the frames (`count`: by default every screen update) that arrived while the key was held (a
    sharp image after the release is not a frame of the scrub); `lag_s` is how long after the release
    the terminal went quiet (with `settle`; without, for an app that never goes quiet, it is 0).
    """

    def script(term: PtyTerminal) -> dict[str, float]:
        mark = term.mark()
        start = time.monotonic()
        presses = int(seconds * rate)
        for n in range(presses):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            term.key("right")
        end = start + seconds
        delay = end - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        last = (term.wait_quiet(quiet=0.5, after=mark) or time.monotonic()) if settle else end
        output = term.output_since(mark, until=end)
        frames = count(output)
        return {
            "fps": frames / seconds,
            "kb_per_update": len(output) / max(frames, 1) / 1000,
            "presses": presses,
            "lag_s": last - end,
        }

    return script


def measure_renderer(renderer: str, quick: bool = False) -> dict[str, float]:
    argv = [
        sys.executable,
        "-m",
        "benchmarks.terminal",
        "serve",
        renderer,
        "--frames",
        "40" if quick else "90",
    ]
    steps = 3 if quick else 10
    held = 1.0 if quick else 2.0
    # The Sixel/kitty images come >= 150 ms after the half blocks: wait longer for quiet.
    quiet = 0.3 if renderer in ("halfblock", "octant", "baseline") else 1.0

    def script(term: PtyTerminal) -> dict[str, float]:
        result = step_script(steps, quiet)(term)
        if not renderer.startswith("baseline"):
            result["kb_per_click"] = step_script(steps, quiet, key="c")(term)["kb_per_step"]
        # The machine may be shared: the median of a few holds is steadier than one long one.
        holds = []
        for _ in range(1 if quick else 3):
            holds.append(held_script(held)(term))
            term.wait_quiet(quiet=quiet)
        result.update({key: statistics.median(h[key] for h in holds) for key in holds[0]})
        return result

    return run_in_pty(argv, COLS, ROWS, script)


def bench_row(
    metric: str,
    ours: float,
    unit: str,
    target: str = "",
    baseline: float | None = None,
    baseline_name: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One row of the results table; `target` is ">= N" or "<= N" (or "") and decides `met`."""
    limit = float(target.split()[-1]) if target else None
    met = None if limit is None else (ours >= limit if target.startswith(">=") else ours <= limit)
    return {
        "benchmark": "terminal",
        "metric": metric,
        "ours": round(ours, 1),
        "baseline": None if baseline is None else round(baseline, 1),
        "baseline_name": None if baseline is None else baseline_name,
        "unit": unit,
        "target": target,
        "met": met,
        "note": note,
    }


def measure(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for benchmarks/README.md (see benchmarks/__main__.py): the canvas alone, then the real app."""
    from benchmarks import app_terminal  # it builds on this module

    results = {name: measure_renderer(name, quick) for name in RENDERERS}
    names = {"baseline": "textual-image HalfcellImage", "baseline-sixel": "textual-image SixelImage"}
    size = f"{COLS}x{ROWS} cells of {CELL[0]}x{CELL[1]} px, 1280x720 clip"
    rows: list[dict[str, Any]] = []

    def row(
        renderer: str, metric: str, unit: str, baseline: str | None, target: str = "", note: str = size
    ) -> None:
        base = None if baseline is None else results[baseline][metric]
        label = f"{renderer}: {METRICS[metric]}"
        rows.append(
            bench_row(label, results[renderer][metric], unit, target, base, names.get(baseline or ""), note)
        )

    row("halfblock", "fps", "frames/s", "baseline", ">= 20")
    row("halfblock", "kb_per_step", "KB", "baseline", "<= 240")
    row("halfblock", "kb_per_click", "KB", None)
    row("halfblock", "kb_per_update", "KB", "baseline")
    row("halfblock", "latency_ms", "ms", "baseline")
    edges = f"octants on the mask's contour, half blocks elsewhere; {size}"
    row("octant", "fps", "frames/s", "baseline", ">= 20", note=edges)
    row("octant", "kb_per_step", "KB", "baseline", "<= 240", note=edges)
    for name in ("sixel", "kitty"):
        baseline = "baseline-sixel" if name == "sixel" else None
        progressive = f"half blocks at once, the {name} image after 150 ms idle; {size}"
        row(name, "kb_per_step", "KB", baseline, note=progressive)
        row(name, "kb_per_click", "KB", None, note=progressive)
        row(name, "first_update_ms", "ms", baseline, note=progressive)
        row(name, "latency_ms", "ms", baseline, note=progressive)
        row(name, "fps", "frames/s", baseline or "baseline", ">= 20", note=f"half blocks while held; {size}")
    return rows + app_terminal.measure(quick, canvas=results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.terminal")
    sub = parser.add_subparsers(dest="command")
    serve_cmd = sub.add_parser("serve", help="run the benchmark app in this terminal")
    serve_cmd.add_argument("renderer", choices=RENDERERS)
    serve_cmd.add_argument("--frames", type=int, default=90)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.renderer, args.frames)
        return 0
    for name in RENDERERS:
        print(name, measure_renderer(name, args.quick), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
