#!/usr/bin/env bash
# GPU check of the engine: frames/s and peak GPU memory, ours vs the plain sam2 loop, on a CUDA machine.
#
#   sh benchmarks/gpu_check.sh [--frames N] [--cpu-smoke]
#
# Matrix: sam2.1-tiny and sam2.1-large at 1024 px, random weights, 1 and 3 objects prompted on frame 0,
# fp32 and bf16 autocast, ours (benchmarks/engine_speed.py run_ours: VideoSource -> lazy frames ->
# Sam2Tracker -> RLE -> SQLite) vs plain (sam2 init_state(jpeg folder) + propagate_in_video). Each run is a
# fresh subprocess. Prints a markdown table and writes it to $OUT/gpu.md (./gpu.md without $OUT).
#
# Setup on a bare machine: uses the python3 that has torch (PYTHON=... to choose). Missing pure-python
# dependencies and sam2 itself are installed offline from wheels/sdists carried in .whl/ (sam2 with
# --no-deps --no-build-isolation, SAM2_BUILD_CUDA=0: the optional hole-filling extension is skipped).
# --cpu-smoke runs the same logic on the CPU with a tiny configuration (128 px, 4 frames) to check the script.
set -eu

cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
FRAMES=60
SMOKE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --frames) FRAMES="$2"; shift 2 ;;
        --cpu-smoke) SMOKE=1; shift ;;
        *) echo "usage: $0 [--frames N] [--cpu-smoke]" >&2; exit 2 ;;
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

FRAMES="$FRAMES" SMOKE="$SMOKE" OUT="$OUT" PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" "$PY" - <<'EOF'
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.engine_speed import compare, random_checkpoint, write_frames

smoke = os.environ["SMOKE"] == "1"
if smoke:
    device, size, frames, models = "cpu", 128, 4, ["sam2.1-tiny"]
else:
    if not torch.cuda.is_available():
        sys.exit("gpu_check: CUDA is not available (use --cpu-smoke to check the script on a CPU)")
    device, size, frames, models = "cuda", 1024, int(os.environ["FRAMES"]), ["sam2.1-tiny", "sam2.1-large"]

gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
lines = [
    f"GPU check, {time.strftime('%Y-%m-%d %H:%M')}, {gpu}, torch {torch.__version__}, device {device}, "
    f"image size {size}, {frames} frames, random weights. Frames/s include loading the frames and the prompts.",
    "",
    "| model | objects | precision | ours frames/s | plain frames/s | ratio | ours peak GiB | plain peak GiB |",
    "|---|---|---|---|---|---|---|---|",
]


def gib(value):
    return f"{value / 1024:.2f}" if value is not None else "-"


started = time.monotonic()
with tempfile.TemporaryDirectory() as tmp:
    frames_dir = write_frames(Path(tmp) / "frames", frames)
    for model in models:
        checkpoint = random_checkpoint(model, Path(tmp))
        for objects in (1, 3):
            for autocast in (False, True):
                result = compare(frames_dir, checkpoint, image_size=size, model=model, objects=objects,
                                 device=device, autocast=autocast)
                ours, plain = result["ours"], result["plain"]
                row = (f"| {model} | {objects} | {'bf16 autocast' if autocast else 'fp32'} | {ours['fps']:.1f} "
                       f"| {plain['fps']:.1f} | {ours['fps'] / plain['fps']:.2f} | {gib(ours['gpu_peak_mib'])} "
                       f"| {gib(plain['gpu_peak_mib'])} |")
                print(row, flush=True)
                lines.append(row)
        checkpoint.unlink()
lines.append("")
lines.append(f"Total {time.monotonic() - started:.0f} s.")
table = "\n".join(lines)
print("\n" + table)
(Path(os.environ["OUT"]) / "gpu.md").write_text(table + "\n")
EOF
