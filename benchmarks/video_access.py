"""Milliseconds per frame, sequential vs random access: VideoSource (PyAV) against raw OpenCV.

    python -m benchmarks.video_access [VIDEO]      # default: ../shared/data/cups/02_cups.mp4, else the sample
    python -m benchmarks video_access              # as a row of the benchmarks table

`measure_file(path)` gives the figures as a dict; `measure(quick)` gives the table rows that
benchmarks/__main__.py expects.

Each figure is the median over repetitions, the measurements interleaved. VideoSource runs with a one-frame
cache and no prefetch so that every access decodes (except "backward", which uses the default cache, as the
app does when stepping back frame by frame). OpenCV random access is `CAP_PROP_POS_FRAMES` + `read()`; the
frames it returns are compared with its own sequential decode (`opencv_random_wrong`).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sam2tui.video import VideoSource

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = (
    ROOT / ".." / "shared" / "data" / "cups" / "02_cups.mp4",
    ROOT / "sample_data" / "sample.mp4",
)


def _ours(path: Path, order: Sequence[int]) -> Callable[[], int]:
    def run() -> int:
        with VideoSource.open(path, cache_frames=1, prefetch=0) as video:
            for index in order:
                video.frame(index)
        return len(order)

    return run


def _ours_default_cache(path: Path, order: Sequence[int]) -> Callable[[], int]:
    """As the app uses it: 64-frame cache, prefetch of 4."""

    def run() -> int:
        with VideoSource.open(path) as video:
            for index in order:
                video.frame(index)
        return len(order)

    return run


def _opencv_sequential(path: Path) -> Callable[[], int]:
    def run() -> int:
        capture = cv2.VideoCapture(str(path))
        count = 0
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            count += 1
        capture.release()
        return count

    return run


def _opencv_random(path: Path, order: Sequence[int], wrong: list[int]) -> Callable[[], int]:
    reference = _opencv_frames(path)

    def run() -> int:
        capture = cv2.VideoCapture(str(path))
        wrong.clear()
        for index in order:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = capture.read()
            if not ok or not np.array_equal(bgr, reference[index]):
                wrong.append(index)
            if ok:
                cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        capture.release()
        return len(order)

    return run


def _opencv_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(bgr)
    capture.release()
    return frames


def measure_file(
    path: str | Path, *, random_frames: int = 30, repeats: int = 3, seed: int = 0
) -> dict[str, float]:
    """ms/frame for sequential and random access, ours (VideoSource) and OpenCV's, on one video file."""
    path = Path(path)
    with VideoSource.open(path) as video:
        count = len(video)
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.choice(count, size=min(random_frames, count), replace=False)]
    backward = list(range(count - 1, max(-1, count - 1 - random_frames), -1))  # scrubbing back from the end
    wrong: list[int] = []
    runs: dict[str, Callable[[], int]] = {
        "ours_sequential_ms": _ours(path, range(count)),
        "ours_random_ms": _ours(path, order),
        "opencv_sequential_ms": _opencv_sequential(path),
        "opencv_random_ms": _opencv_random(path, order, wrong),
        "ours_backward_cached_ms": _ours_default_cache(path, backward),
        "opencv_backward_ms": _opencv_random(path, backward, []),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved, so that a busy spell on the machine hits every figure alike
        for name, run in runs.items():
            start = time.perf_counter()
            frames = run()
            times[name].append((time.perf_counter() - start) / frames * 1000)
    figures = {"frames": float(count)} | {name: statistics.median(t) for name, t in times.items()}
    figures["opencv_random_wrong"] = float(len(wrong))
    figures["ours_random_over_sequential"] = figures["ours_random_ms"] / figures["ours_sequential_ms"]
    figures["ours_random_over_opencv"] = figures["ours_random_ms"] / figures["opencv_random_ms"]
    return figures


def default_video() -> Path:
    return next(p for p in DEFAULT_VIDEOS if p.exists())


def measure(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for the benchmarks table (see benchmarks/__main__.py), on cups when present."""
    path = default_video()
    f = measure_file(path, random_frames=10 if quick else 30, repeats=1 if quick else 3)
    row = {"benchmark": "video_access", "unit": "ms/frame", "baseline_name": "OpenCV"}
    note = f"{path.name}, {int(f['frames'])} frames; median of runs"
    return [
        {
            **row,
            "metric": "sequential",
            "ours": f["ours_sequential_ms"],
            "baseline": f["opencv_sequential_ms"],
            "target": "",
            "met": None,
            "note": note,
        },
        {
            **row,
            "metric": "random access",
            "ours": f["ours_random_ms"],
            "baseline": f["opencv_random_ms"],
            "target": "<= 1.1x OpenCV",
            "met": f["ours_random_ms"] <= 1.1 * f["opencv_random_ms"],
            "note": f"OpenCV gave {int(f['opencv_random_wrong'])} wrong frames",
        },
        {
            **row,
            "metric": "random / sequential",
            "ours": f["ours_random_ms"],
            "baseline": f["ours_sequential_ms"],
            "baseline_name": "ours sequential",
            "target": "",
            "met": None,
            "note": "cost of a seek",
        },
        {
            **row,
            "metric": "stepping backwards",
            "ours": f["ours_backward_cached_ms"],
            "baseline": f["opencv_backward_ms"],
            "target": "",
            "met": None,
            "note": "ours with its default cache (frames decoded on the way are kept)",
        },
    ]


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else default_video()
    print(f"{path.resolve()}")
    for name, value in measure_file(path).items():
        print(f"  {name:30s} {value:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
