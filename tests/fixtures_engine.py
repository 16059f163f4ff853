"""Fixtures of the engine tests: a random-weights SAM 2 checkpoint and a tiny clip as a JPEG folder.

The checkpoint is the real tiny architecture with seeded random weights (~149 MB, built once per test
session in a temporary folder, never committed); it is loaded back through the same code path as a
downloaded one. A test module gets the fixtures `random_checkpoint` and `clip_folder` by importing
`random_checkpoint_fixture` / `clip_folder_fixture` (`# noqa: F401`). `tracked_frames` tells which frames
a propagation stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

try:
    import pytest
except ImportError:  # benchmarks/gpu_check.sh imports the builders on machines without pytest
    pytest = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from sam2tui.session.store import SessionStore

TINY = "sam2.1-tiny"
TEST_IMAGE_SIZE = 256
CLIP_SIZE = (160, 120)  # width, height
CLIP_FRAMES = 6


def build_random_checkpoint(config: str, path: Path, seed: int = 0) -> Path:
    """Save `{"model": state_dict}` of the architecture in `config` with seeded random weights."""
    import torch
    from sam2.build_sam import build_sam2

    torch.manual_seed(seed)
    model = build_sam2(config, None, device="cpu", apply_postprocessing=False)
    torch.save({"model": model.state_dict()}, path)
    return path


def clip_frames(count: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE) -> list[np.ndarray]:
    """RGB frames: a smooth textured background, a bright square moving right, a dark disc moving left."""
    width, height = size
    rng = np.random.default_rng(7)
    coarse = rng.integers(60, 180, (height // 8 + 2, width // 8 + 2, 3)).astype(np.uint8)
    background = np.asarray(
        Image.fromarray(coarse).resize((width + 16, height + 16), Image.Resampling.BILINEAR)
    )
    ys, xs = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(count):
        rgb = background[:height, :width].copy()
        x0 = 20 + 4 * i
        rgb[40:80, x0 : x0 + 40] = (250, 240, 40)
        cx, cy = 120 - 3 * i, 70
        rgb[(xs - cx) ** 2 + (ys - cy) ** 2 < 15**2] = (20, 30, 160)
        frames.append(rgb)
    return frames


def square_mask(frame: int, size: tuple[int, int] = CLIP_SIZE) -> np.ndarray:
    width, height = size
    mask = np.zeros((height, width), bool)
    x0 = 20 + 4 * frame
    mask[40:80, x0 : x0 + 40] = True
    return mask


def write_jpeg_folder(folder: Path, frames: list[np.ndarray]) -> Path:
    """Frames as `00000.jpg`, ... (the names sam2's own JPEG loader expects)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, rgb in enumerate(frames):
        Image.fromarray(rgb).save(folder / f"{i:05d}.jpg", quality=95)
    return folder


def tracked_frames(store: SessionStore) -> list[int]:
    """The frames that have a stored result for any object, in order."""
    return sorted({result.frame for result in store.results()})


if pytest is not None:

    @pytest.fixture(scope="session", name="random_checkpoint")
    def random_checkpoint_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
        from sam2tui.engine.checkpoints import MODELS

        folder = tmp_path_factory.mktemp("ckpt")
        return build_random_checkpoint(MODELS[TINY].config, folder / "random_tiny.pt")

    @pytest.fixture(scope="session", name="clip_folder")
    def clip_folder_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
        return write_jpeg_folder(tmp_path_factory.mktemp("clip") / "frames", clip_frames())
