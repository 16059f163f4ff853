"""What the app and `sam2tui track` share about the model: its command-line options and the tracker they build.

Testing hook: `SAM2TUI_TEST_TRACKER=package.module:factory` builds the tracker with that factory (called as
`factory(spec, progress)`) instead of SAM 2, in the app and in `track` alike; the tmux and reliability
tests use `tests.scripted_tracker:make_tracker`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from sam2tui.engine.checkpoints import DEFAULT_MODEL, MODELS, model_info
from sam2tui.engine.tracker import ModelSpec, ProgressFn, Tracker
from sam2tui.engine.worker import TrackerFactory
from sam2tui.errors import CheckpointError, EngineError, InputError

TEST_TRACKER_ENV = "SAM2TUI_TEST_TRACKER"
SAM2_INSTALL = "SAM2_BUILD_CUDA=0 pip install --no-deps --no-build-isolation sam2==1.1.0"
# Seconds per propagated frame of sam2.1-tiny on a 2-core CPU (1024, 256: benchmarks engine_speed; 512: docs/architecture.md).
CPU_SECONDS_PER_FRAME = {1024: 3.7, 512: 0.7, 256: 0.22}


def require_sam2() -> None:
    """One line with the exact install command when SAM 2 is missing (its declared deps must not be used)."""
    if importlib.util.find_spec("sam2") is None:
        raise EngineError(f"SAM 2 is not installed in this Python; install it with: {SAM2_INSTALL}")


def cpu_note(spec: ModelSpec) -> str:
    """What a user running on the CPU should expect, and the faster setting."""
    nearest = min(CPU_SECONDS_PER_FRAME, key=lambda size: abs(size - spec.image_size))
    seconds = CPU_SECONDS_PER_FRAME[nearest] * (spec.image_size / nearest) ** 2  # cost grows with the area
    tiny = f"~{seconds:.2g} s per frame"
    expect = tiny if spec.name == "sam2.1-tiny" else f"more than sam2.1-tiny's {tiny}"
    # Only advise what is faster than the settings in use: a smaller model, a smaller image.
    faster = [
        *(["--model sam2.1-tiny"] if spec.name != "sam2.1-tiny" else []),
        *(["--image-size 512"] if spec.image_size > 512 else []),
    ]
    advice = f"; {' '.join(faster)} is faster" if faster else ""
    return f"running on the CPU: expect {expect} at {spec.image_size} px{advice}"


def parse_image_size(text: str) -> int:
    """`--image-size`: a multiple of 32 from 64 to 4096 (SAM 2's backbone works in 32-pixel strides)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value % 32 or not 64 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"{value} is not a multiple of 32 between 64 and 4096")
    return value


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --checkpoint, --device, --image-size, --batch-objects: the same in the app and in `track`."""
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=list(MODELS),
        metavar="NAME",
        help=f"SAM 2 model: {', '.join(MODELS)} (default {DEFAULT_MODEL}; see `sam2tui models`)",
    )
    parser.add_argument("--checkpoint", type=Path, metavar="FILE", help="a local checkpoint file of --model")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--image-size",
        type=parse_image_size,
        default=1024,
        metavar="PX",
        help="the model's input size, a multiple of 32 (default 1024; 512 or 256 are faster and coarser)",
    )
    parser.add_argument(
        "--batch-objects",
        action="store_true",
        help="propagate the objects that share their memory frames as one batch: faster with several objects,"
        " masks within float tolerance of sam2's own one-by-one loop (default off: sam2's loop)",
    )


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The ModelSpec of parsed model arguments; a missing --checkpoint file fails here, before any work."""
    spec = ModelSpec(args.model, args.checkpoint, args.device, args.image_size, args.batch_objects)
    model_info(spec.name)
    if spec.checkpoint is not None and not Path(spec.checkpoint).expanduser().is_file():
        raise CheckpointError(spec.checkpoint, "checkpoint file not found")
    return spec


def sam2_tracker(spec: ModelSpec, progress: ProgressFn) -> Tracker:
    """The real tracker; imported on the engine's thread so torch and sam2 load off the caller's thread."""
    from sam2tui.engine.sam2_tracker import Sam2Tracker

    return Sam2Tracker(spec, progress)


@dataclass(frozen=True)
class TrackerChoice:
    """The tracker the app and `track` build. `runs_sam2`: it is SAM 2 itself, which needs the sam2
    package and a checkpoint and is slow on a CPU; False for the testing hook's double."""

    factory: TrackerFactory
    runs_sam2: bool


def chosen_tracker() -> TrackerChoice:
    """SAM 2, unless the testing hook ($SAM2TUI_TEST_TRACKER) names another factory."""
    target = os.environ.get(TEST_TRACKER_ENV)
    if not target:
        return TrackerChoice(sam2_tracker, runs_sam2=True)
    module_name, _, attribute = target.partition(":")
    try:
        factory: TrackerFactory = getattr(importlib.import_module(module_name), attribute or "make_tracker")
    except (ImportError, AttributeError) as error:
        raise InputError(
            TEST_TRACKER_ENV, f"cannot import the tracker factory {target!r} ({error})"
        ) from None
    return TrackerChoice(factory, runs_sam2=False)
