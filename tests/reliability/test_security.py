"""Security basics: checkpoints load weights only (a pickle that would run code is refused and runs nothing),
downloads go to the configured host only and are checked before use, names and paths from prompts and
session files are never executed and never make anything be written outside the export target, a file name
is never taken for an FFmpeg protocol, and the session stores the video's path relative to itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from sam2tui.cli import main
from sam2tui.engine import checkpoints
from sam2tui.engine.checkpoints import cache_dir, fetch, load_state_dict
from sam2tui.errors import CheckpointError, VideoError
from sam2tui.export import FORMATS, export_session
from sam2tui.session.store import SessionStore
from sam2tui.video import VideoSource
from tests.clipgen import make_clip
from tests.file_server import FileServer
from tests.fixtures_tui import write_clip_folder
from tests.reliability.helpers import disc_results, one_error_line, run, sam2tui_argv, tree

MODEL = "sam2.1-tiny"

# torch warns that our malicious pickles use protocol 4 before its weights-only unpickler refuses them.
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")


class RunsCode:
    """Unpickling this runs a shell command that creates `marker` (what a malicious checkpoint does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


class RunsPython:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def malicious_checkpoints(folder: Path, marker: Path) -> list[Path]:
    import pickle

    made = []
    for name, payload in {"system": RunsCode(marker), "exec": RunsPython(marker)}.items():
        zipped = folder / f"{name}.pt"  # torch's own (zip) format, as real checkpoints are
        torch.save({"model": {"weight": torch.zeros(2), "x": payload}}, zipped)
        legacy = folder / f"{name}.pkl"  # a bare pickle (torch.load reads the legacy format too)
        legacy.write_bytes(pickle.dumps({"model": payload}))
        made += [zipped, legacy]
    return made


def test_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    for path in malicious_checkpoints(tmp_path, marker):
        with pytest.raises(CheckpointError) as refused:
            load_state_dict(path)
        assert "\n" not in str(refused.value) and str(path) in str(refused.value)
        assert not marker.exists(), f"loading {path.name} ran its code"


def test_track_with_a_checkpoint_that_would_run_code_fails_and_runs_nothing(tmp_path: Path) -> None:
    """Through the real load path: `track --checkpoint` hands the file to Sam2Tracker in the engine."""
    marker = tmp_path / "PWNED"
    [evil, *_] = malicious_checkpoints(tmp_path, marker)
    clip = write_clip_folder(tmp_path / "clip", count=3)
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[45, 60]]}]}]}))
    done = run(sam2tui_argv("track", clip, "--prompts", prompts, "--checkpoint", evil, "--device", "cpu"))
    assert done.returncode in (1, 2), done.stderr
    assert f"{evil}: not a readable checkpoint" in done.stderr, done.stderr
    assert not marker.exists()


# ---- downloads ----


@pytest.fixture
def good_checkpoint(tmp_path: Path) -> bytes:
    path = tmp_path / "good.pt"
    torch.save({"model": torch.nn.Linear(3, 2).state_dict()}, path)
    return path.read_bytes()


@pytest.fixture
def servers() -> Iterator[list[FileServer]]:
    made: list[FileServer] = []
    yield made
    for server in made:
        server.close()


def cached_files() -> list[str]:
    return sorted(p.name for p in cache_dir().glob("*")) if cache_dir().exists() else []


def test_plain_http_download_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch, servers: list[FileServer], good_checkpoint: bytes
) -> None:
    server = FileServer(good_checkpoint)
    servers.append(server)
    info = checkpoints.MODELS[MODEL]
    monkeypatch.setitem(
        checkpoints.MODELS, MODEL, dataclasses.replace(info, url=f"{server.url}/{info.filename}")
    )
    monkeypatch.delenv("SAM2TUI_CHECKPOINT_URL_BASE", raising=False)
    with pytest.raises(CheckpointError) as refused:
        fetch(MODEL)
    assert "plain http" in str(refused.value)
    assert server.requests == [] and cached_files() == []


def test_download_that_is_no_checkpoint_or_would_run_code_is_refused_and_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: list[FileServer]
) -> None:
    marker = tmp_path / "PWNED"
    for payload in [p.read_bytes() for p in malicious_checkpoints(tmp_path, marker)] + [
        b"<html>captive portal"
    ]:
        server = FileServer(payload)
        servers.append(server)
        monkeypatch.setenv("SAM2TUI_CHECKPOINT_URL_BASE", server.url)
        with pytest.raises(CheckpointError) as refused:
            fetch(MODEL)
        assert "downloaded file is not a checkpoint" in str(refused.value)
        assert server.requests and cached_files() == []  # neither the file nor its .part stays
        assert not marker.exists()


def test_download_redirected_to_another_host_is_refused(
    monkeypatch: pytest.MonkeyPatch, servers: list[FileServer], good_checkpoint: bytes
) -> None:
    # Another host: any 127/8 address is this machine.
    elsewhere = FileServer(good_checkpoint, host="127.0.0.2")
    configured = FileServer(redirect=elsewhere.url)
    servers += [elsewhere, configured]
    monkeypatch.setenv("SAM2TUI_CHECKPOINT_URL_BASE", configured.url)
    with pytest.raises(CheckpointError):
        fetch(MODEL)
    assert configured.requests and elsewhere.requests == [], "the download followed the redirect"
    assert cached_files() == []


# ---- nothing is written outside the export target ----

CRAFTED = [
    "../../escaped",
    "/tmp/absolute",
    "a/b\\c",
    "..",
    ".",
    "",
    "x\n[section]\nname=evil",
    "\x00nul",
    "CON",
]


@pytest.fixture
def crafted_session(tmp_path: Path) -> Iterator[tuple[SessionStore, VideoSource]]:
    clip = write_clip_folder(tmp_path / "clip", count=6, size=(64, 48))
    video = VideoSource.open(clip)
    store = SessionStore.open(tmp_path / "clip.sam2tui", video.fingerprint())
    for index, name in enumerate(CRAFTED):
        obj = store.add_object(name, class_name=CRAFTED[-1 - index] or "x/../../y")
        store.put_results(disc_results(range(6), obj.obj_id, 64, 48))
    yield store, video
    store.close()
    video.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_of_crafted_names_writes_only_inside_the_target(
    tmp_path: Path, crafted_session: tuple[SessionStore, VideoSource], fmt: str
) -> None:
    store, video = crafted_session
    target = tmp_path / "exports" / "deep" / ("out.json" if fmt in ("coco", "ytvis") else "out")
    before = {path for path in tree(tmp_path) if not path.startswith("exports/")}
    written = export_session(store, fmt, target, video=video)
    after = set(tree(tmp_path))
    outside = sorted(p for p in after - before if not (tmp_path / p).is_relative_to(target))
    assert outside == [], f"{fmt} wrote outside {target}: {outside}"
    assert all(Path(os.path.abspath(p)).is_relative_to(target) for p in written)
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/absolute").exists()


def test_crafted_video_path_in_a_session_is_never_run(tmp_path: Path) -> None:
    clip = write_clip_folder(tmp_path / "clip", count=3, size=(64, 48))
    session = tmp_path / "clip.sam2tui"
    with VideoSource.open(clip) as video, SessionStore.open(session, video.fingerprint()) as store:
        store.add_object("disc")
        store.put_results(disc_results(range(3), 1, 64, 48))
    marker = tmp_path / "PWNED"
    for crafted in (
        f"$(touch {marker})",
        f"`touch {marker}`.mp4",
        f"/x; touch {marker}",
        "pipe:0",
        "http://127.0.0.1:9/x.mp4",
    ):
        conn = sqlite3.connect(session)
        conn.execute("UPDATE video SET path = ?", (crafted,))
        conn.commit()
        conn.close()
        done = run(sam2tui_argv("export", session, "--format", "yolo", "--out", tmp_path / "yolo"))
        assert done.returncode == 2
        assert "missing" in one_error_line(done.stderr)
        assert not marker.exists()


@pytest.mark.parametrize("name", ["pipe:0.mp4", "http:clip.mp4", "subfile:clip.mp4"])
def test_video_file_name_is_never_taken_for_an_ffmpeg_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    make_clip(tmp_path / name, frames=4, size=(64, 48), gop=2)
    monkeypatch.chdir(tmp_path)
    with VideoSource.open(name) as video:
        assert len(video) == 4 and video.frame(3).shape == (48, 64, 3)


def test_video_url_is_refused_without_connecting() -> None:
    with pytest.raises(VideoError, match="no such file"):
        VideoSource.open("http://127.0.0.1:9/clip.mp4")


# ---- the session keeps paths relative to itself ----


def stored_video_path(session: Path) -> str:
    conn = sqlite3.connect(session)
    try:
        return str(conn.execute("SELECT path FROM video").fetchone()[0])
    finally:
        conn.close()


def test_session_stores_the_video_path_relative_to_itself_and_follows_a_move(tmp_path: Path) -> None:
    project = tmp_path / "project"
    clip = write_clip_folder(project / "clips" / "clip", count=3, size=(64, 48))
    session = project / "clip.sam2tui"
    with VideoSource.open(clip) as video, SessionStore.open(session, video.fingerprint()) as store:
        store.add_object("disc")
        store.put_results(disc_results(range(3), 1, 64, 48))
    assert stored_video_path(session) == "clips/clip"
    moved = tmp_path / "elsewhere"
    project.rename(moved)
    with SessionStore.open(moved / "clip.sam2tui") as store:  # export: no video given
        assert Path(store.fingerprint.path) == moved / "clips" / "clip"
    assert (
        main(["export", str(moved / "clip.sam2tui"), "--format", "yolo", "--out", str(tmp_path / "y")]) == 0
    )
    assert len(list((tmp_path / "y" / "images").glob("*.jpg"))) == 3
    assert stored_video_path(moved / "clip.sam2tui") == "clips/clip"


def test_session_beside_the_video_stores_a_relative_path(tmp_path: Path) -> None:
    clip = write_clip_folder(tmp_path / "clip", count=3, size=(64, 48))
    with VideoSource.open(clip) as video:
        from sam2tui.session.store import default_session_path

        session = default_session_path(video.path, video.fingerprint())
        SessionStore.open(session, video.fingerprint()).close()
    assert session == tmp_path / "clip.sam2tui" and stored_video_path(session) == "clip"
