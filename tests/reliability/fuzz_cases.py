"""Fuzzers that run in a child process (`python -m tests.reliability.fuzz_cases NAME FOLDER`), because what
they feed goes into C code (pycocotools, FFmpeg) that could crash or hang the interpreter: the parent sees a
signal or a timeout instead of losing the test session. Each prints "ok" when every example held.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sam2tui import masks
from sam2tui.errors import VideoError
from sam2tui.video import VideoSource

FUZZ = settings(
    max_examples=150,
    deadline=2000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---- RLE ----

ALPHABET = "".join(chr(c) for c in range(48, 112))  # what compressed counts are made of
junk_numbers = st.one_of(
    st.integers(-5, 70),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.none(),
)
junk_sizes = st.one_of(
    st.lists(st.integers(0, 64), min_size=2, max_size=2),
    st.lists(junk_numbers, max_size=3),
    st.tuples(st.integers(-3, 2**20), st.integers(-3, 2**20)),
    junk_numbers,
)
junk_counts = st.one_of(
    st.text(ALPHABET, max_size=40),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.lists(st.integers(-5, 100), max_size=6),
    junk_numbers,
)


@st.composite
def near_valid_rles(draw: st.DrawFn) -> dict[str, Any]:
    """A real RLE of a small random mask, then damaged: a character changed, dropped or added, or the size."""
    height, width = draw(st.integers(0, 24)), draw(st.integers(0, 24))
    seed = draw(st.integers(0, 2**32 - 1))
    mask = np.random.default_rng(seed).random((height, width)) < draw(st.floats(0, 1))
    rle = masks.encode(mask)
    counts: str = rle["counts"]
    how = draw(st.sampled_from(["change", "drop", "add", "size", "none"]))
    if how == "change" and counts:
        i = draw(st.integers(0, len(counts) - 1))
        counts = counts[:i] + draw(st.sampled_from(ALPHABET)) + counts[i + 1 :]
    elif how == "drop" and counts:
        i = draw(st.integers(0, len(counts) - 1))
        counts = counts[:i] + counts[i + 1 :]
    elif how == "add":
        i = draw(st.integers(0, len(counts)))
        counts = counts[:i] + draw(st.text(ALPHABET, min_size=1, max_size=3)) + counts[i:]
    size = list(rle["size"])
    if how == "size":
        size = [max(0, size[0] + draw(st.integers(-2, 2))), max(0, size[1] + draw(st.integers(-2, 2)))]
    return {"size": size, "counts": counts, "mask": mask}


def _check_rle(rle: Any) -> None:
    try:
        mask = masks.decode(rle)
    except ValueError:
        return
    height, width = rle["size"]
    assert mask.dtype == bool and mask.shape == (height, width)
    assert masks.area(rle) == int(mask.sum())
    assert masks.box(rle) == masks.box(mask)
    assert masks.iou(rle, mask) == 1.0


@FUZZ
@given(rle=st.one_of(st.fixed_dictionaries({"size": junk_sizes, "counts": junk_counts}), junk_numbers))
def fuzz_rle_junk(rle: Any) -> None:
    _check_rle(rle)
    for function in (masks.area, masks.box):
        with contextlib.suppress(ValueError):
            function(rle)


@FUZZ
@given(case=near_valid_rles())
def fuzz_rle_damaged(case: dict[str, Any]) -> None:
    mask = case.pop("mask")
    _check_rle(case)
    if masks.encode(mask)["counts"] == case["counts"] and list(mask.shape) == case["size"]:
        assert (masks.decode(case) == mask).all()


# ---- video files ----

SUFFIXES = [".mp4", ".mov", ".avi", ".mkv", ".webm", ".MP4"]


def _check_video(path: Path) -> None:
    try:
        video = VideoSource.open(path)
    except VideoError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    with video:
        assert len(video) > 0 and video.width > 0 and video.height > 0
        for index in sorted({0, len(video) // 2, len(video) - 1}):
            try:
                frame = video.frame(index)
            except VideoError:
                continue
            assert frame.shape == (video.height, video.width, 3) and frame.dtype == np.uint8


def video_fuzzers(folder: Path) -> list[Any]:
    real = (folder / "real.mp4").read_bytes()  # written by the test before it starts this process

    @FUZZ
    @given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
    def fuzz_video_random_bytes(data: bytes, suffix: str) -> None:
        path = folder / f"random{suffix}"
        path.write_bytes(data)
        _check_video(path)

    @settings(FUZZ, max_examples=40)
    @given(cut=st.integers(0, len(real) - 1), flips=st.lists(st.integers(0, len(real) - 1), max_size=8))
    def fuzz_video_damaged(cut: int, flips: list[int]) -> None:
        data = bytearray(real)
        for at in flips:
            data[at] ^= 0xFF
        path = folder / "damaged.mp4"
        path.write_bytes(bytes(data[: max(cut, len(real) // 2)] if flips else data[:cut]))
        _check_video(path)

    return [fuzz_video_random_bytes, fuzz_video_damaged]


def main(name: str, folder: Path) -> None:
    fuzzers = {
        "rle": [fuzz_rle_junk, fuzz_rle_damaged],
        "video": video_fuzzers(folder) if name == "video" else [],
    }
    for fuzzer in fuzzers[name]:
        fuzzer()
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
