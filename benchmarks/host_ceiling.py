"""Host ceiling: how many frames/s our engine path could feed a model that costs nothing.

    python -m benchmarks.host_ceiling [--frames N] [--objects 1 5] [--size 1024]
    python -m benchmarks host_ceiling          # as rows of the benchmarks table

The real path of a propagation in the app: the engine worker's thread runs Sam2Tracker on a VideoSource
(PyAV decode of ../shared/data/cups/02_cups.mp4, 1280x720), LazyFrames resizes and normalises each frame,
sam2's propagation loop does its bookkeeping (per object, one by one), upsamples the masks to the video's size, the tracker
thresholds them and converts them to RLE results, and the worker commits them to SQLite. Only the model's
compute is replaced, inside this process, by a stand-in that returns tensors of the shapes sam2 gives
(`_get_image_feature` still reads the prepared frame, `track_step` returns a precomputed mask, score and
pointer, `_encode_new_memory` a precomputed memory). The tracker runs its GPU pipeline (`pipeline=True`:
frames and results threads), as the stand-in takes no core. Skipped when the cups clip is missing.

Time per stage (ms/frame). On the model's thread: frames = the tracker's wait for a prepared frame; step =
sam2's per-object frame step around the stand-in (casting the memory to bfloat16, storing the outputs);
upscale = sam2's resize of the masks to 1280x720; other = the rest of the loop (sam2's bookkeeping, ours,
the threshold, handing the frame over). Overlapped with it, on threads of their own (each bounds the rate
only when it exceeds the model's thread): prepare = decode + resize + normalise on the frames threads (summed
over both; its decode part is the wait for VideoSource, whose own thread decodes ahead); results = copy to
the host + RLE, box, parts on the results thread (rle alone also shown); sqlite = the commit thread's write.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CUPS = ROOT / ".." / "shared" / "data" / "cups" / "02_cups.mp4"
TARGETS = {1: 150.0, 5: 60.0}  # frames/s on this 2-core CPU (issue 13)


class Stages:
    """Seconds spent per named stage, summed over threads."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def timing(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        """Time every call of `owner.attribute` (a class's method or a module's function) as `name`."""
        original: Callable[..., Any] = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(name):
                return original(*args, **kwargs)

        setattr(owner, attribute, timed)


def stand_in_model(predictor: Any) -> None:
    """Replace the predictor's model compute with precomputed outputs of sam2's shapes (this instance only)."""
    import torch

    size = predictor.image_size
    low = size // 4
    ys, xs = torch.meshgrid(torch.arange(low), torch.arange(low), indexing="ij")
    # Blob masks at a few places (a plausible mask: RLE, box and parts have work to do).
    masks = []
    for k in range(8):
        cx, cy, r = low * (0.3 + 0.05 * k), low * (0.5 + 0.02 * k), low * 0.12
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 < r**2
        low_res = torch.where(inside, 10.0, -10.0)[None, None]
        masks.append((low_res, torch.nn.functional.interpolate(low_res, size=(size, size))))
    feats = torch.zeros(1, predictor.mem_dim, size // 16, size // 16)
    pos = [torch.zeros(1, predictor.mem_dim, size // 16, size // 16)]
    score = torch.full((1, 1), 10.0)
    pointer = torch.zeros(1, predictor.hidden_dim)

    def get_image_feature(inference_state: dict[str, Any], frame_idx: int, batch_size: int) -> Any:
        image = inference_state["images"][frame_idx]  # the real frame path: LazyFrames
        return image, None, None, None, None

    def track_step(*, frame_idx: int, run_mem_encoder: bool = True, **_: Any) -> dict[str, Any]:
        low_res, high_res = masks[frame_idx % len(masks)]
        return {
            "pred_masks": low_res,
            "pred_masks_high_res": high_res,
            "obj_ptr": pointer,
            "object_score_logits": score,
            "maskmem_features": feats if run_mem_encoder else None,
            "maskmem_pos_enc": pos if run_mem_encoder else None,
        }

    def encode_new_memory(**_: Any) -> tuple[Any, list[Any]]:
        return feats, pos

    predictor._get_image_feature = get_image_feature
    predictor.track_step = track_step
    predictor._encode_new_memory = encode_new_memory


def run(checkpoint: Path, video_path: Path, *, objects: int, frames: int, size: int) -> dict[str, Any]:
    """One propagation of `frames` frames with `objects` objects through the engine worker."""
    from sam2tui.engine import sam2_tracker
    from sam2tui.engine.tracker import (
        EngineFailed,
        Event,
        LoadModel,
        ModelReady,
        ModelSpec,
        OpenVideo,
        Propagate,
        PropagationDone,
        SetPrompt,
    )
    from sam2tui.engine.worker import EngineWorker
    from sam2tui.session.store import SessionStore
    from sam2tui.values import Direction, FramePrompt, Prompt
    from sam2tui.video import VideoSource

    stages = Stages()
    # Class and module attributes: this runs in a process of its own (see measure).
    stages.wrap(sam2_tracker.LazyFrames, "__getitem__", "frames")
    stages.wrap(sam2_tracker.LazyFrames, "_prepare", "prepare")
    stages.wrap(sam2_tracker.Sam2Tracker, "_encode", "results")
    stages.wrap(sam2_tracker, "result_from_mask", "rle")
    stages.wrap(sam2_tracker.LazyFramesVideoPredictor, "_get_orig_video_res_output", "upscale")
    stages.wrap(SessionStore, "put_results", "sqlite")
    stages.wrap(VideoSource, "frame", "decode")
    stages.wrap(sam2_tracker.LazyFramesVideoPredictor, "_run_single_frame_inference", "step")

    def factory(spec: ModelSpec, progress: Any) -> sam2_tracker.Sam2Tracker:
        # The pipeline as on a GPU, which the stand-in plays (on the CPU the tracker runs it in line).
        tracker = sam2_tracker.Sam2Tracker(spec, progress, pipeline=True)
        stand_in_model(tracker.predictor)
        return tracker

    events: list[Event] = []
    arrived = threading.Condition()

    def on_event(event: Event) -> None:
        with arrived:
            events.append(event)
            arrived.notify_all()

    def wait_for(kind: type) -> Any:
        with arrived:
            while True:
                for event in events:
                    if isinstance(event, EngineFailed):
                        raise RuntimeError(f"engine failed: {event.message}")
                    if isinstance(event, kind):
                        events.clear()
                        return event
                arrived.wait(600)

    with tempfile.TemporaryDirectory() as tmp, VideoSource.open(video_path) as video:
        width, height = video.width, video.height
        store = SessionStore.open(Path(tmp) / "host.sam2tui", video.fingerprint())
        for _ in range(objects):
            store.add_object()
        worker = EngineWorker(factory, store, on_event)
        worker.start()
        try:
            worker.submit(LoadModel(ModelSpec("sam2.1-tiny", checkpoint, "cpu", size)))
            wait_for(ModelReady)
            worker.submit(OpenVideo(video_path))
            for obj_id in range(1, objects + 1):
                point = (width * obj_id / (objects + 1), height / 2)
                worker.submit(SetPrompt(FramePrompt(0, obj_id, (Prompt.click(0, obj_id, *point),))))
            worker.submit(Propagate(0, Direction.FORWARD, max_frames=2))  # warm-up: first allocations
            wait_for(PropagationDone)
            stages.seconds.clear()
            began = time.perf_counter()
            worker.submit(Propagate(0, Direction.FORWARD, max_frames=frames))
            done = wait_for(PropagationDone).frames_done
            elapsed = time.perf_counter() - began
        finally:
            worker.stop(timeout=60)
            store.close()
    ms = {k: v / done * 1000 for k, v in stages.seconds.items()}
    ms["step"] = ms.get("step", 0.0) - ms.get("frames", 0.0)  # the frame wait happens inside a step
    on_model_thread = ("frames", "step", "upscale")
    ms["other"] = elapsed / done * 1000 - sum(ms.get(k, 0.0) for k in on_model_thread)
    threads = sam2_tracker.FRAME_WORKERS
    return {
        "objects": objects,
        "frames": done,
        "fps": done / elapsed,
        "ms_per_frame": ms,
        "frame_threads": threads,
    }


def rows_for(result: dict[str, Any], size: int) -> list[dict[str, Any]]:
    ms = result["ms_per_frame"]
    model_thread = {k: ms.get(k, 0.0) for k in ("frames", "step", "upscale", "other")}
    per_frame, frame_threads = 1000 / result["fps"], result["frame_threads"]
    # A thread beside the model's bounds the rate when its work per frame is about the whole frame time
    # (the model's thread then waits: for frames, or for the results thread); else the model's thread does.
    beside = {
        "prepare (frames threads)": ms.get("prepare", 0.0) / frame_threads,
        "results thread": ms.get("results", 0.0),
        "commit thread": ms.get("sqlite", 0.0),
    }
    busiest = max(beside, key=lambda k: beside[k])
    if beside[busiest] >= 0.8 * per_frame:
        bound = busiest
    else:
        bound = max((k for k in model_thread if k != "frames"), key=lambda k: model_thread[k])
    stages = ", ".join(f"{k} {v:.1f}" for k, v in model_thread.items())
    target = TARGETS.get(result["objects"])
    return [
        {
            "benchmark": "host_ceiling",
            "metric": f"frames/s with a zero-cost model, @{size}, {result['objects']} object(s)",
            "ours": result["fps"],
            "baseline": None,
            "baseline_name": "",
            "unit": "frames/s",
            "target": f">= {target:g}" if target else "",
            "met": result["fps"] >= target if target else None,
            "note": f"{result['frames']} frames of 02_cups.mp4 (1280x720) through the engine worker; "
            f"ms/frame on the model's thread: {stages}; beside it: results {ms.get('results', 0.0):.1f} "
            f"(rle {ms.get('rle', 0.0):.1f}), sqlite {ms.get('sqlite', 0.0):.1f}, prepare "
            f"{ms.get('prepare', 0.0):.1f} over {frame_threads} frames threads (decode wait "
            f"{ms.get('decode', 0.0):.1f}, resize+normalise {ms.get('prepare', 0.0) - ms.get('decode', 0.0):.1f}); "
            f"bound by {bound}",
        }
    ]


def measure(
    quick: bool = False,
    *,
    frames: int | None = None,
    objects: tuple[int, ...] = (1, 5),
    size: int = 1024,
) -> list[dict[str, Any]]:
    if not CUPS.is_file():
        print(f"host_ceiling: skipped, {CUPS} is missing", file=sys.stderr)
        return []
    from benchmarks.engine_speed import random_checkpoint

    count = frames or (20 if quick else 120)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = random_checkpoint("sam2.1-tiny", Path(tmp))
        for k in objects:
            # A process per run: the stand-in and the stage timers patch classes of the engine.
            config = {"checkpoint": str(checkpoint), "objects": k, "frames": count, "size": size}
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.host_ceiling", "--run", json.dumps(config)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"host_ceiling run failed:\n{done.stderr[-3000:]}")
            rows.extend(rows_for(json.loads(done.stdout.strip().splitlines()[-1]), size))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.host_ceiling")
    parser.add_argument("--frames", type=int, help="frames per propagation (default 120)")
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--run", help=argparse.SUPPRESS)  # internal: one run, JSON config
    args = parser.parse_args()
    if args.run:
        config = json.loads(args.run)
        result = run(
            Path(config["checkpoint"]),
            CUPS,
            objects=config["objects"],
            frames=config["frames"],
            size=config["size"],
        )
        print(json.dumps(result))
        return 0
    for row in measure(frames=args.frames, objects=tuple(args.objects), size=args.size):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
