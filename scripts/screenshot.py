"""Render the annotation screen to docs/screenshot.png, as a terminal would draw it.

    python scripts/screenshot.py [OUT.png] [--size 120x36]

The app runs headless on the committed sample clip (sample_data/sample.mp4) with `SceneTracker`: the test
suite's scripted tracker, but whose masks are the scene's real objects. They come from the clip's own
generator (scripts/make_sample_clip.py): each object's silhouette where the generator pastes it, minus the
objects pasted in front of it, so the disc vanishes behind the square and the ellipse leaves the frame as in
the video. On frame 48, where all three objects are in view, the disc gets a click, the square a box and the
ellipse a click and a negative point; then the clip is propagated both ways and the view returns to frame 48,
with the boxes layer hidden.

The screen's cells are then painted with PIL: half blocks as two exact pixel rows, text with DejaVu Sans
Mono. (Textual's SVG export through cairosvg draws half blocks as font glyphs, which leaves seams between
rows.) Everything is deterministic: the same checkout gives the same PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rich.color import Color
from rich.segment import Segment
from rich.style import Style

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("COLORTERM", "truecolor")  # the status bar names the colours a terminal would get
sys.path.insert(0, str(REPO))

from textual._compositor import LayoutUpdate  # noqa: E402

from sam2tui.masks import box, decode, encode  # noqa: E402
from sam2tui.session.store import SessionStore  # noqa: E402
from sam2tui.tui.app import Sam2TuiApp  # noqa: E402
from sam2tui.values import POSITIVE, BoxCorners, FramePrompt, Rle  # noqa: E402
from sam2tui.video import VideoSource  # noqa: E402
from tests.scripted_tracker import ScriptedTracker, folded  # noqa: E402

_spec = importlib.util.spec_from_file_location("make_sample_clip", REPO / "scripts" / "make_sample_clip.py")
assert _spec is not None and _spec.loader is not None
make_sample_clip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_sample_clip)

SAMPLE = REPO / "sample_data" / "sample.mp4"
FRAME = 48  # all three objects in view, apart
SCENE = ("green ellipse", "red disc", "blue square")  # the generator's paste order: back to front
CELL = (10, 20)  # pixels per cell: width, height (even, so half blocks split exactly)
DEFAULT_FG = (224, 224, 224)
DEFAULT_BG = (18, 18, 18)
BLOCKS = {"▀": (0.0, 0.5), "▄": (0.5, 1.0), "█": (0.0, 1.0), "▌": None, "▐": None}


def scene_masks() -> list[list[Rle]]:
    """Per frame of the sample, the visible mask of each object of `SCENE` (RLE).

    The generator is run with its `_paste` replaced: instead of blending a sprite into the frame, the sprite's
    alpha is pasted the same way onto an empty layer, which gives the object's silhouette where the video has
    it. An object's visible mask is its silhouette less those of the objects pasted after it (in front).
    """
    paste: Callable[[np.ndarray, np.ndarray, float, float], None] = make_sample_clip._paste
    silhouettes: list[np.ndarray] = []
    frames: list[list[Rle]] = []

    def record(canvas: np.ndarray, sprite: np.ndarray, cx: float, cy: float) -> None:
        layer = np.zeros_like(canvas)
        white = sprite.copy()
        white[..., :3] = 255
        paste(layer, white, cx, cy)
        silhouettes.append(layer[..., 0] >= 128)
        if len(silhouettes) == len(SCENE):
            in_front = np.zeros_like(silhouettes[0])
            visible = []
            for silhouette in reversed(silhouettes):
                visible.append(encode(silhouette & ~in_front))
                in_front |= silhouette
            frames.append(visible[::-1])
            silhouettes.clear()

    with mock.patch.object(make_sample_clip, "_paste", record):
        make_sample_clip.sample_frames()
    return frames


class SceneTracker(ScriptedTracker):
    """The scripted tracker with the scene's real masks: a prompt picks the object it lies on (a box: the one
    it covers most) on its frame, and that object's visible mask is the result on every frame."""

    def __init__(self, scene: list[list[Rle]]) -> None:
        super().__init__()
        self.scene = scene

    def picked(self, prompt: FramePrompt) -> int:
        masks = [decode(rle) for rle in self.scene[prompt.frame]]
        box, clicks, labels = folded(prompt)
        if box is not None:
            x0, y0, x1, y1 = (round(v) for v in box)
            return int(np.argmax([mask[y0:y1, x0:x1].sum() for mask in masks]))
        points = [p for p, label in zip(clicks, labels, strict=True) if label == POSITIVE]
        x, y = (round(v) for v in np.mean(points, axis=0))
        return next(index for index, mask in enumerate(masks) if mask[y, x])

    def mask(self, prompt: FramePrompt, offset: int) -> np.ndarray:
        return decode(self.scene[prompt.frame + offset][self.picked(prompt)])


def centre(rle: Rle) -> tuple[float, float]:
    ys, xs = np.nonzero(decode(rle))
    return float(xs.mean()), float(ys.mean())


def loose_box(rle: Rle, margin: int = 4) -> BoxCorners:
    """The mask's box a few pixels wider on each side, as a user would drag it."""
    found = box(rle)
    assert found is not None
    x, y, w, h = found
    return (x - margin, y - margin, x + w + margin, y + h + margin)


def rgb(color: Color | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if color is None or color.is_default:
        return default
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def fonts() -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, ...]:
    size = int(CELL[1] * 0.72)
    try:
        return (
            ImageFont.truetype("DejaVuSansMono.ttf", size),
            ImageFont.truetype("DejaVuSansMono-Bold.ttf", size),
        )
    except OSError:
        fallback = ImageFont.load_default(size)
        return (fallback, fallback)


def paint(lines: list[list[Segment]], width: int, height: int) -> Image.Image:
    """Draw terminal cells: background, half/full blocks as rectangles, other characters as text."""
    image = Image.new("RGB", (width * CELL[0], height * CELL[1]), DEFAULT_BG)
    draw = ImageDraw.Draw(image)
    regular, bold = fonts()
    for row, segments in enumerate(lines):
        column = 0
        for segment in segments:
            style = segment.style or Style()
            fg, bg = rgb(style.color, DEFAULT_FG), rgb(style.bgcolor, DEFAULT_BG)
            if style.reverse:
                fg, bg = bg, fg
            if style.dim:
                fg = tuple((c + b) // 2 for c, b in zip(fg, bg, strict=True))  # type: ignore[assignment]
            for char in segment.text:
                x, y = column * CELL[0], row * CELL[1]
                draw.rectangle((x, y, x + CELL[0] - 1, y + CELL[1] - 1), fill=bg)
                span = BLOCKS.get(char)
                if span is not None:
                    top, bottom = round(span[0] * CELL[1]), round(span[1] * CELL[1])
                    draw.rectangle((x, y + top, x + CELL[0] - 1, y + bottom - 1), fill=fg)
                elif char == "▌":
                    draw.rectangle((x, y, x + CELL[0] // 2 - 1, y + CELL[1] - 1), fill=fg)
                elif char == "▐":
                    draw.rectangle((x + CELL[0] // 2, y, x + CELL[0] - 1, y + CELL[1] - 1), fill=fg)
                elif not char.isspace():
                    font = bold if style.bold else regular
                    draw.text((x + CELL[0] / 2, y + CELL[1] / 2), char, font=font, fill=fg, anchor="mm")
                column += 1
    return image


async def capture(session: Path, size: tuple[int, int]) -> Image.Image:
    scene = scene_masks()
    ellipse_mask, disc_mask, square_mask = scene[FRAME]
    ellipse, disc = centre(ellipse_mask), centre(disc_mask)
    video = VideoSource.open(SAMPLE)
    store = SessionStore.open(session, video.fingerprint())
    tracker = SceneTracker(scene)
    app = Sam2TuiApp(video, store, tracker_factory=lambda spec, progress: tracker, render="halfblock")
    try:
        async with app.run_test(size=size) as pilot:
            ctl = app.controller
            while not (ctl.model.ready and app.annotate.canvas.frame_index == 0):
                await pilot.pause(0.05)
            ctl.seek(FRAME)
            disc_object = ctl.new_object("red disc", "ball")
            ctl.click(*disc)
            ctl.new_object("blue square", "crate")
            ctl.draw_box(loose_box(square_mask))
            ctl.new_object("green ellipse", "leaf")
            ctl.click(*ellipse)
            ctl.click(ellipse[0] + 70, ellipse[1] + 10, positive=False)
            assert disc_object is not None
            ctl.select(disc_object.obj_id)
            ctl.view.show_boxes = False  # as after `b`: the masks' own outlines show the objects' shapes
            app.annotate.sync()
            while app.engine.busy:
                await pilot.pause(0.05)
            ctl.propagate()
            app.annotate.sync()
            while ctl.busy or app.engine.busy:
                await pilot.pause(0.05)
            canvas = app.annotate.canvas
            while canvas.frame_index != FRAME:
                await pilot.pause(0.05)
            assert canvas.viewport is not None
            cx, cy = canvas.viewport.to_canvas(*disc)
            await pilot.hover(canvas, offset=(int(cx) + 6, int(cy / 2)))
            await pilot.pause(0.5)
            update = app.screen._compositor.render_update(full=True)
            assert isinstance(update, LayoutUpdate)
            lines = [[segment for strip in line for segment in strip] for line in update.strips]
    finally:
        app.engine.stop(10)
        store.close()
        video.close()
    return paint(lines, *size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--size", default="120x36", help="terminal columns x rows")
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        image = asyncio.run(capture(Path(tmp) / "sample.sam2tui", (columns, rows)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out, optimize=True)
    print(f"{args.out}: {image.width}x{image.height}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
