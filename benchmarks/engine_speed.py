"""Tracking speed: our engine path against the plain sam2 loop on the same frames, same model, same prompts.

    python -m benchmarks.engine_speed [--sizes 256 1024] [--objects 1 4] [--frames N] [--pairs P]
                                      [--scaling 1 2 4 8] [--model M] [--device D] [--autocast on|off]
                                      [--batch-objects]
    python -m benchmarks engine_speed          # as rows of the benchmarks table

ours:  VideoSource (JPEG folder) -> lazy frames -> Sam2Tracker -> RLE -> SQLite commit per frame; with
       --batch-objects (and in make bench's rows that say so) the tracker propagates objects as one batch.
plain: sam2's `init_state(jpeg_folder)` (loads every frame first) -> `add_new_points_or_box` ->
       `propagate_in_video`, masks discarded.

This 2-core machine is shared and its speed drifts by 2x within minutes, so one run of each proves nothing.
Each variant lives in its own process (neither sees the other's caches or threads) that builds the model
once, warms up, then runs one timed propagation per request; the two processes take turns, in ABBA order
(ours, plain, plain, ours, ...), so that a pair's two runs see the same load. A run times loading the
frames, the prompts (one click per object on frame 0) and propagating forward over every frame. Each pair
gives a ratio plain s/frame / ours s/frame (>= 1: ours at least as fast); a row reports the median ratio
over the pairs and its spread. NOISE_RULE says when the spread is too wide for a verdict.
Random weights (speed does not depend on them). The frames are the first N of
../shared/data/bedroom/bedroom.mp4 (960x540) written as JPEG, or a synthetic 640x360 clip.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
BEDROOM = ROOT / ".." / "shared" / "data" / "bedroom" / "bedroom.mp4"
TARGET = 1.0
"""ours / plain end-to-end speed (median of the pair ratios) that meets the target."""
NOISE_LIMIT = 0.15
MIN_PAIRS = 3
NOISE_RULE = (
    f"a verdict needs >= {MIN_PAIRS} pairs and an interquartile range of the pair ratios no wider than "
    f"{NOISE_LIMIT:.0%} of their median; otherwise the row says 'too noisy'"
)
RESULT = "RESULT "  # prefix of a runner's answer line (sam2 and torch may print other lines)


def write_frames(folder: Path, count: int) -> Path:
    """The first `count` frames of the bedroom clip (or a synthetic clip) as a JPEG folder sam2 can load."""
    from PIL import Image

    from tests.fixtures_engine import clip_frames, write_jpeg_folder

    if BEDROOM.is_file():
        from sam2tui.video import VideoSource

        folder.mkdir(parents=True, exist_ok=True)
        with VideoSource.open(BEDROOM) as video:
            for i in range(min(count, len(video))):
                Image.fromarray(video.frame(i)).save(folder / f"{i:05d}.jpg", quality=95)
        return folder
    return write_jpeg_folder(folder, clip_frames(count, (640, 360)))


def prompt_points(width: int, height: int, objects: int) -> list[tuple[float, float]]:
    """One positive click per object, spread over the frame."""
    return [(width * (i + 1) / (objects + 1), height * (0.4 + 0.2 * (i % 2))) for i in range(objects)]


class OursRunner:
    """Our engine path: the tracker is built once; each run opens the video and a fresh session."""

    def __init__(self, setup: dict[str, Any]) -> None:
        import torch

        from sam2tui.engine import sam2_tracker
        from sam2tui.engine.tracker import ModelSpec

        self.torch = torch
        spec = ModelSpec(
            setup["model"],
            Path(setup["checkpoint"]),
            setup["device"],
            setup["image_size"],
            setup["batch_objects"],
        )
        self.tracker = sam2_tracker.Sam2Tracker(spec, autocast=setup["autocast"])
        self.stages = {"frames": 0.0, "rle": 0.0, "sqlite": 0.0}
        get_frame, to_result = sam2_tracker.LazyFrames.__getitem__, sam2_tracker.result_from_mask

        def timed_frame(lazy: Any, index: int) -> Any:
            with self._stage("frames"):
                return get_frame(lazy, index)

        def timed_result(*args: Any, **kwargs: Any) -> Any:
            with self._stage("rle"):
                return to_result(*args, **kwargs)

        sam2_tracker.LazyFrames.__getitem__ = timed_frame  # type: ignore[method-assign]
        sam2_tracker.result_from_mask = timed_result

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] += time.perf_counter() - t

    def run(self, frames_dir: str, objects: int) -> dict[str, Any]:
        from sam2tui.session.store import SessionStore
        from sam2tui.values import Direction, FramePrompt, Prompt
        from sam2tui.video import VideoSource

        self.stages = dict.fromkeys(self.stages, 0.0)
        _reset_gpu_peak(self.torch)
        with tempfile.TemporaryDirectory() as tmp, VideoSource.open(frames_dir) as video:
            store = SessionStore.open(Path(tmp) / "bench.sam2tui", video.fingerprint())
            for _ in range(objects):
                store.add_object()
            began = time.perf_counter()
            self.tracker.start(video)
            for obj_id, (x, y) in enumerate(prompt_points(video.width, video.height, objects), 1):
                self.tracker.set_prompt(FramePrompt(0, obj_id, (Prompt.click(0, obj_id, x, y),)))
            prompted = time.perf_counter()
            frames = 0
            for results in self.tracker.propagate(0, Direction.FORWARD):
                with self._stage("sqlite"):
                    store.put_results(results)
                frames += 1
            _synchronize(self.torch)
            ended = time.perf_counter()
            store.close()
        self.tracker.close()
        return _figures(frames, began, prompted, ended, self.stages, self.torch)


class PlainRunner:
    """The plain sam2 loop: the predictor is built once; each run makes a fresh inference state."""

    def __init__(self, setup: dict[str, Any]) -> None:
        import torch
        from sam2.build_sam import build_sam2_video_predictor

        from sam2tui.engine.checkpoints import MODELS
        from sam2tui.engine.device import resolve_device

        self.torch = torch
        self.device = resolve_device(setup["device"])
        size = setup["image_size"]
        overrides = [f"++model.image_size={size}"] if size != 1024 else []
        self.predictor = build_sam2_video_predictor(
            MODELS[setup["model"]].config,
            setup["checkpoint"],
            device=str(self.device),
            hydra_overrides_extra=overrides,
        )
        try:
            from sam2 import _C  # noqa: F401
        except ImportError:
            self.predictor.fill_hole_area = 0  # as ours: no per-frame warning without the extension
        self.autocast = setup["autocast"]

    def run(self, frames_dir: str, objects: int) -> dict[str, Any]:
        torch = self.torch
        amp = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if self.autocast
            else contextlib.nullcontext()
        )
        _reset_gpu_peak(torch)
        with amp:
            began = time.perf_counter()
            state = self.predictor.init_state(frames_dir)
            width, height = state["video_width"], state["video_height"]
            for obj_id, point in enumerate(prompt_points(width, height, objects), 1):
                self.predictor.add_new_points_or_box(state, 0, obj_id, points=[point], labels=[1])
            prompted = time.perf_counter()
            frames = sum(1 for _ in self.predictor.propagate_in_video(state))
            _synchronize(torch)
            ended = time.perf_counter()
        return _figures(frames, began, prompted, ended, {}, torch)


RUNNERS: dict[str, type[OursRunner] | type[PlainRunner]] = {"ours": OursRunner, "plain": PlainRunner}


def _reset_gpu_peak(torch: Any) -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _synchronize(torch: Any) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _figures(
    frames: int, began: float, prompted: float, ended: float, stages: dict[str, float], torch: Any
) -> dict[str, Any]:
    return {
        "frames": frames,
        "s_per_frame": (ended - began) / frames,
        "load_and_prompt_s": prompted - began,
        "propagate_s_per_frame": (ended - prompted) / frames,
        "stages_ms_per_frame": {k: v / frames * 1000 for k, v in stages.items()},
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
    }


def serve(variant: str, setup: dict[str, Any]) -> None:
    """Runner process: build the variant, then answer one JSON request per stdin line with one run."""
    runner = RUNNERS[variant](setup)
    print(RESULT + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        figures = runner.run(request["frames_dir"], request["objects"])
        print(RESULT + json.dumps(figures), flush=True)


class Runner:
    """The parent's handle on one runner process."""

    def __init__(self, variant: str, setup: dict[str, Any], log: IO[str]) -> None:
        self.variant = variant
        self.log = log
        threads = setup.get("threads")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.engine_speed", "--serve", variant, json.dumps(setup)],
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)} if threads else None,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        self._answer()

    def run(self, frames_dir: Path, objects: int) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"frames_dir": str(frames_dir), "objects": objects}) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(RESULT):
                answer: dict[str, Any] = json.loads(line[len(RESULT) :])
                return answer
        self.log.flush()
        self.log.seek(0)
        raise RuntimeError(f"{self.variant} runner failed:\n{self.log.read()[-3000:]}")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


@contextlib.contextmanager
def runners(setup: dict[str, Any]) -> Iterator[dict[str, Runner]]:
    """Both variants' processes for one model set-up (model, checkpoint, image size, device, precision)."""
    with contextlib.ExitStack() as stack:
        started = {}
        for variant in RUNNERS:
            log = stack.enter_context(tempfile.TemporaryFile("w+"))
            started[variant] = Runner(variant, setup, log)
            stack.callback(started[variant].close)
        yield started


@dataclass
class Spread:
    """Median, quartiles and range of a sample."""

    median: float
    q1: float
    q3: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if len(values) < 2:
            q1 = q3 = values[0]
        else:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(statistics.median(values), q1, q3, min(values), max(values))

    @property
    def relative_iqr(self) -> float:
        return (self.q3 - self.q1) / self.median

    def __str__(self) -> str:
        return f"IQR {self.q1:.2f}-{self.q3:.2f}, range {self.low:.2f}-{self.high:.2f}"


@dataclass
class Pairs:
    """Interleaved runs of both variants: ours[i] and plain[i] ran back to back."""

    ours: list[dict[str, Any]]
    plain: list[dict[str, Any]]

    @property
    def ratios(self) -> list[float]:
        """plain s/frame / ours s/frame per pair (end to end): >= 1 when ours is at least as fast."""
        return [p["s_per_frame"] / o["s_per_frame"] for o, p in zip(self.ours, self.plain, strict=True)]

    def ratio(self) -> Spread:
        return Spread.of(self.ratios)

    def median(self, variant: str, key: str) -> float:
        return statistics.median(run[key] for run in getattr(self, variant))

    def noisy(self) -> bool:
        return len(self.ours) < MIN_PAIRS or self.ratio().relative_iqr > NOISE_LIMIT

    def verdict(self, target: float = TARGET) -> bool | str:
        return "too noisy" if self.noisy() else self.ratio().median >= target


def interleave(started: dict[str, Runner], frames_dir: Path, objects: int, pairs: int) -> Pairs:
    """`pairs` pairs of runs in ABBA order (ours first in even pairs, plain first in odd ones)."""
    result = Pairs([], [])
    for i in range(pairs):
        order = ("ours", "plain") if i % 2 == 0 else ("plain", "ours")
        for variant in order:
            getattr(result, variant).append(started[variant].run(frames_dir, objects))
    return result


def compare(
    frames_dir: Path,
    checkpoint: Path,
    *,
    image_size: int,
    objects: tuple[int, ...] = (1,),
    pairs: int | dict[int, int] = 5,
    model: str = "sam2.1-tiny",
    device: str = "auto",
    autocast: bool | None = None,
    threads: int | None = None,
    batch_objects: bool = False,
) -> dict[int, Pairs]:
    """Interleaved pairs for each object count (`pairs`, or `pairs[count]`), both variants built once at
    `image_size`.

    `threads`: OMP_NUM_THREADS of both runners (default: torch's own choice, as in the app).
    `batch_objects`: ours propagates the objects as one batch (`ModelSpec.batch_objects`)."""
    if autocast is None:
        import torch

        autocast = device != "cpu" and torch.cuda.is_available()
    setup = {
        "checkpoint": str(checkpoint),
        "model": model,
        "image_size": image_size,
        "device": device,
        "autocast": autocast,
        "threads": threads,
        "batch_objects": batch_objects,
    }
    with runners(setup) as started:
        # Warm-up, untimed: first-call allocations and kernel choices (sam2 runs objects one by one, so one
        # object meets every shape).
        for runner in started.values():
            runner.run(frames_dir, 1)
        return {
            k: interleave(started, frames_dir, k, pairs if isinstance(pairs, int) else pairs[k])
            for k in objects
        }


PROFILED = (
    # (stage, module, class or None for a module function, attribute): disjoint calls, so their times add up
    ("frames", "sam2tui.engine.sam2_tracker", None, "_sam2_load_video_frames"),  # plain: all, first
    ("frames", "sam2tui.engine.sam2_tracker", "LazyFrames", "__getitem__"),  # ours: each, when asked
    ("image encoder", "sam2.modeling.sam2_base", "SAM2Base", "forward_image"),
    ("memory attention", "sam2.modeling.memory_attention", "MemoryAttention", "forward"),
    ("memory encoder", "sam2.modeling.memory_encoder", "MemoryEncoder", "forward"),
    ("mask decoder", "sam2.modeling.sam.mask_decoder", "MaskDecoder", "forward"),
    ("upscale", "sam2.sam2_video_predictor", "SAM2VideoPredictor", "_get_orig_video_res_output"),
    ("results", "sam2tui.engine.sam2_tracker", None, "result_from_mask"),
    ("sqlite", "sam2tui.session.store", "SessionStore", "put_results"),
)


def profile(
    frames_dir: Path, checkpoint: Path, *, image_size: int, objects: int, rounds: int
) -> dict[str, dict[str, float]]:
    """ms per frame in each stage, ours and plain built in this one process and taking turns (ABBA).

    Where the time of each variant goes, sam2's own stages included, measured by wrapping the stages'
    functions; "other" is the rest of a run (sam2's bookkeeping, prompts, Python)."""
    import importlib

    setup = {"checkpoint": str(checkpoint), "model": "sam2.1-tiny", "image_size": image_size}
    setup = {**setup, "device": "cpu", "autocast": False, "batch_objects": False}
    variants: dict[str, OursRunner | PlainRunner] = {"ours": OursRunner(setup), "plain": PlainRunner(setup)}
    totals: dict[str, dict[str, float]] = {name: {} for name in variants}
    current = {"name": ""}

    def wrap(stage: str, owner: Any, attribute: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent = totals[current["name"]]
                spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - began

        setattr(owner, attribute, timed)

    for stage, module_name, owner_name, attribute in PROFILED:
        module = importlib.import_module(module_name)
        wrap(stage, getattr(module, owner_name) if owner_name else module, attribute)
    for name, runner in variants.items():  # warm-up, untimed
        current["name"] = name
        runner.run(str(frames_dir), 1)
    totals = {name: {} for name in variants}
    frames = dict.fromkeys(variants, 0)
    for i in range(rounds):
        for name in ("ours", "plain") if i % 2 == 0 else ("plain", "ours"):
            current["name"] = name
            figures = variants[name].run(str(frames_dir), objects)  # its timed span, as in the pairs
            frames[name] += figures["frames"]
            spent = figures["s_per_frame"] * figures["frames"]
            totals[name]["total"] = totals[name].get("total", 0.0) + spent
    per_frame = {}
    for name, spent in totals.items():
        spent["other"] = spent["total"] - sum(v for k, v in spent.items() if k != "total")
        per_frame[name] = {stage: seconds / frames[name] * 1000 for stage, seconds in spent.items()}
    return per_frame


def print_profile(size: int, objects: int, rounds: int, frames: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = random_checkpoint("sam2.1-tiny", Path(tmp))
        frames_dir = write_frames(Path(tmp) / "frames", frames)
        ms = profile(frames_dir, checkpoint, image_size=size, objects=objects, rounds=rounds)
    print(f"ms per frame @{size}, {objects} object(s), {rounds} runs each of {frames} frames, one process:")
    print(f"{'stage':<18}{'ours':>9}{'plain':>9}{'ours-plain':>12}")
    for stage in sorted(ms["ours"].keys() | ms["plain"].keys(), key=lambda k: k == "total"):
        ours, plain = ms["ours"].get(stage, 0.0), ms["plain"].get(stage, 0.0)
        print(f"{stage:<18}{ours:9.1f}{plain:9.1f}{ours - plain:12.1f}")


def random_checkpoint(model: str, folder: Path) -> Path:
    from sam2tui.engine.checkpoints import MODELS
    from tests.fixtures_engine import build_random_checkpoint

    return build_random_checkpoint(MODELS[model].config, folder / f"random_{model}.pt")


def speed_row(result: Pairs, label: str) -> dict[str, Any]:
    """End-to-end frames/s, ours against plain, with the median pair ratio and its spread."""
    ratio = result.ratio()
    stages = ", ".join(
        f"{k} {statistics.median(o['stages_ms_per_frame'][k] for o in result.ours):.1f}"
        for k in result.ours[0]["stages_ms_per_frame"]
    )
    noisy = "too noisy: " if result.noisy() else ""
    return {
        "benchmark": "engine_speed",
        "metric": f"frames/s end to end, {label}",
        "ours": 1 / result.median("ours", "s_per_frame"),
        "baseline": 1 / result.median("plain", "s_per_frame"),
        "baseline_name": "plain sam2 loop",
        "ratio": ratio.median,
        "unit": "frames/s",
        "target": f">= {TARGET}x",
        "met": result.verdict(),
        "note": f"{noisy}ratio = median over {len(result.ours)} ABBA pairs of plain/ours s per frame, {ratio}; "
        f"{result.ours[0]['frames']} frames; our stages ms/frame: {stages}",
    }


def scaling_rows(results: dict[int, Pairs], label: str) -> list[dict[str, Any]]:
    """s/frame propagating per object count, ours beside plain, each against its own one-object figure."""
    rows = []
    one = results[min(results)]
    for objects, result in results.items():
        ours = result.median("ours", "propagate_s_per_frame")
        plain = result.median("plain", "propagate_s_per_frame")
        ratio = result.ratio()
        rows.append(
            {
                "benchmark": "engine_speed",
                "metric": f"s/frame propagating, {label}, {objects} object(s)",
                "ours": ours,
                "baseline": plain,
                "baseline_name": "plain sam2 loop",
                "ratio": ours / plain,
                "unit": "s/frame",
                "target": "",
                "met": None,
                "note": f"to {min(results)} object(s): ours "
                f"x{ours / one.median('ours', 'propagate_s_per_frame'):.2f}, plain "
                f"x{plain / one.median('plain', 'propagate_s_per_frame'):.2f}; end-to-end pair ratio "
                f"(plain/ours) median {ratio.median:.2f}, {ratio}",
            }
        )
    return rows


@dataclass(frozen=True)
class Plan:
    """What one size runs: the frames per run, the pairs per object count, the object counts, and whether
    ours batches the objects."""

    size: int
    frames: int
    pairs: int
    objects: tuple[int, ...]
    speed: tuple[int, ...]  # object counts that get an end-to-end speed row
    batch_objects: bool = False

    def pairs_per_count(self) -> dict[int, int]:
        """`pairs` for the speed rows; the counts that only get a scaling row need fewer."""
        return {k: self.pairs if k in self.speed else min(self.pairs, SCALING_PAIRS) for k in self.objects}


SCALING_PAIRS = 10


def frames_and_pairs(size: int) -> tuple[int, int]:
    """Default frames per run and pairs per speed row. At 256 px one pair's ratio spreads ~10 % on this
    machine, so settling 3 % takes ~30 pairs (2-4 s each); at 1024 a frame takes ~3-6 s and 3 pairs
    already gave an IQR of 2 %."""
    return (6, 30) if size <= 256 else (3, 3)


def default_plans(quick: bool) -> list[Plan]:
    """About 25 minutes on a quiet 2-core CPU (the quick one: 1 minute). Batched objects only at 256 px: at
    1024 the model's compute dominates and batching gained nothing (measured: 0.97, 2 pairs)."""
    if quick:
        return [Plan(256, 4, 2, (1, 2), (1,))]
    return [
        Plan(256, *frames_and_pairs(256), (1, 2, 4, 8), (1, 4)),
        Plan(256, *frames_and_pairs(256), (4, 8), (4,), batch_objects=True),
        Plan(1024, *frames_and_pairs(1024), (1, 4), (1, 4)),
    ]


def measure(
    quick: bool = False,
    *,
    plans: list[Plan] | None = None,
    model: str = "sam2.1-tiny",
    device: str = "auto",
    autocast: bool | None = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    print(f"engine_speed: {NOISE_RULE}", file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = []
    scaling: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = random_checkpoint(model, Path(tmp))
        for plan in plans or default_plans(quick):
            frames_dir = write_frames(Path(tmp) / f"frames{plan.frames}", plan.frames)
            results = compare(
                frames_dir,
                checkpoint,
                image_size=plan.size,
                objects=plan.objects,
                pairs=plan.pairs_per_count(),
                model=model,
                device=device,
                autocast=autocast,
                threads=threads,
                batch_objects=plan.batch_objects,
            )
            label = f"{model} @{plan.size}" + (f" ({threads} thread(s))" if threads else "")
            label += ", ours --batch-objects" if plan.batch_objects else ""
            for objects in plan.speed:
                rows.append(speed_row(results[objects], f"{label}, {objects} object(s)"))
            if len(plan.objects) > 1:
                scaling.extend(scaling_rows(results, label))
    return rows + scaling


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_speed")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)  # internal: VARIANT SETUP_JSON
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument(
        "--objects", type=int, nargs="+", default=[1, 4], help="object counts with a speed row"
    )
    parser.add_argument(
        "--scaling", type=int, nargs="*", default=[1, 2, 4, 8], help="object counts at 256 px"
    )
    parser.add_argument("--frames", type=int, help="frames per run (default 6 at 256 px, 3 above)")
    parser.add_argument(
        "--pairs",
        type=int,
        help=f"pairs per speed row (default 30 at 256 px, 3 above; at most {SCALING_PAIRS} for a scaling row)",
    )
    parser.add_argument("--model", default="sam2.1-tiny")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--autocast", choices=("on", "off"))
    parser.add_argument(
        "--threads",
        type=int,
        help="OMP_NUM_THREADS of both variants (1: immune to a busy machine's contention)",
    )
    parser.add_argument(
        "--batch-objects", action="store_true", help="ours propagates the objects as one batch"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="where each variant's time goes, per stage (sam2's included): tiny model on the CPU, the first"
        " size and object count",
    )
    args = parser.parse_args()
    if args.profile:
        size, objects = args.sizes[0], args.objects[0]
        print_profile(size, objects, args.pairs or 8, args.frames or frames_and_pairs(size)[0])
        return 0
    if args.serve:
        serve(args.serve[0], json.loads(args.serve[1]))
        return 0
    plans = []
    for size in args.sizes:
        small = size <= 256
        counts = tuple(sorted(set(args.objects) | set(args.scaling if small else ())))
        frames, pairs = frames_and_pairs(size)
        plans.append(
            Plan(
                size,
                args.frames or frames,
                args.pairs or pairs,
                counts,
                tuple(args.objects),
                args.batch_objects,
            )
        )
    autocast = None if args.autocast is None else args.autocast == "on"
    rows = measure(plans=plans, model=args.model, device=args.device, autocast=autocast, threads=args.threads)
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
