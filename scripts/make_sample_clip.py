"""Write sample_data/sample.mp4, the demo clip, and small clips for tests.

    python scripts/make_sample_clip.py [OUT.mp4]

The sample is deterministic (seeded numpy RNG, single-threaded x264): 10 s, 640x360, 25 fps, H.264, with a
textured background and three textured objects. The red disc passes behind the blue square (wholly hidden
in frames 119-134, partly in ~107-147); the green ellipse leaves the frame on the right (frames 91-158) and
comes back.

Tests import this file by path (scripts/ is not a package) and use `make_clip` for tiny clips with B-frames,
short GOPs, odd sizes, irregular timestamps or an audio track.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_SIZE = (640, 360)  # width, height
SAMPLE_FPS = 25
SAMPLE_SECONDS = 10
SAMPLE_SEED = 2024

_CONTAINER_CODEC = {".webm": "libvpx-vp9", ".avi": "mpeg4"}
_AUDIO_RATE = 48000


def default_codec(path: Path) -> str:
    """H.264 through libx264 when this PyAV build has it (the PyPI wheels do), else MPEG-4 part 2."""
    codec = _CONTAINER_CODEC.get(path.suffix.lower())
    if codec is not None:
        return codec
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: int | Fraction = 25,
    codec: str | None = None,
    gop: int = 12,
    bframes: int = 2,
    pix_fmt: str = "yuv420p",
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    with_audio: bool = False,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> None:
    """Encode RGB uint8 frames (all the same size) into `path`; the container follows the suffix.

    `pts` (in `time_base` units) sets irregular timestamps (variable frame rate, or a first pts other than 0).
    `options` go to the encoder, `container_options` to the muxer (e.g. {"movflags": "faststart"}).
    x264 runs single-threaded so that the same frames always give the same bytes.
    """
    codec = codec or default_codec(path)
    frame_list = list(frames)
    height, width = frame_list[0].shape[:2]
    codec_options = dict(options or {})
    if codec == "libx264":
        codec_options = {"threads": "1", "x264-params": "scenecut=0", **codec_options}
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps, options=codec_options)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = bframes
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        audio = container.add_stream("aac", rate=_AUDIO_RATE, layout="mono") if with_audio else None
        for i, rgb in enumerate(frame_list):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            _write_tone(container, audio, seconds=len(frame_list) / float(fps))


def _write_tone(container: av.container.OutputContainer, audio: av.AudioStream, seconds: float) -> None:
    samples = np.sin(np.arange(int(seconds * _AUDIO_RATE)) * (2 * np.pi * 440 / _AUDIO_RATE)) * 0.2
    chunk = 1024
    for start in range(0, len(samples), chunk):
        block = samples[start : start + chunk].astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = _AUDIO_RATE, start
        container.mux(audio.encode(frame))
    container.mux(audio.encode(None))


def pattern_frames(count: int, size: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """`count` RGB frames of `size` (width, height) that differ clearly from each other.

    A seeded colour noise background that shifts by one coarse block per frame, plus a bright square that
    moves 3 px per frame: any off-by-one in frame indexing changes many pixels.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    block = 8
    coarse = rng.integers(
        0, 200, ((height + block - 1) // block + 1, (width + block - 1) // block + count, 3)
    )
    texture = np.repeat(np.repeat(coarse.astype(np.uint8), block, axis=0), block, axis=1)
    frames = []
    for i in range(count):
        rgb = texture[:height, i * block : i * block + width].copy()
        x = (3 * i) % max(1, width - 8)
        rgb[height // 4 : height // 4 + 8, x : x + 8] = (255, 255, 255)
        frames.append(rgb)
    return frames


def make_clip(
    path: str | Path,
    frames: int = 24,
    size: tuple[int, int] = (96, 64),
    fps: int | Fraction = 25,
    codec: str | None = None,
    with_audio: bool = False,
    **encode: object,
) -> list[np.ndarray]:
    """Write a small test clip (see `pattern_frames`) and return the RGB frames that went in.

    `encode` passes on to `write_clip` (gop, bframes, pix_fmt, pts, time_base, options, container_options).
    """
    source = pattern_frames(frames, size)
    write_clip(Path(path), source, fps=fps, codec=codec, with_audio=with_audio, **encode)  # type: ignore[arg-type]
    return source


# --- the sample scene ---------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid, bilinearly upsampled (compresses far better than pixel
    noise)."""
    grid = rng.random((height // cell + 2, width // cell + 2))
    ys, xs = np.arange(height) / cell, np.arange(width) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _textured_sprite(rng: np.random.Generator, colour: tuple[int, int, int], mask: np.ndarray) -> np.ndarray:
    """An RGBA sprite: `colour` modulated by stripes and smooth noise, alpha = mask."""
    height, width = mask.shape
    stripes = 0.5 + 0.5 * np.sin(np.arange(width)[None, :] / 3.0 + np.arange(height)[:, None] / 5.0)
    shade = 0.55 + 0.25 * stripes + 0.2 * _smooth_noise(rng, height, width, 6)
    rgb = np.clip(np.asarray(colour, float)[None, None, :] * shade[..., None], 0, 255)
    return np.dstack([rgb, mask * 255.0]).astype(np.uint8)


def _disc(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (xx**2 + yy**2 <= radius**2).astype(float)


def _ellipse(rx: int, ry: int) -> np.ndarray:
    yy, xx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    return ((xx / rx) ** 2 + (yy / ry) ** 2 <= 1).astype(float)


def _paste(canvas: np.ndarray, sprite: np.ndarray, cx: float, cy: float) -> None:
    """Alpha-blend `sprite` centred at (cx, cy), clipped to the canvas."""
    sh, sw = sprite.shape[:2]
    x0, y0 = round(cx) - sw // 2, round(cy) - sh // 2
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + sw, canvas.shape[1]), min(y0 + sh, canvas.shape[0])
    if cx0 >= cx1 or cy0 >= cy1:
        return
    part = sprite[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0].astype(float)
    alpha = part[..., 3:] / 255.0
    region = canvas[cy0:cy1, cx0:cx1]
    region[:] = (part[..., :3] * alpha + region * (1 - alpha)).astype(np.uint8)


def sample_frames(seed: int = SAMPLE_SEED) -> list[np.ndarray]:
    """The sample scene, frame by frame (RGB uint8, 360x640)."""
    width, height = SAMPLE_SIZE
    count = SAMPLE_FPS * SAMPLE_SECONDS
    rng = np.random.default_rng(seed)
    ground = _smooth_noise(rng, height, width, 40)[..., None] * np.array([60.0, 70.0, 50.0])
    detail = _smooth_noise(rng, height, width, 8)[..., None] * np.array([50.0, 45.0, 40.0])
    background = np.clip(90 + ground + detail, 0, 255).astype(np.uint8)
    disc = _textured_sprite(rng, (230, 60, 50), _disc(34))  # red, occluded by the square
    square = _textured_sprite(rng, (50, 90, 230), np.ones((130, 130)))  # blue, in front
    ellipse = _textured_sprite(rng, (60, 200, 70), _ellipse(40, 26))  # green, leaves and returns
    frames = []
    for i in range(count):
        t = i / (count - 1)  # 0..1 over the clip
        canvas = background.copy()
        # Ellipse: right along the top, wholly outside the right edge from about 3.7 s to 6.3 s, then back.
        ex = 80 + 1640 * t if t < 0.5 else 900 - 1640 * (t - 0.5)
        _paste(canvas, ellipse, ex, 80 + 20 * np.sin(6 * np.pi * t))
        # Disc left to right, square right to left, on nearly the same row: they cross mid-clip.
        _paste(canvas, disc, 60 + 520 * t, 230 + 10 * np.sin(4 * np.pi * t))
        _paste(canvas, square, 590 - 520 * t, 228)
        frames.append(canvas)
    return frames


def make_sample(out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.mp4")
    write_clip(
        tmp, sample_frames(), fps=SAMPLE_FPS, gop=50, bframes=2, options={"crf": "26", "preset": "slow"}
    )
    tmp.replace(out)


def main(argv: list[str]) -> int:
    out = (
        Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "sample_data" / "sample.mp4"
    )
    make_sample(out)
    print(f"{out}: {out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
