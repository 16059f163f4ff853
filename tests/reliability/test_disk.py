"""The disk fills up or turns read-only under a session or an export: a clear one-line error, nothing saved
before is lost, and the program goes on (the store, the engine worker, the app, the CLI).

A small tmpfs is the disk (filled with a filler file, or remounted read-only: root ignores chmod); these
tests skip where mount is not allowed. `ulimit -f` (RLIMIT_FSIZE, with SIGXFSZ ignored so that writes fail
with EFBIG) fills the disk of a child process without root.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sam2tui.engine.tracker import EngineFailed, PropagationDone
from sam2tui.errors import ExportError, SessionError
from sam2tui.export import export_session
from sam2tui.session.store import SessionStore
from sam2tui.values import Direction
from sam2tui.video import VideoSource
from tests.fixtures_engine import clip_frames, tracked_frames, write_jpeg_folder
from tests.fixtures_tui import engine_rig, write_clip_folder
from tests.reliability.helpers import (
    REPO,
    SCRIPTED_TRACKER,
    Snapshot,
    assert_kept,
    child_env,
    disc_results,
    fake_fingerprint,
    fill,
    integrity,
    mount_tmpfs,
    one_error_line,
    remount,
    result_count,
    run,
    sam2tui_argv,
    snapshot,
    stored,
    track_argv,
    tree,
    unmount,
    wait_for,
)
from tests.scripted_tracker import ScriptedTracker

W, H = 160, 120


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[Path]:
    """An empty 8 MiB tmpfs, unmounted afterwards."""
    where = tmp_path / "fs"
    mount_tmpfs(where, 8 * 1024)
    yield where
    unmount(where)


def check_line(message: str, *parts: str) -> None:
    assert "\n" not in message and "Traceback" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# ---- the session store ----


def test_full_disk_fails_a_session_write_in_one_line_and_keeps_what_was_saved(fs: Path) -> None:
    session = fs / "clip.sam2tui"
    store = SessionStore.open(session, fake_fingerprint(300, W, H))
    store.add_object("disc")
    store.put_results(disc_results(range(10), 1, W, H))
    filler = fill(fs)
    with pytest.raises(SessionError) as failed:
        for frame in range(10, 300):
            store.put_results(disc_results(range(frame, frame + 1), 1, W, H))
    check_line(str(failed.value), str(session), "full")
    saved = stored(store)
    assert set(range(10)) <= {frame for frame, _ in saved}  # reads go on
    filler.unlink()
    store.put_results(disc_results(range(290, 300), 1, W, H))  # and so do writes, once there is room
    store.close()
    assert integrity(session) == ["ok"]
    with SessionStore.open(session) as again:
        after = stored(again)
    assert_kept(saved, after)
    assert set(range(290, 300)) <= {frame for frame, _ in after}


def test_close_releases_the_session_when_its_lock_file_cannot_be_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that turned read-only (or a network share that went away) under an open session: closing
    it must not fail, and must still let the next process in. (A mounted file system cannot be remounted
    read-only while SQLite has files open for writing on it, so the failing unlink is simulated.)"""
    session = tmp_path / "clip.sam2tui"
    store = SessionStore.open(session, fake_fingerprint(30, W, H))
    store.add_object("disc")
    real_unlink = Path.unlink

    def read_only_unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name.endswith(".lock"):
            raise OSError(30, "Read-only file system", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only_unlink)
    store.close()
    monkeypatch.undo()
    writer = (
        "import sys; from sam2tui.session.store import SessionStore; SessionStore.open(sys.argv[1]).close()"
    )
    done = run([sys.executable, "-c", writer, str(session)])  # the next writer gets in
    assert done.returncode == 0, done.stderr


def test_session_on_a_read_only_disk_exports_but_is_not_opened_for_writing(fs: Path, tmp_path: Path) -> None:
    session = fs / "clip.sam2tui"
    with SessionStore.open(session, fake_fingerprint(30, W, H)) as store:
        store.add_object("disc")
        store.put_results(disc_results(range(10), 1, W, H))
    before = session.read_bytes()
    remount(fs, "ro")
    done = run(sam2tui_argv("export", session, "--format", "coco", "--out", tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr  # export only reads
    assert len(json.loads((tmp_path / "out.json").read_text())["images"]) == 10
    writer = (
        "import sys; from sam2tui.session.store import SessionStore; SessionStore.open(sys.argv[1]).close()"
    )
    done = run([sys.executable, "-c", writer, str(session)])
    assert done.returncode == 1 and "Read-only file system" in done.stderr.strip().splitlines()[-1]
    remount(fs, "rw")
    assert session.read_bytes() == before


def test_video_on_a_read_only_disk_gets_its_session_in_the_user_data_folder(fs: Path, tmp_path: Path) -> None:
    clip = write_jpeg_folder(fs / "clip", clip_frames(6))
    prompts = tmp_path / "prompts.json"
    prompts.write_text(
        json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [20, 40, 60, 80]}]}]})
    )
    dummy = tmp_path / "unused.pt"
    dummy.write_bytes(b"")
    remount(fs, "ro")
    done = run(
        track_argv(clip, "--prompts", prompts, "--checkpoint", dummy),
        SAM2TUI_TEST_TRACKER=SCRIPTED_TRACKER,
    )
    assert done.returncode == 0, done.stderr
    [session] = (Path(os.environ["SAM2TUI_DATA_DIR"]) / "sessions").glob("*.sam2tui")
    assert str(session) in done.stderr
    with SessionStore.open(session) as store:
        assert tracked_frames(store) == list(range(6))


# ---- the engine worker and the controller ----


def test_disk_fills_while_propagating_engine_fails_in_one_line_and_goes_on(fs: Path, tmp_path: Path) -> None:
    clip = write_clip_folder(tmp_path / "clip", count=60)
    session = fs / "clip.sam2tui"
    rig = engine_rig(clip, session, ScriptedTracker(delay=0.02))
    try:
        ctl = rig.controller
        assert ctl.click(45, 60)
        rig.drain()
        assert ctl.propagate(Direction.FORWARD)
        wait_for(lambda: result_count(session) >= 10, "10 propagated frames", 30)
        filler = fill(fs)
        seen = snapshot(session)
        events = rig.drain(timeout=30)
        [failure] = [e for e in events if isinstance(e, EngineFailed)]
        check_line(failure.message, str(session), "full")
        assert ctl.notice.startswith("engine: ") and "full" in ctl.notice
        assert not ctl.busy and not any(isinstance(e, PropagationDone) for e in events)
        assert_kept(seen, stored(rig.store))

        filler.unlink()  # room again: the same session goes on, from the first frame not stored
        kept = len(tracked_frames(rig.store))
        assert ctl.propagate(Direction.FORWARD)
        rig.drain(timeout=30)
        assert tracked_frames(rig.store) == list(range(60))
        assert ctl.notice == f"propagated {60 - kept} frames"
    finally:
        rig.close()
    assert integrity(session) == ["ok"]


# ---- the app ----


async def test_app_on_a_full_disk_notifies_and_keeps_running(fs: Path, tmp_path: Path) -> None:
    from sam2tui.tui.app import Sam2TuiApp
    from tests.fixtures_tui import WIDE_CLIP, screen_text, settle

    video = VideoSource.open(write_clip_folder(tmp_path / "clip", size=WIDE_CLIP))
    store = SessionStore.open(fs / "clip.sam2tui", video.fingerprint())
    tracker = ScriptedTracker()
    app = Sam2TuiApp(video, store, tracker_factory=lambda spec, progress: tracker)
    try:
        async with app.run_test(size=(100, 32)) as pilot:
            canvas = app.annotate.canvas
            await settle(pilot, lambda: app.controller.model.ready)
            await pilot.click(canvas, offset=(30, 12))
            await settle(pilot, lambda: len(store.prompts()) == 1 and not app.engine.busy)
            filler = fill(fs)
            await pilot.click(canvas, offset=(40, 14))
            await pilot.pause(0.3)
            assert app.is_running and app.return_code is None
            # A notification says why (Textual keeps them in App._notifications), and so does the status bar.
            errors = [note.message for note in app._notifications if note.severity == "error"]
            assert any("full" in message for message in errors), errors
            assert "full" in app.controller.notice, app.controller.notice
            assert app.controller.notice[:30] in screen_text(app)
            assert len(store.prompts()) == 1
            filler.unlink()
            await pilot.click(canvas, offset=(40, 14))
            await settle(pilot, lambda: len(store.prompts()) == 2 and not app.engine.busy)
    finally:
        app.engine.stop(10)
        store.close()
        video.close()


async def test_app_export_onto_a_full_disk_says_why_and_keeps_the_previous_export(
    fs: Path, tmp_path: Path
) -> None:
    from textual.widgets import Input, Static

    from sam2tui.tui.screens.annotate import AnnotateScreen
    from sam2tui.tui.screens.export import ExportScreen
    from tests.fixtures_tui import app_rig, click_object, idle, settle

    made = app_rig(tmp_path)
    try:
        async with made.app.run_test(size=(110, 40)) as pilot:
            await click_object(pilot, made, offset=(30, 14))
            await pilot.press("p")
            await idle(pilot, made)
            export_session(made.store, "coco", fs / "export" / "coco.json")  # the previous export
            previous = tree(fs)
            made.store.delete_results(frames=[3])
            filler = fill(fs)
            await pilot.press("e")
            await settle(pilot, lambda: isinstance(made.app.screen, ExportScreen))
            dialog = made.app.screen
            dialog.query_one("#export-folder", Input).value = str(fs / "export")
            await pilot.click("#export")
            status = dialog.query_one("#export-status", Static)
            await settle(pilot, lambda: "export failed" in str(status.render()))
            check_line(str(status.render()), "No space left on device")
            assert made.app.is_running and isinstance(made.app.screen, ExportScreen)  # the dialog stays open
            filler.unlink()
            assert tree(fs) == previous
            await pilot.press("escape")
            await settle(pilot, lambda: isinstance(made.app.screen, AnnotateScreen))
    finally:
        made.close()


# ---- exports ----


@pytest.fixture
def exported(tmp_path: Path) -> Iterator[tuple[SessionStore, VideoSource]]:
    clip = write_clip_folder(tmp_path / "clip", count=40, size=(W, H))
    video = VideoSource.open(clip)
    store = SessionStore.open(tmp_path / "clip.sam2tui", video.fingerprint())
    store.add_object("disc", "ball")
    store.put_results(disc_results(range(40), 1, W, H))
    yield store, video
    store.close()
    video.close()


TARGETS = {"coco": "coco.json", "davis": "davis", "yolo": "yolo", "ytvis": "ytvis.json", "mot": "mot"}


@pytest.mark.parametrize("fmt", list(TARGETS))
def test_export_onto_a_full_disk_fails_in_one_line_and_keeps_the_previous_export(
    fs: Path, exported: tuple[SessionStore, VideoSource], fmt: str
) -> None:
    store, video = exported
    out = fs / TARGETS[fmt]
    export_session(store, fmt, out, video=video)
    previous = tree(fs)
    store.delete_results(frames=range(20, 40))  # the next export would differ
    filler = fill(fs)
    with pytest.raises(ExportError) as failed:
        export_session(store, fmt, out, video=video)
    check_line(str(failed.value), str(out), "No space left on device")
    filler.unlink()
    assert tree(fs) == previous  # the previous export as it was, and no temporary file left


@pytest.mark.parametrize("fmt", ["coco", "davis"])
def test_export_onto_a_read_only_disk_fails_in_one_line(
    fs: Path, exported: tuple[SessionStore, VideoSource], fmt: str
) -> None:
    store, video = exported
    out = fs / TARGETS[fmt]
    export_session(store, fmt, out, video=video)
    previous = tree(fs)
    remount(fs, "ro")
    try:
        with pytest.raises(ExportError) as failed:
            export_session(store, fmt, out, video=video)
        check_line(str(failed.value), str(out), "Read-only file system")
        store.close()
        done = run(sam2tui_argv("export", store.path, "--format", fmt, "--out", out))
        assert done.returncode == 2
        check_line(one_error_line(done.stderr), "Read-only file system")
    finally:
        remount(fs, "rw")
    assert tree(fs) == previous


# ---- `track` whose disk fills up (no root needed) ----


def sam2tui_line(stderr: str) -> str:
    """The one `sam2tui: ...` line of a failed `track` (its progress bar aside); no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line.split("\r")[-1] for line in stderr.splitlines()]
    said = [line for line in lines if line.startswith("sam2tui: ")]
    assert len(said) == 1, stderr
    return said[0]


def small_files(limit: int) -> None:
    """preexec_fn: files of the child cannot grow past `limit` bytes; writes past it fail with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@dataclass
class FullTrack:
    session: Path
    full: subprocess.CompletedProcess[str]  # the run whose files could not grow past 256 KiB
    seen: Snapshot  # what it had committed
    checked: list[str]
    again: subprocess.CompletedProcess[str]  # the next run, with room
    frames: list[int]
    kept: Snapshot


@pytest.fixture(scope="module")
def full_track(tmp_path_factory: pytest.TempPathFactory) -> FullTrack:
    folder = tmp_path_factory.mktemp("full-track")
    clip = write_clip_folder(folder / "clip", count=150, size=(W, H))
    prompts = folder / "prompts.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[45, 60]]}]}]}))
    dummy = folder / "unused.pt"
    dummy.write_bytes(b"")
    session = folder / "clip.sam2tui"
    argv = track_argv(clip, "--prompts", prompts, "--checkpoint", dummy, "--session", session)
    full = subprocess.run(
        argv,
        cwd=REPO,
        env=child_env(SAM2TUI_TEST_TRACKER=SCRIPTED_TRACKER),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: small_files(256 * 1024),
    )
    checked = integrity(session)
    seen = snapshot(session)
    again = run(argv, SAM2TUI_TEST_TRACKER=SCRIPTED_TRACKER)
    with SessionStore.open(session) as store:
        return FullTrack(session, full, seen, checked, again, tracked_frames(store), stored(store))


def test_track_whose_disk_fills_up_keeps_what_it_saved_and_the_next_run_goes_on(
    full_track: FullTrack,
) -> None:
    assert full_track.full.returncode in (1, 2), full_track.full.stderr
    assert full_track.checked == ["ok"]
    assert 0 < len(full_track.seen) < 150, "the limit did not stop the run half way"
    assert full_track.again.returncode == 0, full_track.again.stderr
    assert_kept(full_track.seen, full_track.kept)
    assert full_track.frames == list(range(150))


def test_track_whose_disk_fills_up_says_why_in_one_line(full_track: FullTrack) -> None:
    check_line(sam2tui_line(full_track.full.stderr), str(full_track.session), "disk I/O error")
