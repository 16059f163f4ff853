"""The session file: round trips of every table, reopening, refusing bad files untouched, locking, threads."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sam2tui import masks
from sam2tui.engine.tracker import result_from_mask
from sam2tui.errors import SessionError, SessionInUseError
from sam2tui.session import schema, store
from sam2tui.session.lock import lock_path_of
from sam2tui.session.store import SessionStore, default_session_path
from sam2tui.values import FramePrompt, FrameResult, PendingCorrection, Prompt, TrackedObject, default_color
from sam2tui.video import VideoFingerprint
from tests.fixtures_engine import tracked_frames

REPO = Path(__file__).resolve().parents[1]
H, W = 48, 64


def make_fingerprint(folder: Path, name: str = "clip.mp4", digest: str = "ab" * 20) -> VideoFingerprint:
    return VideoFingerprint(str(folder / name), frame_count=100, width=W, height=H, fps=29.97, digest=digest)


def rect_result(frame: int, obj_id: int, x: int = 5, y: int = 5, w: int = 10, h: int = 8, score: float = 7.0):
    mask = np.zeros((H, W), bool)
    mask[y : y + h, x : x + w] = True
    return result_from_mask(frame, obj_id, mask, score, "sam2.1-tiny")


def empty_result(frame: int, obj_id: int, score: float = -4.0) -> FrameResult:
    return result_from_mask(frame, obj_id, np.zeros((H, W), bool), score, "sam2.1-tiny")


@pytest.fixture
def fingerprint(tmp_path: Path) -> VideoFingerprint:
    return make_fingerprint(tmp_path)


@pytest.fixture
def session_path(tmp_path: Path) -> Path:
    return tmp_path / "clip.mp4.sam2tui"


@pytest.fixture
def session(session_path: Path, fingerprint: VideoFingerprint) -> Iterator[SessionStore]:
    with SessionStore.open(session_path, fingerprint) as opened:
        yield opened


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- a new file ----------------------------------------------------------------------------------


def test_new_session_is_an_intact_wal_file_marked_as_ours(session_path: Path, fingerprint) -> None:
    SessionStore.open(session_path, fingerprint).close()
    assert sorted(p.name for p in session_path.parent.iterdir()) == [session_path.name]  # no lock, tmp, wal
    conn = sqlite3.connect(session_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        version, created, app_version = conn.execute(
            "SELECT schema_version, created, app_version FROM meta"
        ).fetchone()
        assert (version, app_version) == (store.SCHEMA_VERSION, "0.1.0")
        assert created.endswith("+00:00")
        assert conn.execute("SELECT path, frame_count, width, height, fps, digest FROM video").fetchone() == (
            "clip.mp4",  # relative: the video lies in the session's folder
            100,
            W,
            H,
            29.97,
            "ab" * 20,
        )
    finally:
        conn.close()


def test_open_uses_wal_synchronous_normal_and_foreign_keys(session: SessionStore) -> None:
    conn = session._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_creating_needs_the_video_and_an_existing_folder(tmp_path: Path, fingerprint) -> None:
    with pytest.raises(SessionError, match="a new session needs its video"):
        SessionStore.open(tmp_path / "new.sam2tui")
    with pytest.raises(SessionError, match="no such session file"):
        SessionStore.open(tmp_path / "new.sam2tui", fingerprint, create=False)
    with pytest.raises(SessionError, match="does not exist"):
        SessionStore.open(tmp_path / "missing" / "new.sam2tui", fingerprint)
    with pytest.raises(SessionError, match="is a folder"):
        SessionStore.open(tmp_path, fingerprint)
    assert list(tmp_path.iterdir()) == []


# --- round trips ---------------------------------------------------------------------------------


def test_objects_round_trip(session_path: Path, fingerprint) -> None:
    with SessionStore.open(session_path, fingerprint) as s:
        first = s.add_object()
        assert first == TrackedObject(1, "object 1", "object", default_color(1))
        person = s.add_object("Ann", "person", (1, 2, 3))
        assert person == TrackedObject(2, "Ann", "person", (1, 2, 3))
        assert s.add_object(obj_id=7).name == "object 7"
        assert s.add_object().obj_id == 8  # the next id after the highest
        s.update_object(TrackedObject(1, "car", "vehicle", (255, 0, 16)))
        s.remove_object(8)
    with SessionStore.open(session_path, fingerprint) as s:
        assert s.objects() == [
            TrackedObject(1, "car", "vehicle", (255, 0, 16)),
            person,
            TrackedObject(7, "object 7", "object", default_color(7)),
        ]


def test_object_misuse_is_a_value_error(session: SessionStore) -> None:
    session.add_object()
    with pytest.raises(ValueError, match="exists already"):
        session.add_object(obj_id=1)
    with pytest.raises(ValueError, match="start at 1"):
        session.add_object(obj_id=0)
    with pytest.raises(ValueError, match="no object 5"):
        session.update_object(TrackedObject(5, "x"))
    with pytest.raises(ValueError, match="no object 5"):
        session.remove_object(5)
    with pytest.raises(ValueError, match=r"unknown objects \[5\]"):
        session.add_prompt(Prompt.click(0, 5, 1, 2))
    assert session.prompts() == [] and [o.obj_id for o in session.objects()] == [1]


def test_removing_an_object_removes_its_prompts_and_results(session: SessionStore) -> None:
    for _ in range(2):
        session.add_object()
    session.add_prompt(Prompt.click(0, 1, 1, 1))
    session.add_prompt(Prompt.click(0, 2, 2, 2))
    session.put_results([rect_result(0, 1), rect_result(0, 2)])
    session.remove_object(1)
    assert [p.obj_id for p in session.prompts()] == [2]
    assert [r.obj_id for r in session.results()] == [2]


coordinates = st.floats(min_value=-10, max_value=5000, allow_nan=False, width=32)
prompts_strategy = st.one_of(
    st.builds(
        Prompt.click,
        frame=st.integers(0, 5),
        obj_id=st.integers(1, 3),
        x=coordinates,
        y=coordinates,
        positive=st.booleans(),
    ),
    st.builds(
        Prompt.rectangle,
        frame=st.integers(0, 5),
        obj_id=st.integers(1, 3),
        box=st.tuples(coordinates, coordinates, coordinates, coordinates),
    ),
    st.builds(
        lambda frame, obj_id, bits: Prompt.from_mask(
            frame, obj_id, masks.encode(np.array(bits, bool).reshape(4, 6))
        ),
        frame=st.integers(0, 5),
        obj_id=st.integers(1, 3),
        bits=st.lists(st.booleans(), min_size=24, max_size=24),
    ),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompts=st.lists(prompts_strategy, max_size=25))
def test_prompts_round_trip_in_creation_order(prompts: list[Prompt]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.sam2tui"
        with SessionStore.open(path, make_fingerprint(Path(folder))) as s:
            for _ in range(3):
                s.add_object()
            for p in prompts:
                s.add_prompt(p)
            assert s.prompts() == prompts
        with SessionStore.open(path, create=False) as s:
            assert s.prompts() == prompts
            assert s.prompts(frame=2) == [p for p in prompts if p.frame == 2]
            assert s.prompts(obj_id=3) == [p for p in prompts if p.obj_id == 3]
            assert s.prompts(2, 3) == [p for p in prompts if (p.frame, p.obj_id) == (2, 3)]
            keys = sorted({(p.frame, p.obj_id) for p in prompts})
            assert s.frame_prompts() == [FramePrompt.collect(f, o, prompts) for f, o in keys]
            assert s.prompted_frames() == sorted({p.frame for p in prompts})
            assert s.prompted_frames(1) == sorted({p.frame for p in prompts if p.obj_id == 1})


def test_clear_and_remove_prompts(session: SessionStore) -> None:
    session.add_object()
    session.add_object()
    a, b, c = Prompt.click(3, 1, 1, 2), Prompt.rectangle(3, 1, (9, 9, 1, 1)), Prompt.click(3, 2, 5, 5)
    for p in (a, b, c, a):
        session.add_prompt(p)
    assert session.remove_prompt(Prompt.click(3, 1, 1.0, 2.0))  # equal values match, the newest goes
    assert session.prompts() == [a, b, c]
    assert not session.remove_prompt(Prompt.click(4, 1, 1, 2))
    assert session.clear_prompts(3, 1) == [a, b]
    assert session.clear_prompts(3, 1) == []
    assert session.prompts() == [c]


def test_results_round_trip(session_path: Path, fingerprint) -> None:
    results = [rect_result(f, o, x=f, score=5.0 + f) for f in range(4) for o in (1, 2)]
    results.append(empty_result(4, 1))
    with SessionStore.open(session_path, fingerprint) as s:
        s.add_object()
        s.add_object()
        s.put_results(results)
    with SessionStore.open(session_path, fingerprint) as s:
        assert s.results() == results
        assert s.results(frame=4) == [results[-1]]
        assert s.results(frame=4)[0].box is None and s.results(frame=4)[0].is_empty
        assert s.results(obj_id=2) == [r for r in results if r.obj_id == 2]
        assert s.results(1, 2) == [results[3]]
        assert s.results_by_frame(1) == {r.frame: r for r in results if r.obj_id == 1}
        assert tracked_frames(s) == [0, 1, 2, 3, 4]
        decoded = masks.decode(s.results(0, 1)[0].rle)
        assert decoded.shape == (H, W) and decoded.sum() == 80


def test_put_results_upserts_and_accepts_bytes_counts(session: SessionStore) -> None:
    session.add_object()
    session.put_results([rect_result(0, 1, score=1.0)])
    newer = rect_result(0, 1, x=20, score=9.0)
    as_bytes = FrameResult(
        0, 1, {**newer.rle, "counts": newer.rle["counts"].encode()}, 9.0, newer.box, newer.area, newer.model
    )
    session.put_results([as_bytes])
    assert session.results() == [newer]


def test_part_counts_are_kept(session: SessionStore) -> None:
    session.add_object()
    counted = dataclasses.replace(rect_result(0, 1), parts=3)
    uncounted = dataclasses.replace(rect_result(1, 1), parts=None)
    session.put_results([counted, uncounted])
    assert [r.parts for r in session.results()] == [3, None]


def test_results_of_removed_objects_are_dropped(session: SessionStore) -> None:
    session.add_object()
    session.put_results([rect_result(0, 1), rect_result(0, 9)])  # 9: removed while the worker tracked it
    assert [(r.frame, r.obj_id) for r in session.results()] == [(0, 1)]
    session.put_results([])


def test_delete_results(session: SessionStore) -> None:
    session.add_object()
    session.add_object()
    session.put_results([rect_result(f, o) for f in range(5) for o in (1, 2)])
    session.delete_results(obj_id=1, frames=[0, 1])
    assert [(r.frame, r.obj_id) for r in session.results(obj_id=1)] == [(2, 1), (3, 1), (4, 1)]
    session.delete_results(frames=iter([4]))
    assert tracked_frames(session) == [0, 1, 2, 3]
    session.delete_results(obj_id=2)
    assert [r.frame for r in session.results()] == [2, 3]
    session.delete_results()
    assert session.results() == [] and tracked_frames(session) == []


def test_settings_round_trip(session_path: Path, fingerprint) -> None:
    value = {"low_score": 1.5, "nested": [1, "two", None, True]}
    with SessionStore.open(session_path, fingerprint) as s:
        assert s.setting("review.thresholds") is None
        assert s.setting("missing", 42) == 42
        s.set_setting("review.thresholds", value)
        s.set_setting("frame", 3)
        s.set_setting("frame", 4)
    with SessionStore.open(session_path, fingerprint) as s:
        assert s.setting("review.thresholds") == value
        assert s.setting("frame") == 4


def test_history_records_round_trip(session_path: Path, fingerprint) -> None:
    with SessionStore.open(session_path, fingerprint) as s:
        assert s.history_step(undo=True) is None
        for record in ("a", "b", "c"):
            s.history_push(record)
        assert s.history_step(undo=True)[1] == "c"
        assert s.history_counts() == (2, 1)
    with SessionStore.open(session_path, fingerprint) as s:
        assert s.history_counts() == (2, 1)
        step = s.history_step(undo=False)
        assert step is not None and step[1] == "c"
        s.history_rewrite(step[0], "C")
        assert s.history_step(undo=True)[1] == "C"
        s.history_push("d")  # drops the redo tail ("C")
        assert s.history_counts() == (3, 0)
        assert [s.history_step(undo=True)[1] for _ in range(3)] == ["d", "b", "a"]


def test_history_keeps_only_the_newest_edits(session: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "HISTORY_LIMIT", 3)
    for record in "abcde":
        session.history_push(record)
    assert session.history_counts() == (3, 0)
    assert [session.history_step(undo=True)[1] for _ in range(3)] == ["e", "d", "c"]
    assert session.history_step(undo=True) is None


def test_a_failed_transaction_leaves_nothing(session: SessionStore) -> None:
    with pytest.raises(RuntimeError), session.transaction():
        session.add_object()
        session.add_prompt(Prompt.click(0, 1, 1, 1))
        raise RuntimeError("boom")
    assert session.objects() == [] and session.prompts() == []
    with session.transaction(), session.transaction():
        session.add_object()
    assert len(session.objects()) == 1


# --- the video ----------------------------------------------------------------------------------


def test_another_video_is_refused_naming_both(session_path: Path, fingerprint, tmp_path: Path) -> None:
    SessionStore.open(session_path, fingerprint).close()
    before = snapshot(tmp_path)
    other = VideoFingerprint(str(tmp_path / "other.mov"), 250, 1280, 720, 25.0, "cd" * 20)
    with pytest.raises(SessionError) as error:
        SessionStore.open(session_path, other)
    message = str(error.value)
    assert message.startswith(f"{session_path}: belongs to another video")
    assert fingerprint.describe() in message and other.describe() in message
    assert "\n" not in message
    same_looking = make_fingerprint(tmp_path, digest="ef" * 20)
    with pytest.raises(SessionError, match="other frames"):
        SessionStore.open(session_path, same_looking)
    assert snapshot(tmp_path) == before


def test_the_session_follows_a_moved_video(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    SessionStore.open(first / "clip.mp4.sam2tui", make_fingerprint(first)).close()
    first.rename(second)  # the folder with video and session moves: the stored path is relative
    with SessionStore.open(second / "clip.mp4.sam2tui", create=False) as s:
        assert s.fingerprint == make_fingerprint(second)
    renamed = make_fingerprint(tmp_path, name="renamed.mp4")  # same frames, elsewhere: same video
    with SessionStore.open(second / "clip.mp4.sam2tui", renamed) as s:
        assert s.fingerprint == renamed
    with SessionStore.open(second / "clip.mp4.sam2tui") as s:
        assert s.fingerprint == renamed
        assert s._conn.execute("SELECT path FROM video").fetchone()[0] == str(tmp_path / "renamed.mp4")


def test_default_session_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = tmp_path / "clip.mp4"
    fp = make_fingerprint(tmp_path, digest="0123456789abcdef" + "f" * 24)
    assert default_session_path(video, fp) == tmp_path / "clip.mp4.sam2tui"
    frames = tmp_path / "frames"
    assert default_session_path(frames, fp) == tmp_path / "frames.sam2tui"

    data = Path(os.environ["SAM2TUI_DATA_DIR"])
    fallback = data / "sessions" / "0123456789abcdef.sam2tui"
    with monkeypatch.context() as patch:
        patch.setattr(os, "access", lambda path, mode: False)  # an unwritable folder (root ignores chmod)
        assert default_session_path(video, fp) == fallback
    assert fallback.parent.is_dir()
    SessionStore.open(fallback, fp).close()
    assert default_session_path(video, fp) == fallback  # an existing session wins over a new one beside
    (tmp_path / "clip.mp4.sam2tui").touch()
    assert default_session_path(video, fp) == tmp_path / "clip.mp4.sam2tui"


# --- refusing bad files untouched ----------------------------------------------------------------


def foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (schema_version INTEGER)")
    conn.execute("INSERT INTO meta VALUES (1)")
    conn.commit()
    conn.close()


def random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(1).bytes(8192))


def sqlite_header_then_garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + np.random.default_rng(2).bytes(4080))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def big_session(path: Path) -> None:
    with SessionStore.open(path, make_fingerprint(path.parent)) as s:
        s.add_object()
        s.put_results([rect_result(f, 1, x=f % 50) for f in range(300)])
        s.add_prompts([Prompt.click(f, 1, f, f) for f in range(300)])


def truncated(path: Path) -> None:
    big_session(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def truncated_mid_page(path: Path) -> None:
    big_session(path)
    data = path.read_bytes()
    path.write_bytes(data[:-100])


def damaged_page(path: Path) -> None:
    big_session(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 2000] = np.random.default_rng(3).bytes(2000)
    path.write_bytes(bytes(data))


def newer_schema(path: Path) -> None:
    SessionStore.open(path, make_fingerprint(path.parent)).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET schema_version = 99")
    conn.commit()
    conn.close()


def foreign_application_id(path: Path) -> None:
    SessionStore.open(path, make_fingerprint(path.parent)).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 7")
    conn.close()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (foreign_sqlite, "an SQLite database of another program"),
        (foreign_application_id, "an SQLite database of another program"),
        (random_bytes, "not an SQLite database"),
        (sqlite_header_then_garbage, "not a sam2tui session"),
        (empty, "empty file"),
        (truncated, "truncated"),
        (truncated_mid_page, "truncated"),
        (damaged_page, "damaged session file"),
        (
            newer_schema,
            f"created by a newer sam2tui (schema 99; this version reads up to {schema.SCHEMA_VERSION})",
        ),
    ],
)
def test_bad_files_are_refused_and_left_untouched(tmp_path: Path, make, problem: str) -> None:
    path = tmp_path / "clip.mp4.sam2tui"
    make(path)
    before = snapshot(tmp_path)
    for fingerprint in (make_fingerprint(tmp_path), None):
        with pytest.raises(SessionError) as error:
            SessionStore.open(path, fingerprint)
        message = str(error.value)
        assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
        assert not isinstance(error.value, SessionInUseError)
    assert snapshot(tmp_path) == before  # byte-identical, no lock, -wal or -shm left behind


def test_migrations_run_in_order(session_path: Path, fingerprint, monkeypatch: pytest.MonkeyPatch) -> None:
    SessionStore.open(session_path, fingerprint).close()

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE notes (text TEXT)")

    current = schema.SCHEMA_VERSION
    with monkeypatch.context() as patch:
        patch.setattr(schema, "SCHEMA_VERSION", current + 1)
        patch.setattr(schema, "MIGRATIONS", {current: add_notes})
        with SessionStore.open(session_path, fingerprint) as s:
            assert s._conn.execute("SELECT schema_version FROM meta").fetchone()[0] == current + 1
            assert s._conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    with pytest.raises(SessionError, match="newer sam2tui"):
        SessionStore.open(session_path, fingerprint)


def test_a_missing_migration_is_refused(session_path: Path, fingerprint, monkeypatch) -> None:
    SessionStore.open(session_path, fingerprint).close()
    current = schema.SCHEMA_VERSION
    with monkeypatch.context() as patch:
        patch.setattr(schema, "SCHEMA_VERSION", current + 2)
        patch.setattr(schema, "MIGRATIONS", {current: lambda conn: None})
        with pytest.raises(SessionError, match=f"no migration from schema {current + 1}"):
            SessionStore.open(session_path, fingerprint)
    with SessionStore.open(session_path, fingerprint) as s:  # rolled back: still a good current file
        assert s._conn.execute("SELECT schema_version FROM meta").fetchone()[0] == current


# --- locking -------------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sam2tui.session.store import SessionStore
    from sam2tui.video import VideoFingerprint
    path = Path(sys.argv[1])
    fp = VideoFingerprint(str(path.parent / "clip.mp4"), 100, 64, 48, 29.97, "ab" * 20)
    store = SessionStore.open(path, fp)
    print("ready", flush=True)
    time.sleep(60)
    """
)


def start_holder(path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def test_a_second_process_gets_in_use_with_the_pid_and_a_dead_ones_lock_is_taken_over(
    session_path: Path, fingerprint
) -> None:
    SessionStore.open(session_path, fingerprint).close()
    child = start_holder(session_path)
    try:
        with pytest.raises(SessionInUseError) as error:
            SessionStore.open(session_path, fingerprint)
        assert str(error.value) == f"{session_path}: in use by PID {child.pid} (another sam2tui)"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    lock = lock_path_of(session_path)
    assert lock.read_text().strip() == str(child.pid)  # left behind by the killed process
    with SessionStore.open(session_path, fingerprint) as s:
        assert lock.read_text().strip() == str(os.getpid())
        s.add_object()  # the killed holder's WAL state is recovered and writable
    assert not lock.exists()


def test_the_same_process_cannot_open_a_session_twice(
    session: SessionStore, session_path: Path, fingerprint
) -> None:
    with pytest.raises(SessionInUseError, match=f"in use by PID {os.getpid()}"):
        SessionStore.open(session_path, fingerprint)
    session.close()
    session.close()
    SessionStore.open(session_path, fingerprint).close()


# --- threads and speed ---------------------------------------------------------------------------


def test_two_threads_share_one_store(session: SessionStore) -> None:
    session.add_object()
    session.add_object()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for f in range(200):
                session.put_results([rect_result(f, 1), rect_result(f, 2)])
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def ui() -> None:
        try:
            for f in range(200):
                session.add_prompt(Prompt.click(f, 1 + f % 2, f, f))
                session.results(frame=f)
                session.set_setting("frame", f)
                session.results_by_frame(1 + f % 2)  # as the controller reads a lane
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker), threading.Thread(target=ui)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(session.results()) == 400 and len(session.prompts()) == 200
    assert session._conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_put_results_commits_many_frames_per_second(session: SessionStore) -> None:
    for _ in range(3):
        session.add_object()
    frames = [[rect_result(f, o, x=(f + o) % 50) for o in (1, 2, 3)] for f in range(200)]
    start = time.perf_counter()
    for results in frames:
        session.put_results(results)
    rate = len(frames) / (time.perf_counter() - start)
    assert rate > 200, f"{rate:.0f} commits/s"


def test_class_list_keeps_its_order_and_adds_the_objects_classes(session_path: Path, fingerprint) -> None:
    with SessionStore.open(session_path, fingerprint) as s:
        assert s.classes() == []
        s.add_object("a", "zebra")
        assert s.classes() == ["zebra"]  # a session made before the list: its objects' classes
        s.add_classes(["person", "car", "person"])
        s.add_object("b", "bike")
        assert s.classes() == ["zebra", "person", "car", "bike"]
        s.add_classes(["car", "bus"])
        assert s.classes() == ["zebra", "person", "car", "bike", "bus"]


# --- identity edits: swap, merge, split (prompts, results and pending corrections in one transaction) ---


def two_tracked_objects(session: SessionStore) -> None:
    """Objects 1 and 2, each clicked on frames 0 and 6 and tracked over frames 0-9 (object 1 on the left,
    object 2 on the right); object 1 has a pending correction on frame 6."""
    for obj_id in (1, 2):
        session.add_object(f"cup {obj_id}", "cup")
    session.put_results(
        [rect_result(f, obj_id, x=2 if obj_id == 1 else 30) for f in range(10) for obj_id in (1, 2)]
    )
    for obj_id in (1, 2):
        session.add_prompts([Prompt.click(f, obj_id, 5 if obj_id == 1 else 33, 7) for f in (0, 6)])
    session.drop_pending(p for p in session.pending_corrections() if (p.obj_id, p.frame) != (1, 6))


def owners(session: SessionStore) -> dict[str, object]:
    """Which object has what on each frame: prompts (by point), results (by box), pending rows."""
    return {
        "prompts": sorted((p.frame, p.obj_id, str(p.point or p.mask)) for p in session.prompts()),
        "results": sorted((r.frame, r.obj_id, r.box) for r in session.results()),
        "pending": sorted((p.obj_id, p.frame) for p in session.pending_corrections()),
    }


def test_swap_exchanges_prompts_results_and_pending_from_the_frame_on(session: SessionStore) -> None:
    two_tracked_objects(session)
    before, seq = owners(session), session.edit_seq()
    session.swap_objects(1, 2, 5)
    after = owners(session)
    assert session.edit_seq() == seq + 1
    swapped = {1: 2, 2: 1}
    for key in ("prompts", "results"):
        expected = sorted(
            (frame, swapped[obj] if frame >= 5 else obj, rest)
            for frame, obj, rest in before[key]  # type: ignore[attr-defined]
        )
        assert after[key] == expected
    assert after["pending"] == [(2, 6)]  # the correction moved with its frame
    assert {r.obj_id: r.edit_seq for r in session.results(frame=3)} == {  # results keep their numbers
        r.obj_id: r.edit_seq for r in session.results(frame=7)
    }
    session.swap_objects(1, 2, 5)
    assert owners(session) == before


def test_merge_moves_what_the_target_lacks_and_unites_both_masks(session: SessionStore) -> None:
    two_tracked_objects(session)
    session.add_object("cup 3", "cup")
    session.put_results([rect_result(f, 3, x=42) for f in (8, 9, 12)])
    session.add_prompt(Prompt.click(12, 3, 43, 7))
    seq = session.edit_seq()
    session.merge_objects(3, 2)
    assert [o.obj_id for o in session.objects()] == [1, 2]
    assert session.edit_seq() == seq + 1
    assert [p.frame for p in session.prompts(obj_id=2)] == [0, 6, 12]  # frame 12's click moved
    [union] = session.results(frame=8, obj_id=2)
    assert union.box == (30, 5, 22, 8) and union.area == 2 * 80 and union.parts == 2
    assert session.results(frame=12, obj_id=2)[0].box == (42, 5, 10, 8)
    assert session.results(frame=5, obj_id=2)[0].box == (30, 5, 10, 8)  # where only the target had one
    assert session.pending_corrections(3) == []


def test_merge_on_a_prompted_frame_keeps_the_union_as_the_label(session: SessionStore) -> None:
    two_tracked_objects(session)
    session.merge_objects(2, 1)
    [frame_6] = [fp for fp in session.frame_prompts() if fp.frame == 6]
    assert frame_6.final_mask is not None  # the union ends the prompts: a replay stores exactly it
    assert masks.area(frame_6.final_mask) == 160
    assert [p.point for p in session.prompts(frame=6, obj_id=1)][:1] == [(5, 7)]  # the target's clicks stay
    assert session.pending_corrections() == [PendingCorrection(1, 6, 1)]  # the target's own


def test_split_gives_the_frames_from_here_on_to_a_new_object(session: SessionStore) -> None:
    two_tracked_objects(session)
    before, seq = owners(session), session.edit_seq()
    new = TrackedObject(3, "object 3", "cup", default_color(3))
    session.split_object(1, 4, new)
    assert session.objects()[-1] == new and session.edit_seq() == seq + 1
    assert [r.frame for r in session.results(obj_id=3)] == list(range(4, 10))
    assert [r.frame for r in session.results(obj_id=1)] == [0, 1, 2, 3]
    assert session.prompted_frames(3) == [6] and session.prompted_frames(1) == [0]
    assert owners(session)["pending"] == [(3, 6)]
    session.merge_objects(3, 1)  # the way back
    assert owners(session) == before


def test_identity_edits_refuse_unknown_or_equal_objects_and_change_nothing(session: SessionStore) -> None:
    two_tracked_objects(session)
    before, seq = owners(session), session.edit_seq()
    with pytest.raises(ValueError, match="no object 7"):
        session.swap_objects(1, 7, 0)
    with pytest.raises(ValueError, match="two different"):
        session.merge_objects(2, 2)
    with pytest.raises(ValueError, match="exists already"):
        session.split_object(1, 3, TrackedObject(2, "x", "cup", default_color(2)))
    assert owners(session) == before and session.edit_seq() == seq


def test_identity_edits_undo_and_redo_through_history(session: SessionStore) -> None:
    from sam2tui.session.history import EditKind, History

    two_tracked_objects(session)
    history = History(session)
    start = (session.objects(), owners(session))
    steps = [
        (EditKind.SWAP_OBJECTS, lambda: history.swap_objects(1, 2, 3)),
        (EditKind.SPLIT_OBJECT, lambda: history.split_object(2, 8, TrackedObject(3, "o", "cup", (1, 2, 3)))),
        (EditKind.MERGE_OBJECTS, lambda: history.merge_objects(3, 1, frame=8)),
    ]
    states = [start]
    for kind, do in steps:
        assert do().kind is kind
        states.append((session.objects(), owners(session)))
    assert len({repr(s) for s in states}) == len(states)  # each step changed something
    for expected in reversed(states[:-1]):
        seq = session.edit_seq()
        history.undo()
        assert (session.objects(), owners(session)) == expected
        assert session.edit_seq() == seq + 1
    for expected in states[1:]:
        history.redo()
        assert (session.objects(), owners(session)) == expected


def test_a_locked_objects_results_are_kept_as_they_are(session: SessionStore) -> None:
    two_tracked_objects(session)
    session.set_locked(1, True)
    assert session.locked_objects() == {1}
    kept = session.results(frame=3, obj_id=1)
    session.put_results([rect_result(3, 1, x=40), rect_result(3, 2, x=40), rect_result(20, 1)])
    assert session.results(frame=3, obj_id=1) == kept
    assert session.results(frame=3, obj_id=2)[0].box == (40, 5, 10, 8)
    assert session.results(frame=20) == []
    session.set_locked(1, False)
    session.put_results([rect_result(3, 1, x=40)])
    assert session.results(frame=3, obj_id=1)[0].box == (40, 5, 10, 8)
