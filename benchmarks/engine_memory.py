"""Memory of a long propagation: peak RSS tracking 10N frames against N frames (target: at most 1.2x).

    python -m benchmarks.engine_memory [--frames 200] [--image-size 128] [--unpruned]
    python -m benchmarks engine_memory          # as rows of the benchmarks table

Each run is a fresh subprocess doing what `sam2tui track` does (Sam2Tracker, tiny model with random
weights, one object prompted on frame 0, forward propagation, every frame's results committed to a SQLite
session) on the bedroom clip (or a synthetic one) looped to the length asked for. Peak RSS is the process's
high-water mark (getrusage, which includes loading the model); the note gives the growth of the current RSS
between frame 10 and the end, and how many propagated outputs the tracking state still holds.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BEDROOM = ROOT / ".." / "shared" / "data" / "bedroom" / "bedroom.mp4"
TARGET = 1.2


class Looped:
    """A VideoSource-like view that repeats a clip up to `count` frames."""

    def __init__(self, video: Any, count: int) -> None:
        self.video, self.count = video, count
        self.width, self.height = video.width, video.height

    def __len__(self) -> int:
        return self.count

    def frame(self, index: int, *, prefetch: bool = True) -> np.ndarray:
        frame: np.ndarray = self.video.frame(index % len(self.video), prefetch=prefetch)
        return frame


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(config: dict[str, Any]) -> dict[str, Any]:
    from sam2tui.engine.sam2_tracker import Sam2Tracker
    from sam2tui.engine.tracker import ModelSpec
    from sam2tui.session.store import SessionStore
    from sam2tui.values import Direction, FramePrompt, Prompt
    from sam2tui.video import VideoSource

    spec = ModelSpec("sam2.1-tiny", Path(config["checkpoint"]), "cpu", config["image_size"])
    tracker = Sam2Tracker(spec)
    if not config["prune"]:
        tracker._prune = lambda frame, start: None  # type: ignore[method-assign]
    source = config["video"]
    with tempfile.TemporaryDirectory() as tmp, VideoSource.open(source) as video:
        store = SessionStore.open(Path(tmp) / "memory.sam2tui", video.fingerprint())
        store.add_object()
        looped = Looped(video, config["frames"])
        began = time.perf_counter()
        tracker.start(looped)
        box = (0.3 * video.width, 0.3 * video.height, 0.6 * video.width, 0.8 * video.height)
        tracker.set_prompt(FramePrompt(0, 1, (Prompt.rectangle(0, 1, box),)))
        rss_at_10 = None
        done = 0
        for results in tracker.propagate(0, Direction.FORWARD):
            store.put_results(results)
            done += 1
            if done == 10:
                rss_at_10 = _rss_mib()
        elapsed = time.perf_counter() - began
        state = tracker._state
        kept = len(state["output_dict_per_obj"][0]["non_cond_frame_outputs"]) if state else 0
        rss_end = _rss_mib()
        store.close()
    return {
        "frames": done,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_growth_mib": rss_end - (rss_at_10 or rss_end),
        "kept_outputs": kept,
        "s_per_frame": elapsed / done,
    }


def run_in_subprocess(config: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.engine_memory", "--run", json.dumps(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _video(folder: Path) -> str:
    if BEDROOM.is_file():
        return str(BEDROOM)
    from tests.fixtures_engine import clip_frames, write_jpeg_folder

    return str(write_jpeg_folder(folder / "clip", clip_frames(50, (640, 360))))


def measure(
    quick: bool = False, *, frames: int | None = None, image_size: int = 128, unpruned: bool = False
) -> list[dict[str, Any]]:
    from benchmarks.engine_speed import random_checkpoint

    short = frames or (50 if quick else 200)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = {
            "checkpoint": str(random_checkpoint("sam2.1-tiny", Path(tmp))),
            "video": _video(Path(tmp)),
            "image_size": image_size,
        }
        variants = [("ours", True)] + ([("unpruned sam2 state", False)] if unpruned else [])
        for name, prune in variants:
            small = run_in_subprocess({**base, "frames": short, "prune": prune})
            large = run_in_subprocess({**base, "frames": 10 * short, "prune": prune})
            ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
            rows.append(
                {
                    "benchmark": "engine_memory",
                    "metric": f"peak RSS, {10 * short} frames @{image_size} ({name})",
                    "ours": large["peak_rss_mib"],
                    "baseline": small["peak_rss_mib"],
                    "baseline_name": f"{short} frames",
                    "unit": "MiB",
                    "target": f"<= {TARGET}x",
                    "met": ratio <= TARGET if prune else None,
                    "note": (
                        f"RSS growth after frame 10: {small['rss_growth_mib']:.0f} / {large['rss_growth_mib']:.0f} MiB; "
                        f"outputs kept {small['kept_outputs']} / {large['kept_outputs']}; "
                        f"{large['s_per_frame']:.3f} s/frame"
                    ),
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_memory")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: one run, JSON config
    parser.add_argument("--frames", type=int, default=200, help="the short run; the long one is 10x")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--unpruned", action="store_true", help="also measure sam2's unpruned state")
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(json.loads(args.run))))
        return 0
    for row in measure(frames=args.frames, image_size=args.image_size, unpruned=args.unpruned):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
