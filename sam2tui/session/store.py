"""The session file: one SQLite database per video holding objects, prompts, results, history and settings.

One `SessionStore` is shared by the UI thread and the engine worker thread: every operation runs under
one re-entrant lock on one connection, and every write is one transaction (WAL, synchronous=NORMAL:
a commit costs no fsync, and a crash loses at most the last commits, never the file).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs

from sam2tui import __version__, masks
from sam2tui.errors import SessionError
from sam2tui.session import schema
from sam2tui.session.lock import SessionLock
from sam2tui.values import (
    Color,
    FramePrompt,
    FrameResult,
    PendingCorrection,
    Prompt,
    TrackedObject,
    default_color,
)
from sam2tui.video import VideoFingerprint

SCHEMA_VERSION = schema.SCHEMA_VERSION
SESSION_SUFFIX = ".sam2tui"
HISTORY_LIMIT = 1000
"""Edits kept for undo; older ones are dropped."""
CLASSES_KEY = "classes"
"""The setting holding the session's class list (in order: exports number categories by it)."""
LOCKED_KEY = "objects.locked"
"""The setting holding the locked objects' ids: no result of theirs is stored over the ones they have."""
_OBJECT_TABLES = ("prompts", "results", "pending_corrections")  # the rows an identity edit moves by frame

# Results of an object removed meanwhile (the worker may still be tracking it) are dropped, not refused.
_PUT_RESULT = (
    f"INSERT OR REPLACE INTO results ({schema.RESULT_COLUMNS}) "
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM objects WHERE id = ?)"
)


def user_data_dir() -> Path:
    """Where sessions of unwritable video folders go; $SAM2TUI_DATA_DIR overrides the platform's place."""
    override = os.environ.get("SAM2TUI_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("sam2tui"))


def default_session_path(video_path: Path, fingerprint: VideoFingerprint) -> Path:
    """`<video>.sam2tui` beside the video (or frame folder) when that folder is writable, else one in the
    user data folder named by the video's digest. An existing session in either place wins."""
    video = Path(os.path.abspath(video_path))
    beside = video.with_name(video.name + SESSION_SUFFIX)
    fallback = user_data_dir() / "sessions" / f"{fingerprint.digest[:16]}{SESSION_SUFFIX}"
    if beside.exists() or (not fallback.exists() and os.access(video.parent, os.W_OK)):
        return beside
    fallback.parent.mkdir(parents=True, exist_ok=True)
    return fallback


class SessionStore:
    """An open session file: locked against other writers until `close()`, or a read-only snapshot."""

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock: SessionLock | None, fingerprint: VideoFingerprint
    ) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self._conn = conn
        self._file_lock = lock  # None: a read-only snapshot (open_snapshot), which takes no lock
        self._open = True
        self._lock = threading.RLock()
        self._depth = 0  # nesting of transaction()

    # --- opening and closing ----------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path, fingerprint: VideoFingerprint | None = None, *, create: bool = True
    ) -> SessionStore:
        """Open (or create, with `fingerprint`) the session at `path`.

        `fingerprint` None opens an existing session without checking its video. Raises SessionError for
        a file that is not a complete sam2tui session, is newer than this version, or belongs to another
        video; SessionInUseError while another process has it open. A refused file is left untouched.
        """
        path = Path(path)
        if path.is_dir():
            raise SessionError(path, "is a folder, not a session file")
        if not path.exists():
            if not create:
                raise SessionError(path, "no such session file")
            if fingerprint is None:
                raise SessionError(path, "no such session file (a new session needs its video)")
            if not path.parent.is_dir():
                raise SessionError(path, f"folder {path.parent} does not exist")
        lock = SessionLock.acquire(path)
        try:
            if not path.exists() and fingerprint is not None:  # still missing now that we hold the lock
                _create(path, fingerprint)
            schema.check_header(path)
            conn = _connect(path)
            try:
                stored = _prepare(conn, path)
                fingerprint = _match_video(conn, path, stored, fingerprint)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            lock.release()
            raise
        return cls(path, conn, lock, fingerprint)

    @classmethod
    def open_snapshot(cls, path: Path) -> SessionStore:
        """Open an existing session read-only, as it is now, without taking its lock: an export from
        another shell reads a consistent snapshot while the app (the one writer) goes on writing.

        The snapshot is one SQLite read transaction held until `close()` (WAL readers never block the
        writer). A session of an older schema is refused: upgrading it needs the writer."""
        path = Path(path)
        if path.is_dir():
            raise SessionError(path, "is a folder, not a session file")
        if not path.exists():
            raise SessionError(path, "no such session file")
        schema.check_header(path)
        # On a read-only file system nobody can be writing, and SQLite could not make the WAL index there:
        # read the file as immutable.
        flags = "mode=ro&immutable=1" if _on_read_only_disk(path) else "mode=ro"
        try:
            conn = sqlite3.connect(
                f"{Path(os.path.abspath(path)).as_uri()}?{flags}",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as error:
            raise SessionError(path, f"cannot open: {error}") from None
        try:
            stored = _check(conn, path)
            conn.execute("BEGIN")
            conn.execute("SELECT edit_seq FROM meta").fetchone()  # the snapshot starts with the first read
        except sqlite3.DatabaseError as error:
            conn.close()
            raise SessionError(path, f"damaged session file ({error})") from None
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, None, stored)

    def close(self) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            try:
                self._conn.close()
            finally:
                if self._file_lock is not None:
                    self._file_lock.release()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- transactions ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Make the writes inside one transaction (nested calls join the outermost one)."""
        if self._file_lock is None:
            raise SessionError(self.path, "opened read-only (a snapshot for export): cannot write")
        with self._lock, self._errors():
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            yield self._conn

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """A failing file (disk full, damaged page) becomes a SessionError; misuse stays as it is."""
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as error:
            raise SessionError(self.path, f"session file error: {error}") from error

    # --- objects -----------------------------------------------------------------------------------

    def objects(self) -> list[TrackedObject]:
        with self._read() as conn:
            rows = conn.execute("SELECT id, name, class_name, color FROM objects ORDER BY id").fetchall()
        return [self._object(row) for row in rows]

    def add_object(
        self,
        name: str | None = None,
        class_name: str = "object",
        color: Color | None = None,
        obj_id: int | None = None,
    ) -> TrackedObject:
        """A new object with the next free id (or `obj_id`), named "object <id>" unless `name` is given."""
        with self.transaction() as conn:
            if obj_id is None:
                obj_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM objects").fetchone()[0]
            elif obj_id < 1:
                raise ValueError(f"object ids start at 1, got {obj_id}")
            obj = TrackedObject(
                obj_id,
                f"object {obj_id}" if name is None else name,
                class_name,
                default_color(obj_id) if color is None else color,
            )
            self._insert_object(conn, obj)
        return obj

    def update_object(self, obj: TrackedObject) -> None:
        """Change an object's name, class or colour."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE objects SET name = ?, class_name = ?, color = ? WHERE id = ?",
                (obj.name, obj.class_name, schema.color_text(obj.color), obj.obj_id),
            )
            if cursor.rowcount == 0:
                raise ValueError(f"no object {obj.obj_id}")

    def remove_object(self, obj_id: int) -> None:
        """Remove an object with its prompts and results."""
        with self.transaction() as conn:
            if conn.execute("DELETE FROM objects WHERE id = ?", (obj_id,)).rowcount == 0:
                raise ValueError(f"no object {obj_id}")

    def restore_object(
        self,
        obj: TrackedObject,
        prompts: Sequence[Prompt] = (),
        results: Sequence[FrameResult] = (),
        pending: Sequence[PendingCorrection] = (),
    ) -> None:
        """Put back a removed object as it was: its prompts (after any others, in their order), its results
        with their edit numbers and its pending corrections, so what was current or stale still is."""
        with self.transaction() as conn:
            self._insert_object(conn, obj)
            self._insert_prompts(conn, prompts)
            conn.executemany(_PUT_RESULT, [(*schema.result_row(r), r.obj_id) for r in results])
            conn.executemany(
                "INSERT OR REPLACE INTO pending_corrections (obj_id, frame, edit_seq) VALUES (?, ?, ?)",
                [(p.obj_id, p.frame, p.edit_seq) for p in pending],
            )

    def _object(self, row: tuple[int, str, str, str]) -> TrackedObject:
        obj_id, name, class_name, color = row
        try:
            return TrackedObject(obj_id, name, class_name, schema.color_from_text(color))
        except (ValueError, TypeError) as error:
            raise SessionError(self.path, f"damaged object {obj_id}: {error!r}") from None

    @staticmethod
    def _insert_object(conn: sqlite3.Connection, obj: TrackedObject) -> None:
        try:
            conn.execute(
                "INSERT INTO objects (id, name, class_name, color) VALUES (?, ?, ?, ?)",
                (obj.obj_id, obj.name, obj.class_name, schema.color_text(obj.color)),
            )
        except sqlite3.IntegrityError:
            raise ValueError(f"object {obj.obj_id} exists already") from None

    # --- prompts -----------------------------------------------------------------------------------

    def add_prompt(self, prompt: Prompt) -> None:
        self.add_prompts([prompt])

    def add_prompts(self, prompts: Sequence[Prompt]) -> None:
        """Append prompts in the given order (one transaction); each (frame, object) they touch gets a
        pending correction."""
        if not prompts:
            return
        with self.transaction() as conn:
            self._insert_prompts(conn, prompts)
            self._prompts_edited(conn, {(p.obj_id, p.frame) for p in prompts})

    def _insert_prompts(self, conn: sqlite3.Connection, prompts: Sequence[Prompt]) -> None:
        rows = [(p.frame, p.obj_id, p.kind.value, schema.dumps(schema.prompt_payload(p))) for p in prompts]
        try:
            conn.executemany("INSERT INTO prompts (frame, obj_id, kind, payload) VALUES (?, ?, ?, ?)", rows)
        except sqlite3.IntegrityError:
            missing = sorted({p.obj_id for p in prompts} - {o.obj_id for o in self.objects()})
            raise ValueError(f"prompts for unknown objects {missing}") from None

    def _prompts_edited(self, conn: sqlite3.Connection, edited: Iterable[tuple[int, int]]) -> None:
        """Record prompt edits (inside their transaction): the next edit number, a pending correction per
        (object, frame), and no result on a frame left without prompts (what it showed no longer holds)."""
        conn.execute("UPDATE meta SET edit_seq = edit_seq + 1")
        (seq,) = conn.execute("SELECT edit_seq FROM meta").fetchone()
        for obj_id, frame in sorted(edited):
            conn.execute(  # only for an object that exists (a damaged file may hold orphaned prompts)
                "INSERT OR REPLACE INTO pending_corrections (obj_id, frame, edit_seq) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM objects WHERE id = ?)",
                (obj_id, frame, seq, obj_id),
            )
            conn.execute(
                "DELETE FROM results WHERE frame = ? AND obj_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM prompts WHERE frame = ? AND obj_id = ?)",
                (frame, obj_id, frame, obj_id),
            )

    def prompts(self, frame: int | None = None, obj_id: int | None = None) -> list[Prompt]:
        """The prompts (of a frame, of an object, or all) in the order they were made."""
        where, params = _where(frame=frame, obj_id=obj_id)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT frame, obj_id, kind, payload FROM prompts{where} ORDER BY id", params
            ).fetchall()
        return [self._prompt(row) for row in rows]

    def clear_prompts(self, frame: int, obj_id: int) -> list[Prompt]:
        """Remove an object's prompts on a frame (and the frame's result); returns them in their order."""
        with self.transaction() as conn:
            removed = self.prompts(frame, obj_id)
            if removed:
                conn.execute("DELETE FROM prompts WHERE frame = ? AND obj_id = ?", (frame, obj_id))
                self._prompts_edited(conn, [(obj_id, frame)])
        return removed

    def remove_prompt(self, prompt: Prompt) -> bool:
        """Remove the newest stored prompt equal to `prompt`; False when there is none."""
        payload = schema.dumps(schema.prompt_payload(prompt))
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM prompts WHERE id = (SELECT id FROM prompts WHERE frame = ? AND obj_id = ? "
                "AND kind = ? AND payload = ? ORDER BY id DESC LIMIT 1)",
                (prompt.frame, prompt.obj_id, prompt.kind.value, payload),
            )
            if cursor.rowcount == 1:
                self._prompts_edited(conn, [(prompt.obj_id, prompt.frame)])
        return cursor.rowcount == 1

    def frame_prompts(self) -> list[FramePrompt]:
        """What each (frame, object) was prompted with, folded as the engine applies it."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT frame, obj_id, kind, payload FROM prompts ORDER BY frame, obj_id, id"
            ).fetchall()
        prompts = [self._prompt(row) for row in rows]
        return [
            FramePrompt.collect(frame, obj_id, group)
            for (frame, obj_id), group in itertools.groupby(prompts, key=lambda p: (p.frame, p.obj_id))
        ]

    def prompted_frames(self, obj_id: int | None = None) -> list[int]:
        where, params = _where(obj_id=obj_id)
        with self._read() as conn:
            rows = conn.execute(f"SELECT DISTINCT frame FROM prompts{where} ORDER BY frame", params)
            return [frame for (frame,) in rows]

    def _prompt(self, row: tuple[int, int, str, str]) -> Prompt:
        frame, obj_id, kind, payload = row
        try:
            return schema.prompt_from_payload(frame, obj_id, kind, json.loads(payload))
        except (ValueError, KeyError, TypeError) as error:
            raise SessionError(self.path, f"damaged prompt on frame {frame}: {error!r}") from None

    # --- results -----------------------------------------------------------------------------------

    def put_results(self, results: Sequence[FrameResult]) -> None:
        """Store results, replacing those of the same (frame, object); one transaction.

        Each is stamped with the current edit number: it follows from the prompts as they are now (the
        controller refuses prompt edits while a propagation runs, so a pass's results all follow from the
        prompts it started with). Results of objects that no longer exist are dropped."""
        if not results:
            return
        with self.transaction() as conn:
            (seq,) = conn.execute("SELECT edit_seq FROM meta").fetchone()
            locked = self.locked_objects()
            rows = [(*schema.result_row(r)[:-1], seq, r.obj_id) for r in results if r.obj_id not in locked]
            conn.executemany(_PUT_RESULT, rows)

    def edit_seq(self) -> int:
        """The number of the latest prompt edit (0 before the first)."""
        with self._read() as conn:
            return int(conn.execute("SELECT edit_seq FROM meta").fetchone()[0])

    def pending_corrections(self, obj_id: int | None = None) -> list[PendingCorrection]:
        """Prompt edits whose spans are not re-tracked yet, oldest first."""
        where, params = _where(obj_id=obj_id)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT obj_id, frame, edit_seq FROM pending_corrections{where} ORDER BY edit_seq, obj_id, frame",
                params,
            ).fetchall()
        return [PendingCorrection(int(o), int(f), int(seq)) for o, f, seq in rows]

    def drop_pending(self, corrections: Iterable[PendingCorrection]) -> None:
        """Forget pending corrections that are settled (a newer edit of the same frame is kept)."""
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM pending_corrections WHERE obj_id = ? AND frame = ? AND edit_seq = ?",
                [(p.obj_id, p.frame, p.edit_seq) for p in corrections],
            )

    def results(self, frame: int | None = None, obj_id: int | None = None) -> list[FrameResult]:
        """Results (of a frame, of an object, or all) by frame, then object."""
        where, params = _where(frame=frame, obj_id=obj_id)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {schema.RESULT_COLUMNS} FROM results{where} ORDER BY frame, obj_id", params
            ).fetchall()
        return [schema.result_from_row(row) for row in rows]

    def results_by_frame(self, obj_id: int) -> dict[int, FrameResult]:
        return {r.frame: r for r in self.results(obj_id=obj_id)}

    def delete_results(self, obj_id: int | None = None, frames: Iterable[int] | None = None) -> None:
        """Delete results of an object and/or of some frames (both None: all results)."""
        where, params = _where(obj_id=obj_id)
        with self.transaction() as conn:
            if frames is None:
                conn.execute(f"DELETE FROM results{where}", params)
            else:
                condition = f"{where} AND frame = ?" if where else " WHERE frame = ?"
                conn.executemany(f"DELETE FROM results{condition}", [(*params, f) for f in frames])

    # --- identity edits: prompts, results and pending corrections change owner together ---------------

    def swap_objects(self, first: int, second: int, from_frame: int) -> None:
        """Exchange two objects' identities on `from_frame` and after: their prompts, results and pending
        corrections there trade obj_id (one transaction, one edit number; swapping again undoes it)."""
        with self.transaction() as conn:
            self._require_objects(first, second)
            conn.execute("PRAGMA defer_foreign_keys = ON")  # the ids pass through negatives; ends at COMMIT
            for table in _OBJECT_TABLES:
                conn.execute(
                    f"UPDATE {table} SET obj_id = -obj_id WHERE frame >= ? AND obj_id IN (?, ?)",
                    (from_frame, first, second),
                )
                conn.execute(
                    f"UPDATE {table} SET obj_id = CASE obj_id WHEN ? THEN ? ELSE ? END WHERE obj_id IN (?, ?)",
                    (-first, second, first, -first, -second),
                )
            self._identity_edited(conn)

    def merge_objects(self, source: int, target: int) -> None:
        """Make `source` part of `target` and remove it (one transaction, one edit number).

        The source's prompts move to the frames where the target has none (where both have prompts the
        target's stay); its results move where the target has none, and where both have one the result is
        the union of the masks. On a prompted frame where that union is more than the prompts' own mask, a
        mask prompt of the union ends the frame's prompts, so that it stays the label when they are replayed.
        Pending corrections move where the target has none on their frame."""
        with self.transaction() as conn:
            self._require_objects(source, target)
            target_prompted = set(self.prompted_frames(target))
            source_prompted = set(self.prompted_frames(source))
            target_results = self.results_by_frame(target)
            for frame in sorted(source_prompted - target_prompted):
                conn.execute(
                    "UPDATE prompts SET obj_id = ? WHERE obj_id = ? AND frame = ?", (target, source, frame)
                )
            labels = []
            for result in self.results(obj_id=source):
                kept = target_results.get(result.frame)
                if kept is None:
                    conn.execute(
                        "UPDATE results SET obj_id = ? WHERE obj_id = ? AND frame = ?",
                        (target, source, result.frame),
                    )
                    continue
                union = _union_result(kept, result)
                conn.execute(_PUT_RESULT, (*schema.result_row(union), target))
                if result.frame in target_prompted | source_prompted:
                    prompted = kept if result.frame in target_prompted else result
                    if union.area > prompted.area:
                        labels.append(Prompt.from_mask(result.frame, target, union.rle))
            self._insert_prompts(conn, labels)
            conn.execute(
                "UPDATE OR IGNORE pending_corrections SET obj_id = ? WHERE obj_id = ?", (target, source)
            )
            conn.execute("DELETE FROM objects WHERE id = ?", (source,))  # with what did not move
            self._identity_edited(conn)

    def split_object(self, obj_id: int, from_frame: int, new: TrackedObject) -> None:
        """Give `from_frame` and after of an object to `new` (created here): its prompts, results and
        pending corrections there (one transaction, one edit number; merging `new` back undoes it)."""
        with self.transaction() as conn:
            self._require_objects(obj_id)
            self._insert_object(conn, new)
            for table in _OBJECT_TABLES:
                conn.execute(
                    f"UPDATE {table} SET obj_id = ? WHERE obj_id = ? AND frame >= ?",
                    (new.obj_id, obj_id, from_frame),
                )
            self._identity_edited(conn)

    def replace_objects(
        self,
        objects: Sequence[TrackedObject],
        prompts: Sequence[Prompt],
        results: Sequence[FrameResult],
        pending: Sequence[PendingCorrection],
    ) -> None:
        """Put objects back exactly as they were (those that exist lose what they have now): their prompts
        in order, results with their edit numbers, pending corrections; one transaction, one edit number."""
        with self.transaction() as conn:
            for obj in objects:
                conn.execute("DELETE FROM objects WHERE id = ?", (obj.obj_id,))
            for obj in objects:
                self.restore_object(
                    obj,
                    [p for p in prompts if p.obj_id == obj.obj_id],
                    [r for r in results if r.obj_id == obj.obj_id],
                    [p for p in pending if p.obj_id == obj.obj_id],
                )
            self._identity_edited(conn)

    def _require_objects(self, *obj_ids: int) -> None:
        missing = sorted(set(obj_ids) - {obj.obj_id for obj in self.objects()})
        if missing:
            raise ValueError(f"no object {missing[0]}")
        if len(set(obj_ids)) != len(obj_ids):
            raise ValueError(f"an identity edit needs two different objects, got {obj_ids}")

    @staticmethod
    def _identity_edited(conn: sqlite3.Connection) -> None:
        """An identity edit changes which object prompts belong to: it takes an edit number. Results keep
        theirs (they moved with their frames, still following from the same prompts), so none turns stale."""
        conn.execute("UPDATE meta SET edit_seq = edit_seq + 1")

    # --- locked objects ----------------------------------------------------------------------------

    def locked_objects(self) -> set[int]:
        return {int(obj_id) for obj_id in self.setting(LOCKED_KEY, [])}

    def set_locked(self, obj_id: int, locked: bool) -> None:
        """Lock an object (its stored results stay as they are: put_results skips it) or unlock it."""
        with self.transaction():
            ids = self.locked_objects() - {obj_id} | ({obj_id} if locked else set())
            self.set_setting(LOCKED_KEY, sorted(ids))

    # --- settings ----------------------------------------------------------------------------------

    def setting(self, key: str, default: Any = None) -> Any:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except (ValueError, TypeError) as error:
            raise SessionError(self.path, f"damaged setting {key!r}: {error!r}") from None

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under `key`."""
        text = json.dumps(value)
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, text))

    def classes(self) -> list[str]:
        """The session's class list, then any object's class missing from it (sessions made before the list
        existed), in the order exports number them."""
        listed = [str(name) for name in self.setting(CLASSES_KEY, [])]
        return list(dict.fromkeys([*listed, *(obj.class_name for obj in self.objects())]))

    def add_classes(self, names: Iterable[str]) -> None:
        """Append classes to the class list (the ones it has keep their place)."""
        with self.transaction():
            self.set_setting(CLASSES_KEY, list(dict.fromkeys([*self.classes(), *names])))

    # --- history (the records are sam2tui.session.history's JSON) ----------------------------------

    def history_push(self, record: str) -> None:
        """Record a new edit: the redo tail goes, and only the newest HISTORY_LIMIT edits stay."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM history WHERE undone = 1")
            conn.execute("INSERT INTO history (edit) VALUES (?)", (record,))
            conn.execute(
                "DELETE FROM history WHERE id NOT IN (SELECT id FROM history ORDER BY id DESC LIMIT ?)",
                (HISTORY_LIMIT,),
            )

    def history_step(self, *, undo: bool) -> tuple[int, str] | None:
        """Mark the newest done edit undone (or the oldest undone edit done again); returns (id, record)."""
        with self.transaction() as conn:
            row = self.history_peek(undo=undo)
            if row is not None:
                conn.execute("UPDATE history SET undone = ? WHERE id = ?", (int(undo), row[0]))
        return row

    def history_peek(self, *, undo: bool) -> tuple[int, str] | None:
        """The edit history_step would take, (id, record), without marking it."""
        query = (
            "SELECT id, edit FROM history WHERE undone = 0 ORDER BY id DESC LIMIT 1"
            if undo
            else "SELECT id, edit FROM history WHERE undone = 1 ORDER BY id LIMIT 1"
        )
        with self._read() as conn:
            row = conn.execute(query).fetchone()
        return None if row is None else (row[0], row[1])

    def history_rewrite(self, record_id: int, record: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE history SET edit = ? WHERE id = ?", (record, record_id))

    def history_counts(self) -> tuple[int, int]:
        """How many edits can be undone and redone."""
        with self._read() as conn:
            done, undone = conn.execute(
                "SELECT COALESCE(SUM(undone = 0), 0), COALESCE(SUM(undone = 1), 0) FROM history"
            ).fetchone()
        return done, undone


def _where(**columns: int | None) -> tuple[str, tuple[int, ...]]:
    """A WHERE clause matching the columns that are not None."""
    used = {name: value for name, value in columns.items() if value is not None}
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(f"{name} = ?" for name in used), tuple(used.values())


def _union_result(kept: FrameResult, other: FrameResult) -> FrameResult:
    """`kept` with the union of both masks (box, area and parts of the union; the better score; the older
    edit number, so that a stale one stays stale)."""
    union = masks.decode(kept.rle) | masks.decode(other.rle)
    tight = masks.box(union)
    parts = masks.count_parts(union) if tight else 0
    return dataclasses.replace(
        kept,
        rle=masks.encode(union),
        score=max(kept.score, other.score),
        box=tight,
        area=masks.area(union),
        parts=parts,
        edit_seq=min(kept.edit_seq, other.edit_seq),
    )


def _on_read_only_disk(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as error:
        raise SessionError(path, f"cannot open: {error}") from None
    return conn


def _create(path: Path, fingerprint: VideoFingerprint) -> None:
    """Write a new, empty session atomically: build it under a temporary name, then rename it."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        conn = sqlite3.connect(str(temp), isolation_level=None)
        try:
            created = datetime.now(timezone.utc).isoformat(timespec="seconds")
            schema.create_tables(conn, created, __version__)
            _store_video(conn, path, fingerprint)
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        os.replace(temp, path)
    except (OSError, sqlite3.Error) as error:
        temp.unlink(missing_ok=True)
        message = error.strerror if isinstance(error, OSError) else str(error)
        raise SessionError(path, f"cannot create: {message}") from None


def _prepare(conn: sqlite3.Connection, path: Path) -> VideoFingerprint:
    """Check the file (reads only), migrate it, switch to WAL; returns the stored fingerprint."""
    return _check(conn, path, migrate=True)


def _check(conn: sqlite3.Connection, path: Path, *, migrate: bool = False) -> VideoFingerprint:
    """Check the file (reads only) and return the stored fingerprint; with `migrate`, bring an older schema
    up to date and switch to WAL first (a writer's job), else refuse an older schema."""
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != schema.APPLICATION_ID:
            raise SessionError(path, "not a sam2tui session (an SQLite database of another program)")
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise SessionError(path, f"damaged session file ({problems[0]})")
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"meta", "video"} <= tables:
            raise SessionError(path, "not a sam2tui session (no meta or video table)")
        meta = conn.execute("SELECT schema_version FROM meta").fetchone()
        version = meta[0] if meta is not None else None
        if not isinstance(version, int):
            raise SessionError(path, f"damaged session file (schema version {version!r})")
        if version != schema.SCHEMA_VERSION and not migrate:
            if version in schema.MIGRATIONS:
                raise SessionError(path, "made by an older sam2tui: open it once with sam2tui to upgrade it")
            schema.migrate(conn, path, version)  # raises before writing: newer, or no such version
        if version != schema.SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                schema.migrate(conn, path, version)
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        if migrate:
            conn.execute("PRAGMA journal_mode = WAL")
        row = conn.execute("SELECT path, frame_count, width, height, fps, digest FROM video").fetchone()
    except sqlite3.DatabaseError as error:
        raise SessionError(path, f"damaged session file ({error})") from None
    if row is None:
        raise SessionError(path, "damaged session file (no video recorded)")
    video_path, frame_count, width, height, fps, digest = row
    fields = (video_path, frame_count, width, height, fps, digest)
    kinds = (str, int, int, int, int | float, str)
    if not all(isinstance(value, kind) for value, kind in zip(fields, kinds, strict=True)):
        raise SessionError(path, f"damaged session file (video record {row!r})")
    resolved = Path(video_path) if os.path.isabs(video_path) else path.parent / video_path
    return VideoFingerprint(
        path=os.path.normpath(os.path.abspath(resolved)),
        frame_count=frame_count,
        width=width,
        height=height,
        fps=fps,
        digest=digest,
    )


def _match_video(
    conn: sqlite3.Connection, path: Path, stored: VideoFingerprint, given: VideoFingerprint | None
) -> VideoFingerprint:
    """The session's fingerprint; refuses another video, and follows a video that was moved or renamed."""
    if given is None:
        return stored
    if not _same_video(stored, given):
        mine, theirs = stored.describe(), given.describe()
        differ = "; same name and size, other frames" if mine == theirs else ""
        raise SessionError(path, f"belongs to another video: made for {mine}, not {theirs}{differ}")
    if os.path.abspath(given.path) != stored.path:
        try:
            _store_video(conn, path, given)  # one statement: its own transaction
        except sqlite3.DatabaseError as error:
            raise SessionError(path, f"session file error: {error}") from None
    return given


def _same_video(a: VideoFingerprint, b: VideoFingerprint) -> bool:
    """Same frames: the path may differ (a moved or renamed video is the same video)."""
    return (
        (a.frame_count, a.width, a.height, a.digest) == (b.frame_count, b.width, b.height, b.digest)
    ) and math.isclose(a.fps, b.fps, rel_tol=1e-6)


def _store_video(conn: sqlite3.Connection, path: Path, fingerprint: VideoFingerprint) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO video (id, path, frame_count, width, height, fps, digest) "
        "VALUES (1, ?, ?, ?, ?, ?, ?)",
        (
            _stored_video_path(path, fingerprint.path),
            fingerprint.frame_count,
            fingerprint.width,
            fingerprint.height,
            float(fingerprint.fps),
            fingerprint.digest,
        ),
    )


def _stored_video_path(session_path: Path, video_path: str) -> str:
    """Relative to the session's folder when the video lies inside it (both can move together)."""
    video = Path(os.path.abspath(video_path))
    folder = Path(os.path.abspath(session_path)).parent
    try:
        return video.relative_to(folder).as_posix()
    except ValueError:
        return str(video)
