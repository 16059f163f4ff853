"""Seconds to export a long session to each format: 10,000 frames x 5 objects of 320x180 masks.

The session is a real SessionStore file; the video is synthetic frames held in memory, so the YOLO figures
are the JPEG encoding and writing, not video decoding. The JPEG part of YOLO is also measured alone.
Baseline: the same export of a session ten times shorter, times ten (ratio 1 = linear in the frames).

    python -m benchmarks.export_speed            # full size
    python -m benchmarks.export_speed --quick    # 1,000 frames
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sam2tui.engine.tracker import result_from_mask
from sam2tui.export import FORMATS, export_session
from sam2tui.export.yolo import JPEG_QUALITY
from sam2tui.session.store import SessionStore
from sam2tui.video import VideoFingerprint

WIDTH, HEIGHT, OBJECTS = 320, 180, 5
CLASSES = ("person", "car")
LINEAR_RATIO = 1.3  # 10N frames may take at most this much longer than 10 x N frames


class SyntheticFrames:
    """Eight textured RGB frames, returned in turn: the video side of a YOLO export without decoding."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
        base = np.stack([xs % 256, ys * 255 // HEIGHT, (xs + ys) % 256], axis=-1)
        self._frames = [
            np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8) for _ in range(8)
        ]

    def frame(self, index: int) -> np.ndarray:
        return self._frames[index % len(self._frames)]


def make_session(path: Path, frames: int) -> SessionStore:
    """A session with OBJECTS ellipses wandering over `frames` frames; object 5 is lost every 10th frame."""
    fingerprint = VideoFingerprint(str(path.with_suffix(".mp4")), frames, WIDTH, HEIGHT, 30.0, "synthetic")
    store = SessionStore.open(path, fingerprint)
    for obj_id in range(1, OBJECTS + 1):
        store.add_object(class_name=CLASSES[obj_id % len(CLASSES)], obj_id=obj_id)
    batch = []
    for frame in range(frames):
        for obj_id in range(1, OBJECTS + 1):
            mask = np.zeros((HEIGHT, WIDTH), np.uint8)
            if not (obj_id == OBJECTS and frame % 10 == 0):
                centre = (
                    int(40 + 55 * obj_id + 30 * np.sin(frame / 40 + obj_id)),
                    int(90 + 50 * np.cos(frame / 30)),
                )
                cv2.ellipse(mask, centre, (12 + 3 * obj_id, 20), frame % 180, 0, 360, 1, -1)
            batch.append(result_from_mask(frame, obj_id, mask.astype(bool), 7.0 + obj_id / 10))
        if len(batch) >= 5000:
            store.put_results(batch)
            batch = []
    store.put_results(batch)
    return store


def seconds_per_format(store: SessionStore, out: Path) -> dict[str, tuple[float, int]]:
    """fmt -> (seconds, bytes written)."""
    video = SyntheticFrames()
    figures = {}
    for fmt in FORMATS:
        target = out / (f"{fmt}.json" if fmt in ("coco", "ytvis") else fmt)
        started = time.perf_counter()
        written = export_session(store, fmt, target, video=video)
        figures[fmt] = (time.perf_counter() - started, sum(p.stat().st_size for p in written))
    return figures


def jpeg_seconds(frames: int, out: Path) -> float:
    """Writing the frames as JPEG alone, as the YOLO exports do."""
    video = SyntheticFrames()
    out.mkdir()
    started = time.perf_counter()
    for index in range(frames):
        bgr = cv2.cvtColor(video.frame(index), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(out / f"{index:06d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return time.perf_counter() - started


def measure(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for the benchmarks table (see benchmarks/__main__.py)."""
    frames = 1_000 if quick else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        figures = {}
        for count in (frames // 10, frames):
            with make_session(root / f"s{count}.sam2tui", count) as store:
                figures[count] = seconds_per_format(store, root / f"out{count}")
            figures[count]["jpeg"] = (jpeg_seconds(count, root / f"jpeg{count}"), 0)
    rows = []
    for name in (*FORMATS, "jpeg"):
        seconds, size = figures[frames][name]
        baseline = 10 * figures[frames // 10][name][0]
        metric = "JPEG frames only (part of yolo)" if name == "jpeg" else name
        note = f"{size / 1e6:.1f} MB" if size else f"{WIDTH}x{HEIGHT}, quality {JPEG_QUALITY}"
        if name in ("yolo", "yolo-seg"):
            note += f"; labels alone ~{seconds - figures[frames]['jpeg'][0]:.1f} s"
        rows.append(
            {
                "benchmark": "export_speed",
                "metric": f"{metric}, {frames:,} frames x {OBJECTS} objects",
                "ours": seconds,
                "baseline": baseline,
                "baseline_name": f"10 x {frames // 10:,} frames",
                "unit": "s",
                "target": f"linear (ratio <= {LINEAR_RATIO})",
                "met": seconds <= LINEAR_RATIO * baseline,
                "note": note,
            }
        )
    return rows


def main(argv: list[str]) -> int:
    for row in measure(quick="--quick" in argv):
        print(
            f"{row['metric']:60s} {row['ours']:7.2f} s   (10 x 1/10: {row['baseline']:7.2f} s)  {row['note']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
