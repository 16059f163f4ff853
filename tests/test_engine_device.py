"""Device choice: auto picks what exists; asking for a missing CUDA or MPS is a clear one-line error."""

from __future__ import annotations

import pytest
import torch

from sam2tui.engine.device import resolve_device
from sam2tui.errors import EngineError


def test_auto_and_cpu() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type in (expected, "mps")
    assert resolve_device(" CPU ") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_says_so() -> None:
    with pytest.raises(EngineError) as error:
        resolve_device("cuda")
    message = str(error.value)
    assert message.startswith("--device cuda: CUDA is not available") and "--device cpu" in message
    assert "\n" not in message


def test_unknown_device() -> None:
    with pytest.raises(EngineError, match="unknown device; use auto, cpu, cuda, cuda:N or mps"):
        resolve_device("tpu")
