"""VideoSource: exact frame counts, seeking that lands on exactly frame i, folders, bad input, threads."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

import sam2tui.video as video_module
from sam2tui.errors import VideoError
from sam2tui.video import VideoFingerprint, VideoSource, natural_key
from tests.clipgen import make_clip

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "sample.mp4"


def decode_all(path: Path) -> list[np.ndarray]:
    """Reference: every frame by plain sequential PyAV decoding, independent of VideoSource."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def shuffled(count: int, seed: int = 0) -> list[int]:
    return [int(i) for i in np.random.default_rng(seed).permutation(count)]


def assert_random_access_exact(path: Path, reference: Sequence[np.ndarray], order: Sequence[int]) -> None:
    """Frames read in `order` (one-frame cache: every read decodes) equal the sequential reference."""
    with VideoSource.open(path, cache_frames=1, prefetch=0) as video:
        assert len(video) == len(reference)
        for index in order:
            assert np.array_equal(video.frame(index), reference[index]), f"frame {index} differs"


def nearest_source(frame: np.ndarray, source: Sequence[np.ndarray]) -> int:
    return int(np.argmin([np.abs(frame.astype(np.int16) - s).mean() for s in source]))


# --- the committed sample ------------------------------------------------------------------------------


def test_sample_clip_count_size_rate_and_frames() -> None:
    with VideoSource.open(SAMPLE) as video:
        assert (len(video), video.frame_count, video.width, video.height) == (250, 250, 640, 360)
        assert video.fps == 25.0
        frame = video.frame(0)
        assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
        assert SAMPLE.stat().st_size < 2_000_000


def test_sample_sequential_equals_random_order() -> None:
    with VideoSource.open(SAMPLE, cache_frames=1, prefetch=0) as video:
        sequential = [video.frame(i) for i in range(len(video))]
    assert_random_access_exact(SAMPLE, sequential, shuffled(len(sequential))[:60])


# --- generated clips: containers, codecs, timestamps ---------------------------------------------------

RNG_PTS = [int(p) for p in np.cumsum(np.random.default_rng(5).integers(15, 90, 24)) - 15]
CLIPS: dict[str, dict[str, Any]] = {
    "h264_bframes.mp4": {"gop": 5, "bframes": 2},
    "h264.mkv": {"gop": 5},
    "h264.mov": {"gop": 7},
    "mpeg4_bframes.avi": {"gop": 5},
    "vp9.webm": {"gop": 6, "bframes": 0},
    "open_gop.mp4": {"gop": 6, "options": {"x264-params": "scenecut=0:open-gop=1"}},
    "with_audio.mp4": {"gop": 5, "with_audio": True},
    "with_audio.mkv": {"gop": 5, "with_audio": True},
    "vfr.mp4": {"gop": 5, "pts": RNG_PTS, "time_base": Fraction(1, 1000)},
    "vfr_late_start.mkv": {"gop": 5, "pts": [p + 7000 for p in RNG_PTS], "time_base": Fraction(1, 1000)},
    "late_start.mp4": {"gop": 5, "pts": [40 * i + 3000 for i in range(24)], "time_base": Fraction(1, 1000)},
    "UPPER_CASE.MP4": {"gop": 4},
}


@pytest.mark.parametrize("name", list(CLIPS))
def test_generated_clip_count_and_random_access(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    source = make_clip(path, frames=24, size=(96, 64), **CLIPS[name])
    reference = decode_all(path)
    assert len(reference) == 24
    assert_random_access_exact(path, reference, shuffled(24))
    with VideoSource.open(path) as video:
        assert len(video) == 24 and (video.width, video.height) == (96, 64)
        assert [nearest_source(video.frame(i), source) for i in range(24)] == list(range(24))


def test_variable_frame_rate_reports_average_rate(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    make_clip(path, frames=24, gop=5, pts=RNG_PTS, time_base=Fraction(1, 1000))
    with VideoSource.open(path) as video:
        span = (RNG_PTS[-1] - RNG_PTS[0]) / 1000
        assert video.fps == pytest.approx(24 / (span + (RNG_PTS[-1] - RNG_PTS[-2]) / 1000), rel=0.1)
        assert video.fps != round(video.fps)


def test_non_integer_fps(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mp4"
    make_clip(path, frames=6, fps=Fraction(30000, 1001))
    with VideoSource.open(path) as video:
        assert video.fps == pytest.approx(29.97, abs=0.001)
        assert video.fingerprint().describe() == "ntsc.mp4 (6 frames, 96x64, 29.97 fps)"


@pytest.mark.parametrize(
    ("name", "size", "encode"),
    [
        ("odd_444.mp4", (853, 48), {"pix_fmt": "yuv444p"}),
        ("odd_420.avi", (853, 47), {}),
    ],
)
def test_odd_frame_sizes(tmp_path: Path, name: str, size: tuple[int, int], encode: dict[str, str]) -> None:
    path = tmp_path / name
    make_clip(path, frames=8, size=size, gop=4, **encode)
    reference = decode_all(path)
    with VideoSource.open(path) as video:
        assert (video.width, video.height) == size
        frame = video.frame(5)
        assert frame.shape == (size[1], size[0], 3) and frame.flags.c_contiguous
        assert np.array_equal(frame, reference[5])


def test_reliable_containers_are_counted_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mp4, avi = tmp_path / "a.mp4", tmp_path / "a.avi"
    make_clip(mp4, frames=10)
    make_clip(avi, frames=10)
    calls: list[Path] = []
    original = video_module._index_by_decoding

    def counting(path: Path, declared: int) -> video_module._StreamIndex:
        calls.append(path)
        return original(path, declared)

    monkeypatch.setattr(video_module, "_index_by_decoding", counting)
    assert len(VideoSource.open(mp4)) == 10
    assert calls == []
    assert len(VideoSource.open(avi)) == 10  # AVI: counted by decoding
    assert calls == [avi]


# --- cache, prefetch, threads --------------------------------------------------------------------------


def test_frames_are_read_only_and_cached(tmp_path: Path) -> None:
    path = tmp_path / "c.mp4"
    make_clip(path, frames=12, gop=4)
    with VideoSource.open(path, cache_frames=4, prefetch=0) as video:
        first = video.frame(3)
        assert video.frame(3) is first
        with pytest.raises(ValueError):
            first[0, 0, 0] = 1
        for i in range(6, 12):
            video.frame(i)
        assert video.frame(3) is not first and np.array_equal(video.frame(3), first)


def test_prefetch_decodes_the_next_frames(tmp_path: Path) -> None:
    path = tmp_path / "p.mp4"
    make_clip(path, frames=20, gop=10)
    with VideoSource.open(path, cache_frames=16, prefetch=4) as video:
        video.frame(8)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and video._cached(12) is None:
            time.sleep(0.01)
        assert all(video._cached(i) is not None for i in range(9, 13))
        assert video._cached(13) is None


def test_prefetch_only_decodes_on_without_seeking(tmp_path: Path) -> None:
    path = tmp_path / "s.mp4"
    make_clip(path, frames=40, gop=10)
    with VideoSource.open(path, prefetch=0) as video:
        video.frame(12)
        video.frame(25)  # past a keyframe: the other decoder seeks, the first stays at 12
        reader = video._reader
        assert reader.near(13, 4) and reader.near(16, 4) and reader.near(26, 4)
        assert not reader.near(17, 4)  # too far ahead
        assert not reader.near(31, 4)  # past a keyframe: reading it would seek
        assert not reader.near(5, 4)  # behind both decoders


def test_two_readers_in_different_places_do_not_make_each_other_seek(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "two.mp4"
    make_clip(path, frames=60, gop=25)
    reference = decode_all(path)
    seeks: list[int] = []
    original = video_module._Cursor._seek_before

    def counting(cursor: video_module._Cursor, index: int) -> None:
        seeks.append(index)
        original(cursor, index)

    monkeypatch.setattr(video_module._Cursor, "_seek_before", counting)
    with VideoSource.open(path, cache_frames=1, prefetch=0) as video:
        for ui, engine in zip(range(1, 21), range(30, 50), strict=True):
            assert np.array_equal(video.frame(ui), reference[ui])
            assert np.array_equal(video.frame(engine), reference[engine])
    assert seeks == [0, 30]  # opening reads frame 0; then one seek for the second reader, none after


def test_backward_steps_hit_frames_cached_on_the_way(tmp_path: Path) -> None:
    path = tmp_path / "b.mp4"
    make_clip(path, frames=30, gop=30)
    with VideoSource.open(path, cache_frames=32, prefetch=0) as video:
        video.frame(25)
        assert all(video._cached(i) is not None for i in range(25 - video_module.BACKFILL, 25))


def test_concurrent_readers_get_exact_frames(tmp_path: Path) -> None:
    path = tmp_path / "t.mp4"
    make_clip(path, frames=40, gop=8)
    reference = decode_all(path)
    errors: list[str] = []
    with VideoSource.open(path, cache_frames=8, prefetch=4) as video:

        def reader(seed: int) -> None:
            for index in shuffled(40, seed) + list(range(40)):
                if not np.array_equal(video.frame(index), reference[index]):
                    errors.append(f"frame {index} (reader {seed})")

        threads = [threading.Thread(target=reader, args=(seed,)) for seed in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def test_close_stops_the_prefetcher_and_refuses_reads(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    make_clip(path, frames=10)
    video = VideoSource.open(path)
    video.frame(0)
    prefetcher = video._prefetcher
    video.close()
    video.close()
    assert prefetcher is not None and not prefetcher.is_alive()
    with pytest.raises(VideoError, match="closed"):
        video.frame(1)


def test_out_of_range_is_also_an_index_error(tmp_path: Path) -> None:
    path = tmp_path / "r.mp4"
    make_clip(path, frames=3)
    with VideoSource.open(path) as video, pytest.raises(IndexError):
        video.frame(3)


@pytest.mark.parametrize("index", [-1, 10, 1.5])
def test_bad_index_is_a_video_error(tmp_path: Path, index: object) -> None:
    path = tmp_path / "i.mp4"
    make_clip(path, frames=10)
    with VideoSource.open(path) as video, pytest.raises(VideoError, match=f"^{re.escape(str(path))}: "):
        video.frame(index)  # type: ignore[arg-type]


def test_numpy_integer_index(tmp_path: Path) -> None:
    path = tmp_path / "n.mp4"
    make_clip(path, frames=5)
    with VideoSource.open(path) as video:
        assert np.array_equal(video.frame(np.int64(3)), video.frame(3))  # type: ignore[arg-type]


# --- fingerprint ---------------------------------------------------------------------------------------


def test_fingerprint_is_stable_and_tells_videos_apart(tmp_path: Path) -> None:
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    make_clip(a, frames=9)
    make_clip(b, frames=9, gop=3)  # same pictures, other encoding: other decoded pixels
    with VideoSource.open(a) as first, VideoSource.open(a) as again, VideoSource.open(b) as other:
        fingerprint = first.fingerprint()
        assert fingerprint is first.fingerprint()  # computed once
        assert fingerprint == again.fingerprint()
        assert fingerprint.digest != other.fingerprint().digest
        assert len(fingerprint.digest) == 40
        assert (fingerprint.frame_count, fingerprint.width, fingerprint.height) == (9, 96, 64)
        assert fingerprint.path == str(a.resolve())
    assert isinstance(fingerprint, VideoFingerprint)
    assert VideoFingerprint("/x/clip.mp4", 300, 1280, 720, 30000 / 1001, "0" * 40).describe() == (
        "clip.mp4 (300 frames, 1280x720, 29.97 fps)"
    )


# --- image folders -------------------------------------------------------------------------------------


def write_image(path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb).save(path)


def test_natural_key_orders_digit_runs_by_value() -> None:
    names = ["frame10.png", "frame2.png", "Frame1.png", "frame02.png", "a.png"]
    assert sorted(names, key=natural_key) == [
        "a.png",
        "Frame1.png",
        "frame02.png",
        "frame2.png",
        "frame10.png",
    ]


def test_image_folder_natural_order_and_mixed_formats(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    colours = {}
    for n in (1, 2, 10, 11, 100):
        rgb = np.full((12, 20, 3), n, np.uint8)
        write_image(folder / f"frame{n}.png", rgb)
        colours[n] = rgb
    write_image(folder / "frame3.JPG", np.full((12, 20, 3), 128, np.uint8))
    (folder / "notes.txt").write_text("ignored")
    (folder / ".hidden.png").write_bytes(b"ignored")
    with VideoSource.open(folder) as video:
        assert (len(video), video.width, video.height) == (6, 20, 12)
        assert video.fps == video_module.DEFAULT_FPS
        for index, n in enumerate((1, 2)):
            assert np.array_equal(video.frame(index), colours[n])
        assert abs(int(video.frame(2).mean()) - 128) <= 2  # frame3.JPG, lossy
        for index, n in zip(range(3, 6), (10, 11, 100), strict=True):
            assert np.array_equal(video.frame(index), colours[n])
        frame = video.frame(0)
        assert frame.dtype == np.uint8 and frame.flags.c_contiguous


def test_image_folder_converts_grey_and_rgba_to_rgb(tmp_path: Path) -> None:
    Image.new("L", (8, 6), 50).save(tmp_path / "0.png")
    Image.new("RGBA", (8, 6), (1, 2, 3, 4)).save(tmp_path / "1.png")
    with VideoSource.open(tmp_path) as video:
        assert video.frame(0).shape == (6, 8, 3) and video.frame(0)[0, 0].tolist() == [50, 50, 50]
        assert video.frame(1)[0, 0].tolist() == [1, 2, 3]


def test_image_folder_with_mixed_sizes_names_the_odd_file(tmp_path: Path) -> None:
    write_image(tmp_path / "0001.png", np.zeros((10, 10, 3), np.uint8))
    write_image(tmp_path / "0002.png", np.zeros((10, 10, 3), np.uint8))
    write_image(tmp_path / "0003.jpg", np.zeros((12, 10, 3), np.uint8))
    with pytest.raises(VideoError, match=r"0003\.jpg is 10x12") as caught:
        VideoSource.open(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path}: ")


def test_empty_folder_and_folder_without_images(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoError, match=f"^{re.escape(str(empty))}: .*no .jpg"):
        VideoSource.open(empty)
    (empty / "readme.txt").write_text("no frames here")
    (empty / "sub").mkdir()
    with pytest.raises(VideoError, match=f"^{re.escape(str(empty))}: "):
        VideoSource.open(empty)


def test_unreadable_image_in_folder(tmp_path: Path) -> None:
    write_image(tmp_path / "0.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "1.png").write_bytes(b"not a png")
    with pytest.raises(VideoError, match=r"1\.png: not a readable image"):
        VideoSource.open(tmp_path)


# --- bad input -----------------------------------------------------------------------------------------


def cut(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    out = path.with_name(f"cut_{path.name}")
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def bad_inputs(tmp: Path) -> dict[str, Path]:
    make_clip(tmp / "whole.mp4", frames=30)
    make_clip(tmp / "faststart.mp4", frames=30, container_options={"movflags": "faststart"})
    make_clip(tmp / "whole.mkv", frames=30)
    make_clip(tmp / "whole.avi", frames=30)
    random_bytes = tmp / "random.mp4"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4000))
    text_mp4 = tmp / "text.mp4"
    text_mp4.write_text("hello, not a video\n")
    text = tmp / "notes.txt"
    text.write_text("hello\n")
    empty = tmp / "empty.mov"
    empty.write_bytes(b"")
    return {
        "missing": tmp / "missing.mp4",
        "random bytes": random_bytes,
        "text with .mp4": text_mp4,
        "text file": text,
        "empty file": empty,
        "truncated mp4": cut(tmp / "whole.mp4", 0.6),
        "truncated faststart mp4": cut(tmp / "faststart.mp4", 0.6),
        "truncated mkv": cut(tmp / "whole.mkv", 0.6),
        "truncated avi": cut(tmp / "whole.avi", 0.5),
    }


def test_bad_inputs_raise_one_line_video_errors_naming_the_path(tmp_path: Path) -> None:
    for what, path in bad_inputs(tmp_path).items():
        with pytest.raises(VideoError) as caught:
            VideoSource.open(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: "), what
        assert "\n" not in message, what
        assert caught.value.path == path


# --- the real clips in ../shared/data ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "count", "size"),
    [
        (("cups", "02_cups.mp4"), 300, (1280, 720)),
        (("bedroom", "bedroom.mp4"), 200, (960, 540)),
        (("davis_bear_mp4", "bear.mp4"), 82, (854, 480)),
        (("davis_blackswan", "JPEGImages"), 50, (854, 480)),
    ],
)
def test_real_clip_counts(
    shared_data: Path, parts: tuple[str, str], count: int, size: tuple[int, int]
) -> None:
    path = shared_data.joinpath(*parts)
    with VideoSource.open(path) as video:
        assert len(video) == count
        assert (video.width, video.height) == size
        assert video.frame(count - 1).shape == (size[1], size[0], 3)


def test_cups_with_audio_random_access_matches_sequential(shared_data: Path) -> None:
    path = shared_data / "cups" / "02_cups.mp4"
    with av.open(str(path)) as container:
        assert container.streams.audio, "cups is expected to carry an audio track"
    wanted = [299, 250, 0, 249, 137, 251, 1]
    reference: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                reference[index] = frame.to_ndarray(format="rgb24")
    with VideoSource.open(path, cache_frames=1, prefetch=0) as video:
        assert video.fps == pytest.approx(29.97, abs=0.01)
        for index in wanted:
            assert np.array_equal(video.frame(index), reference[index]), f"frame {index} differs"


def test_damaged_metadata_is_a_video_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyAV decodes container tags as UTF-8 on open; a damaged tag (found by the fuzzer) is bad input."""

    def damaged(*args: object, **kwargs: object) -> None:
        raise UnicodeDecodeError("utf-8", b"\x96", 0, 1, "invalid start byte")

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 64)
    monkeypatch.setattr(av, "open", damaged)
    with pytest.raises(VideoError, match=r"clip\.mp4: not a readable video \(damaged metadata\)"):
        VideoSource.open(clip)
