"""LazyFrames, the model's input frames: sam2's JPEG loader's values, prepared without torch ops."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch
from sam2.utils.misc import load_video_frames_from_jpg_images

from sam2tui.engine.sam2_tracker import FRAME_WORKERS, IMG_STD, LazyFrames, resize_on_device
from sam2tui.video import VideoSource
from tests.fixtures_engine import clip_frames, write_jpeg_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("workers", [0, FRAME_WORKERS])
@pytest.mark.parametrize(("clip_size", "image_size"), [((160, 120), 256), ((640, 360), 1024)])
def test_frames_equal_sam2s_jpeg_loader_bit_for_bit(
    tmp_path: Path, clip_size: tuple[int, int], image_size: int, workers: int
) -> None:
    folder = write_jpeg_folder(tmp_path / "clip", clip_frames(3, clip_size))
    theirs, height, width = load_video_frames_from_jpg_images(
        str(folder), image_size, offload_video_to_cpu=True, compute_device=torch.device("cpu")
    )
    with VideoSource.open(folder) as video:
        before = set(threading.enumerate())
        lazy = LazyFrames(video, image_size, workers=workers)
        try:
            assert (lazy.height, lazy.width) == (height, width)
            for i in range(len(theirs)):
                ours = lazy[i]
                assert ours.dtype == torch.float32 and ours.is_contiguous()
                assert torch.equal(ours, theirs[i])
            if not workers:  # the CPU's way: prepared on the asking thread, nothing decoded ahead beside it
                assert set(threading.enumerate()) <= before
        finally:
            lazy.close()


@pytest.mark.parametrize(("clip_size", "image_size"), [((160, 120), 256), ((640, 360), 1024)])
def test_frames_resized_on_the_device_stay_close_to_sam2s(
    tmp_path: Path, clip_size: tuple[int, int], image_size: int
) -> None:
    """The CUDA path (run here on the CPU): torch's antialiased bicubic resize from uint8 against PIL's,
    which rounds to uint8 between its two passes. Measured: mean 0.2, max 7 uint8 levels."""
    folder = write_jpeg_folder(tmp_path / "clip", clip_frames(3, clip_size))
    level = 1 / 255 / min(IMG_STD)  # one uint8 step, normalised
    with VideoSource.open(folder) as video:
        lazy = LazyFrames(video, image_size)
        try:
            for i in range(len(video)):
                on_device = resize_on_device(video.frame(i), image_size, torch.device("cpu"))
                assert on_device.shape == lazy[i].shape and on_device.dtype == torch.float32
                difference = (on_device - lazy[i]).abs()
                assert difference.mean().item() < 0.5 * level and difference.max().item() < 10 * level
        finally:
            lazy.close()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_frame_threads_start_no_openmp_team() -> None:
    """The frames threads run beside the model: a torch op there would start an OpenMP team of its own
    (threads that compete with the model's on a small CPU), as torch does for each thread that calls it.
    Only the frames threads themselves may appear."""
    script = textwrap.dedent(
        """
        import os, numpy as np, torch
        from sam2tui.engine.sam2_tracker import FRAME_WORKERS, IMG_STD, LazyFrames, resize_on_device

        class Clip:
            width, height = 640, 360
            def __len__(self): return 4
            def frame(self, index, *, prefetch=True): return np.full((360, 640, 3), 40 * index, np.uint8)

        torch.set_num_threads(2)
        torch.ones(1 << 20).add_(1)  # the main thread's team exists before the frames come
        import cv2  # OpenCV's pool is one per process (not one per calling thread): started here too
        cv2.LUT(np.zeros((512, 512), np.uint8), np.zeros(256, np.float32))
        before = len(os.listdir("/proc/self/task"))
        lazy = LazyFrames(Clip(), 512, workers=2)
        for i in range(4):
            lazy[i]
        during = len(os.listdir("/proc/self/task"))
        lazy.close()
        print(before, during)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    before, during = map(int, done.stdout.split())
    assert before < during <= before + 2  # the frames threads (two at most), no OpenMP workers of theirs
