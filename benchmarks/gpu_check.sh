#!/usr/bin/env bash
# GPU check of the engine: frames/s and peak GPU memory, ours vs the plain sam2 loop, on a CUDA machine.
#
#   sh benchmarks/gpu_check.sh [--frames N] [--pairs P] [--cpu-smoke]
#
# Matrix: sam2.1-tiny and sam2.1-large at 1024 px, random weights, objects prompted on frame 0: 1 and 4 in
# fp32, 1, 4 and 16 under bf16 autocast, and 4 and 16 under bf16 with ours batching the objects
# (--batch-objects); ours (benchmarks/engine_speed.py OursRunner: VideoSource -> lazy frames -> Sam2Tracker
# -> RLE -> SQLite) vs plain (sam2 init_state(jpeg folder) + propagate_in_video).
# Each variant runs in a process of its own that builds the model once; the runs alternate in ABBA pairs
# (engine_speed.compare), and a row's ratio is the median over its pairs of plain/ours s per frame.
# Prints a markdown table and writes it to $OUT/gpu.md (./gpu.md without $OUT).
#
# Setup on a bare machine: uses the python3 that has torch (PYTHON=... to choose). Missing pure-python
# dependencies and sam2 itself are installed offline from wheels/sdists carried in .whl/ (sam2 with
# --no-deps --no-build-isolation, SAM2_BUILD_CUDA=0: the optional hole-filling extension is skipped).
# --cpu-smoke runs the same logic on the CPU with a tiny configuration (128 px, 4 frames, one pair) to check
# the script.
set -eu

cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
FRAMES=60
PAIRS=3
SMOKE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --frames) FRAMES="$2"; shift 2 ;;
        --pairs) PAIRS="$2"; shift 2 ;;
        --cpu-smoke) SMOKE=1; shift ;;
        *) echo "usage: $0 [--frames N] [--pairs P] [--cpu-smoke]" >&2; exit 2 ;;
    esac
done
OUT="${OUT:-.}"
mkdir -p "$OUT"

if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "gpu_check: $PY has no torch; trying .whl/" >&2
    "$PY" -m pip install -q --no-index --find-links .whl torch
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"

# import name -> distribution name, for what the engine imports besides torch and sam2
missing=$("$PY" - <<'EOF'
import importlib
needed = {"hydra": "hydra-core", "iopath": "iopath", "omegaconf": "omegaconf", "platformdirs": "platformdirs",
          "tqdm": "tqdm", "PIL": "pillow", "numpy": "numpy", "pycocotools": "pycocotools",
          "cv2": "opencv-python-headless", "av": "av"}
for module, dist in needed.items():
    try:
        importlib.import_module(module)
    except Exception:
        print(dist)
EOF
)
if [ -n "$missing" ]; then
    echo "gpu_check: installing from .whl/: $missing" >&2
    # shellcheck disable=SC2086
    "$PY" -m pip install -q --no-index --find-links .whl $missing
fi
if ! "$PY" -c "import sam2.build_sam" 2>/dev/null; then
    echo "gpu_check: installing sam2 from .whl/" >&2
    SAM2_BUILD_CUDA=0 "$PY" -m pip install -q --no-deps --no-build-isolation --no-index --find-links .whl sam2
fi

FRAMES="$FRAMES" PAIRS="$PAIRS" SMOKE="$SMOKE" OUT="$OUT" PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" "$PY" - <<'EOF'
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.engine_speed import NOISE_RULE, compare, random_checkpoint, write_frames

smoke = os.environ["SMOKE"] == "1"
pairs = int(os.environ["PAIRS"])
if smoke:
    device, size, frames, models, pairs = "cpu", 128, 4, ["sam2.1-tiny"], 1
else:
    if not torch.cuda.is_available():
        sys.exit("gpu_check: CUDA is not available (use --cpu-smoke to check the script on a CPU)")
    device, size, frames, models = "cuda", 1024, int(os.environ["FRAMES"]), ["sam2.1-tiny", "sam2.1-large"]
# (bf16 autocast?, ours batches objects?) -> object counts: fp32 as a reference, bf16 (the default on CUDA)
# up to 16, and bf16 with batched objects
matrix = {(False, False): (1, 4), (True, False): (1, 4, 16), (True, True): (4, 16)}

gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
lines = [
    f"GPU check, {time.strftime('%Y-%m-%d %H:%M')}, {gpu}, torch {torch.__version__}, device {device}, "
    f"image size {size}, {frames} frames, random weights, {pairs} ABBA pair(s) of runs per row. Frames/s "
    "(medians over the runs) include loading the frames and the prompts; ratio = median over the pairs of "
    f"plain/ours s per frame (>= 1: ours at least as fast), with its IQR; {NOISE_RULE}.",
    "",
    "| model | objects | precision | ours batches objects | ours frames/s | plain frames/s | ratio | IQR "
    "| verdict | ours peak GiB | plain peak GiB |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]


def gib(runs):
    peaks = [run["gpu_peak_mib"] for run in runs if run["gpu_peak_mib"] is not None]
    return f"{max(peaks) / 1024:.2f}" if peaks else "-"


started = time.monotonic()
with tempfile.TemporaryDirectory() as tmp:
    frames_dir = write_frames(Path(tmp) / "frames", frames)
    for model in models:
        checkpoint = random_checkpoint(model, Path(tmp))
        for (autocast, batched), objects in matrix.items():
            results = compare(frames_dir, checkpoint, image_size=size, model=model, objects=objects,
                              pairs=pairs, device=device, autocast=autocast, batch_objects=batched)
            for count, result in results.items():
                ratio = result.ratio()
                verdict = result.verdict(1.0)
                verdict = {True: "ours >= plain", False: "ours slower"}.get(verdict, verdict)
                row = (f"| {model} | {count} | {'bf16 autocast' if autocast else 'fp32'} "
                       f"| {'yes' if batched else 'no'} "
                       f"| {1 / result.median('ours', 's_per_frame'):.1f} "
                       f"| {1 / result.median('plain', 's_per_frame'):.1f} | {ratio.median:.2f} "
                       f"| {ratio.q1:.2f}-{ratio.q3:.2f} | {verdict} | {gib(result.ours)} "
                       f"| {gib(result.plain)} |")
                print(row, flush=True)
                lines.append(row)
        checkpoint.unlink()
lines.append("")
lines.append(f"Total {time.monotonic() - started:.0f} s.")
table = "\n".join(lines)
print("\n" + table)
(Path(os.environ["OUT"]) / "gpu.md").write_text(table + "\n")
EOF
