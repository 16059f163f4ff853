"""Every parser of user files, fed junk: prompts files (with mask PNGs), session files (random bytes,
truncated, damaged pages and values, other schema versions, other programs' SQLite files), RLEs, checkpoints
and video files. Only the matching `sam2tui.errors` class may come out (for the CLI: exit 2 and one line),
never another exception, a crash or a hang: hypothesis's deadline bounds each example, and what feeds C code
(pycocotools, FFmpeg) runs in a child process with a timeout (see fuzz_cases.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from sam2tui import masks
from sam2tui.cli import main
from sam2tui.engine.checkpoints import load_state_dict, load_weights
from sam2tui.errors import CheckpointError, PromptsError, SessionError
from sam2tui.session.history import History
from sam2tui.session.store import SessionStore
from sam2tui.track.prompts_file import load_prompts
from sam2tui.values import Prompt
from tests.clipgen import make_clip
from tests.reliability.helpers import REPO, child_env, disc_results, fake_fingerprint

W, H, N = 64, 48, 5
FUZZ = settings(
    max_examples=120,
    deadline=3000,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def one_line(message: str) -> None:
    assert "\n" not in message and message.strip(), repr(message)


# ---- prompts files ----

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["id", "frame", "points", "labels", "box", "mask", "x"]), children)
    ),
    max_leaves=20,
)
numbers = st.one_of(
    st.integers(-5, 200), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=2)
)
points = st.lists(st.lists(numbers, min_size=0, max_size=3), max_size=3) | json_values
prompt_entries = st.fixed_dictionaries(
    {"frame": st.integers(-2, N + 2) | json_values},
    optional={
        "points": points,
        "labels": st.lists(st.integers(-1, 2), max_size=3) | json_values,
        "box": st.lists(numbers, min_size=3, max_size=5) | json_values,
        "mask": st.sampled_from(["m.png", "missing.png", "", "../m.png", "/etc/passwd", "/dev/zero", "fifo"])
        | json_values,
        "surprise": json_values,
    },
)
objects = st.fixed_dictionaries(
    {"id": st.integers(-1, 4) | json_values},
    optional={
        "name": st.text(max_size=8) | json_values,
        "class": st.text(max_size=8) | json_values,
        "color": st.lists(st.integers(-1, 300), max_size=4) | json_values,
        "prompts": st.lists(prompt_entries, max_size=3) | json_values,
    },
)
coordinates = st.floats(0, W) | st.integers(-1, W + 1)
plausible_entries = st.fixed_dictionaries(
    {"frame": st.integers(0, N - 1)},
    optional={
        "points": st.lists(st.tuples(coordinates, coordinates).map(list), min_size=1, max_size=3),
        "box": st.tuples(coordinates, coordinates, coordinates, coordinates).map(list),
        "mask": st.just("m.png"),
    },
)
plausible_objects = st.fixed_dictionaries(
    {"id": st.integers(1, 3), "prompts": st.lists(plausible_entries, min_size=1, max_size=2)},
    optional={"name": st.text(max_size=8), "class": st.text(max_size=8)},
)
prompts_documents = st.one_of(
    st.fixed_dictionaries({"objects": st.lists(plausible_objects, min_size=1, max_size=2)}),
    st.fixed_dictionaries({"objects": st.lists(objects, max_size=3)}),
    st.fixed_dictionaries({"objects": json_values}),
    json_values,
)


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


@st.composite
def mask_files(draw: st.DrawFn) -> bytes:
    """A mask PNG as users make them (any mode, any size, maybe empty) or damaged, or not a PNG at all."""
    height, width = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["L", "1", "RGB", "RGBA", "P", "I;16", "empty", "truncated", "junk"]))
    if kind == "junk":
        return draw(st.binary(max_size=200))
    if kind == "empty":
        return png_bytes(np.zeros((height, width), np.uint8))
    shape = (height, width, 3 if kind == "RGB" else 4) if kind in ("RGB", "RGBA") else (height, width)
    array = (rng.random(shape) < 0.3).astype(np.uint8) * 255
    if kind == "1":
        data = png_bytes(array > 0)
    elif kind == "I;16":
        data = png_bytes(array.astype(np.uint16) * 200)
    elif kind == "P":
        image = Image.fromarray(array).convert("P")
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        data = buffer.getvalue()
    else:
        data = png_bytes(array)
    if kind == "truncated":
        data = png_bytes(array)[: draw(st.integers(0, len(png_bytes(array)) - 1))]
    return data


def try_load(path: Path) -> None:
    try:
        loaded = load_prompts(path, width=W, height=H, frame_count=N, warn=lambda message: None)
    except PromptsError as error:
        one_line(str(error))
        assert str(path) in str(error)
        event(f"refused: {str(error).split(': ', 2)[-1][:30]}")
        return
    event("loaded")
    for prompt in loaded.prompts:  # what loads is usable as it is
        assert 0 <= prompt.frame < N
        if prompt.mask is not None:
            assert masks.decode(prompt.mask).shape == (H, W)


@pytest.fixture(scope="module")
def prompts_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prompts")
    import os

    os.mkfifo(folder / "fifo")  # a path that would hang whoever opens it for reading
    return folder


@FUZZ
@given(document=prompts_documents, mask=mask_files())
def test_fuzz_prompts_file(prompts_folder: Path, document: Any, mask: bytes) -> None:
    (prompts_folder / "m.png").write_bytes(mask)
    path = prompts_folder / "prompts.json"
    path.write_text(json.dumps(document))
    try_load(path)


@settings(FUZZ, max_examples=20)
@given(data=st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
def test_fuzz_prompts_file_bytes(prompts_folder: Path, data: bytes) -> None:
    path = prompts_folder / "raw.json"
    path.write_bytes(data)
    try_load(path)


@pytest.mark.parametrize(
    "mask", ["/etc/passwd", "../../../../../../etc/shadow", "/dev/zero", "fifo", "/proc/self/mem", "m.png/x"]
)
def test_prompts_mask_paths_outside_are_read_as_pngs_only(prompts_folder: Path, mask: str) -> None:
    """Reading a path the user wrote is fine; a non-PNG, a device or a FIFO is refused at once, not opened."""
    (prompts_folder / "m.png").write_bytes(png_bytes(np.full((H, W), 255, np.uint8)))
    path = prompts_folder / "outside.json"
    path.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "mask": mask}]}]}))
    with pytest.raises(PromptsError) as refused:
        load_prompts(path, width=W, height=H, frame_count=N)
    one_line(str(refused.value))


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG file that claims a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_prompts_mask_png_claiming_a_huge_size_is_refused(prompts_folder: Path) -> None:
    (prompts_folder / "bomb.png").write_bytes(png_header(60_000, 60_000))
    path = prompts_folder / "bomb.json"
    path.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "mask": "bomb.png"}]}]}))
    with pytest.raises(PromptsError):
        load_prompts(path, width=W, height=H, frame_count=N)


# ---- session files ----


@pytest.fixture(scope="module")
def valid_session(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a closed session with an object, prompts, results, a setting and undo history."""
    path = tmp_path_factory.mktemp("valid") / "clip.sam2tui"
    with SessionStore.open(path, fake_fingerprint(N, W, H)) as store:
        history = History(store)
        history.add_object("disc", "ball")
        history.add_prompt(Prompt.click(0, 1, 10.0, 20.0))
        history.add_prompt(Prompt.rectangle(1, 1, (1, 2, 30, 40)))
        store.put_results(disc_results(range(N), 1, W, H))
        store.set_setting("review", {"low_score": 2.0})
    return path.read_bytes()


def read_everything(path: Path) -> None:
    """Open a session file and read all of it as the app does; only SessionError may come out."""
    try:
        with SessionStore.open(path) as store:
            store.objects()
            store.prompts()
            store.frame_prompts()
            store.prompted_frames()
            for result in store.results():
                with contextlib.suppress(ValueError):  # masks refuses a damaged mask (tested there)
                    masks.decode(result.rle)
            store.setting("review")
            History(store).undo()
    except SessionError as error:
        one_line(str(error))


@pytest.fixture
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sessions")


def fresh(folder: Path, data: bytes) -> Path:
    for leftover in folder.iterdir():
        leftover.unlink()
    path = folder / "s.sam2tui"
    path.write_bytes(data)
    return path


@settings(FUZZ, max_examples=50)
@given(data=st.binary(max_size=2048))
def test_fuzz_session_random_bytes(scratch: Path, data: bytes) -> None:
    read_everything(fresh(scratch, data))


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_fuzz_session_truncated_or_damaged(scratch: Path, valid_session: bytes, data: st.DataObject) -> None:
    raw = bytearray(valid_session)
    for _ in range(data.draw(st.integers(0, 6), "flips")):
        at = data.draw(st.integers(0, len(raw) - 1), "at")
        raw[at] = data.draw(st.integers(0, 255), "byte")
    cut = data.draw(st.integers(0, len(raw)), "cut")
    read_everything(fresh(scratch, bytes(raw[:cut])))


COLUMNS = {
    "meta": ["schema_version", "created", "app_version"],
    "video": ["path", "frame_count", "width", "height", "fps", "digest"],
    "objects": ["id", "name", "class_name", "color"],
    "prompts": ["frame", "obj_id", "kind", "payload"],
    "results": ["frame", "obj_id", "rle_counts", "height", "width", "score", "box_x", "area", "parts"],
    "history": ["edit", "undone"],
    "settings": ["key", "value"],
}
sqlite_values = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.sampled_from(['{"point": [1, 2]}', "{}", "[]", "#zzzzzz", "point", '{"box": [1]}', "null", "1e999"]),
)


@FUZZ
@given(
    changes=st.lists(
        st.sampled_from(
            [(table, column) for table, columns in COLUMNS.items() for column in columns]
        ).flatmap(lambda where: st.tuples(st.just(where), sqlite_values)),
        min_size=1,
        max_size=3,
    )
)
def test_fuzz_session_values(scratch: Path, valid_session: bytes, changes: list[Any]) -> None:
    """Well-formed SQLite with damaged values (what another tool, or a bug, may write)."""
    path = fresh(scratch, valid_session)
    conn = sqlite3.connect(path)
    try:
        for (table, column), value in changes:
            conn.execute(f"UPDATE {table} SET {column} = ?", (value,))
        conn.commit()
    except sqlite3.Error:
        return  # a constraint refused it: no such file can exist
    finally:
        conn.close()
    read_everything(path)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("UPDATE meta SET schema_version = 3", "created by a newer sam2tui (schema 3"),
        ("UPDATE meta SET schema_version = 99", "newer sam2tui"),
        ("UPDATE meta SET schema_version = 0", "no migration from schema 0"),
        ("UPDATE meta SET schema_version = -1", "no migration from schema -1"),
        ("UPDATE meta SET schema_version = 'one'", "damaged session file"),
        ("DELETE FROM meta", "damaged session file"),
        ("DROP TABLE video", "not a sam2tui session"),
        ("PRAGMA application_id = 0", "an SQLite database of another program"),
    ],
)
def test_session_of_another_schema_version_is_refused(
    scratch: Path, valid_session: bytes, change: str, problem: str
) -> None:
    path = fresh(scratch, valid_session)
    conn = sqlite3.connect(path)
    conn.execute(change)
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SessionError) as refused:
        SessionStore.open(path)
    one_line(str(refused.value))
    assert problem in str(refused.value)
    assert path.read_bytes() == before  # a refused file is left as it was


@pytest.mark.parametrize("kind", ["other-program", "empty-database", "journal-mode-delete-other"])
def test_sqlite_file_of_another_program_is_refused_by_the_cli(
    scratch: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scratch / "firefox.sqlite"
    conn = sqlite3.connect(path)
    if kind != "empty-database":
        conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
        conn.execute("INSERT INTO moz_places (url) VALUES ('https://example.org')")
    if kind == "journal-mode-delete-other":
        conn.execute("CREATE TABLE meta (schema_version INTEGER)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    assert main(["export", str(path), "--format", "coco", "--out", str(scratch / "out.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1 and str(path) in err, err
    assert path.read_bytes() == before


# ---- RLE, video: in a child process ----


def run_fuzzer(name: str, folder: Path, timeout: float) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.fuzz_cases", name, str(folder)],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), (
        f"the {name} fuzzer ended with status {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )


def test_fuzz_rle_decode_in_a_child_process(tmp_path: Path) -> None:
    """Junk and damaged RLEs: masks raises ValueError; pycocotools never sees counts it would misread."""
    run_fuzzer("rle", tmp_path, timeout=120)


@pytest.mark.parametrize(
    "rle",
    [
        {"size": [4, 4], "counts": "0"},  # covers 0 of 16 pixels: pycocotools returned uninitialised memory
        {"size": [4, 4], "counts": ""},
        {"size": [100_000, 100_000], "counts": "0"},  # pycocotools allocated 10 GB
        {"size": [2, 2], "counts": "06"},  # covers 6 pixels of 4: pycocotools would write past the mask
        {"size": [2, 2], "counts": "0\x00"},
        {"size": [-1, 4], "counts": "1"},
        {"size": [4, 4], "counts": [4, 12]},
        {"size": [4], "counts": "1"},
        {"counts": "1"},
        "not a dict",
    ],
)
def test_rle_that_pycocotools_would_misread_is_refused(rle: Any) -> None:
    with pytest.raises(ValueError):
        masks.decode(rle)
    with pytest.raises(ValueError):
        masks.area(rle)


def test_fuzz_video_files_in_a_child_process(tmp_path: Path) -> None:
    """Random bytes with a video suffix, and a real clip truncated or damaged: VideoError or real frames."""
    make_clip(tmp_path / "real.mp4", frames=8, size=(64, 48), gop=4)
    run_fuzzer("video", tmp_path, timeout=150)


# ---- checkpoints ----


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("ckpt") / "small.pt"
    torch.manual_seed(0)
    torch.save({"model": torch.nn.Linear(4, 3).state_dict()}, path)
    return path.read_bytes()


def try_checkpoint(path: Path) -> None:
    try:
        state = load_state_dict(path)
    except CheckpointError as error:
        one_line(str(error))
        return
    assert isinstance(state, dict)


@settings(FUZZ, max_examples=50)
@given(data=st.binary(max_size=1024))
def test_fuzz_checkpoint_random_bytes(scratch: Path, data: bytes) -> None:
    path = scratch / "random.pt"
    path.write_bytes(data)
    try_checkpoint(path)


@settings(FUZZ, max_examples=50)
@given(data=st.data())
def test_fuzz_checkpoint_truncated_or_damaged(
    scratch: Path, small_checkpoint: bytes, data: st.DataObject
) -> None:
    raw = bytearray(small_checkpoint)
    for _ in range(data.draw(st.integers(0, 4), "flips")):
        raw[data.draw(st.integers(0, len(raw) - 1), "at")] ^= 0xFF
    path = scratch / "damaged.pt"
    path.write_bytes(bytes(raw[: data.draw(st.integers(0, len(raw)), "cut")]))
    try_checkpoint(path)


@pytest.mark.parametrize(
    "content",
    [
        {"model": {"weight": "not a tensor", "bias": torch.zeros(3)}},
        {"model": {"weight": {"nested": 1}, "bias": torch.zeros(3)}},
        {"model": {"weight": None, "bias": torch.zeros(3)}},
    ],
    ids=["string", "dict", "none"],
)
def test_checkpoint_whose_state_dict_holds_non_tensors_is_refused(
    scratch: Path, content: dict[str, Any]
) -> None:
    path = scratch / "odd.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError):
        load_weights(torch.nn.Linear(4, 3), path)


def test_checkpoint_of_another_shape_is_refused(scratch: Path) -> None:
    path = scratch / "other.pt"
    torch.save({"model": torch.nn.Linear(5, 3).state_dict()}, path)
    with pytest.raises(CheckpointError) as refused:
        load_weights(torch.nn.Linear(4, 3), path)
    assert "another model" in str(refused.value)


# ---- the CLI on junk ----


@settings(FUZZ, max_examples=12)
@given(data=st.binary(min_size=0, max_size=512), suffix=st.sampled_from([".mp4", ".mkv", ".avi"]))
def test_fuzz_cli_track_on_a_junk_video_exits_2_with_one_line(
    scratch: Path, capsys: pytest.CaptureFixture[str], data: bytes, suffix: str
) -> None:
    video = scratch / f"junk{suffix}"
    video.write_bytes(data)
    prompts = scratch / "prompts.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}]}))
    capsys.readouterr()
    assert main(["track", str(video), "--prompts", str(prompts)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1, err


@settings(FUZZ, max_examples=12)
@given(document=prompts_documents)
def test_fuzz_cli_track_on_a_junk_prompts_file_exits_2_with_one_line(
    scratch: Path, capsys: pytest.CaptureFixture[str], document: Any
) -> None:
    video = scratch / "clip"
    if not video.exists():
        video.mkdir()
        for index in range(N):
            Image.fromarray(np.full((H, W, 3), index * 40, np.uint8)).save(video / f"{index:05d}.png")
    prompts = scratch / "junk.json"
    prompts.write_text(json.dumps(document))
    for leftover in scratch.glob("*.sam2tui*"):
        leftover.unlink()
    capsys.readouterr()
    try:
        load_prompts(prompts, width=W, height=H, frame_count=N, warn=lambda message: None)
    except PromptsError:
        pass
    else:
        return  # a valid document: tracking it is not this test's business
    assert (
        main(["track", str(video), "--prompts", str(prompts), "--session", str(scratch / "s.sam2tui")]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("sam2tui: ") and err.count("\n") == 1, err


def test_cli_on_junk_files_prints_no_traceback(tmp_path: Path) -> None:
    """The real processes, once each: a junk video for track, a junk session for export."""
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    (tmp_path / "junk.sam2tui").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    (tmp_path / "p.json").write_text(
        '{"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}]}'
    )
    for args in (
        ["track", "junk.mp4", "--prompts", "p.json"],
        ["export", "junk.sam2tui", "--format", "coco", "--out", "out.json"],
        ["junk.mp4"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "sam2tui", *args],
            cwd=tmp_path,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("sam2tui: ") and done.stderr.count("\n") == 1, done.stderr


def test_non_finite_numbers_in_a_prompts_file_are_refused(prompts_folder: Path) -> None:
    path = prompts_folder / "nan.json"
    for value in (math.nan, math.inf):
        path.write_text(
            json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[value, 1]]}]}]})
        )
        with pytest.raises(PromptsError):
            load_prompts(path, width=W, height=H, frame_count=N)
    shutil.rmtree(prompts_folder / "unused", ignore_errors=True)
