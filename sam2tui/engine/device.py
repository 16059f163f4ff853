"""Which torch device runs the model: `auto` picks CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

from sam2tui.errors import EngineError


def resolve_device(name: str) -> torch.device:
    """The torch device for a `--device` value (auto | cpu | cuda | cuda:N | mps)."""
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise EngineError(
                "--device mps: this torch has no usable MPS (Apple GPU) backend; use --device cpu"
            )
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            build = (
                "a CPU-only build"
                if torch.version.cuda is None
                else f"CUDA {torch.version.cuda}, no GPU visible"
            )
            raise EngineError(
                f"--device {name}: CUDA is not available (torch {torch.__version__}: {build}); "
                "install a CUDA build of torch or use --device cpu"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise EngineError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return device
    raise EngineError(f"--device {name}: unknown device; use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
