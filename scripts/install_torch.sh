#!/bin/sh
# Install PyTorch into the venv whose python is $1, without ever pulling a CUDA build onto a CPU machine.
# - A machine with a working NVIDIA driver gets PyPI's default (CUDA) build.
# - Otherwise a CPU build: the one a local wheel directory (pip's find-links) holds when there is one,
#   else PyTorch's CPU index. (PyPI's Linux torch is the CUDA build: several GB.)
set -eu
PY="$1"
TORCH_CPU_VERSION="${TORCH_CPU_VERSION:-2.13.0}"
if "$PY" -c "import torch" 2>/dev/null; then
    exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    exec "$PY" -m pip install -q "torch>=2.5.1"
fi
probe=$(mktemp -d)
if "$PY" -m pip download -q --no-index --no-deps -d "$probe" "torch==${TORCH_CPU_VERSION}" >/dev/null 2>&1 \
    && ls "$probe" | grep -q '+cpu'; then
    rm -rf "$probe"
    exec "$PY" -m pip install -q "torch==${TORCH_CPU_VERSION}"
fi
rm -rf "$probe"
exec "$PY" -m pip install -q "torch==${TORCH_CPU_VERSION}" --extra-index-url https://download.pytorch.org/whl/cpu
