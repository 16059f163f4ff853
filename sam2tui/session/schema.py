"""The session file's format: its tables, their migrations, its header check, and how values map to rows.

A session is an SQLite database marked with our `application_id`; `meta.schema_version` says which
layout it has. `MIGRATIONS[v]` upgrades a version-v file to v+1 inside the opening transaction.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sam2tui.errors import SessionError
from sam2tui.values import Color, FrameResult, Prompt, PromptKind, TrackedObject

SCHEMA_VERSION = 2
APPLICATION_ID = 0x53324D54  # "S2MT": marks the SQLite file as a sam2tui session (PRAGMA application_id)

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100

TABLES = """
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    created TEXT NOT NULL,
    app_version TEXT NOT NULL,
    edit_seq INTEGER NOT NULL DEFAULT 0  -- counts prompt edits; results and pending corrections carry it
);
CREATE TABLE video (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    path TEXT NOT NULL,  -- relative to the session file's folder when the video lies inside it
    frame_count INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    fps REAL NOT NULL,
    digest TEXT NOT NULL
);
CREATE TABLE objects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    class_name TEXT NOT NULL,
    color TEXT NOT NULL  -- "#rrggbb"
);
CREATE TABLE prompts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order of creation; never reused
    frame INTEGER NOT NULL,
    obj_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('point', 'box', 'mask')),
    payload TEXT NOT NULL  -- JSON, see prompt_payload()
);
CREATE INDEX prompts_by_object ON prompts (obj_id, frame);
CREATE TABLE results (
    frame INTEGER NOT NULL,
    obj_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    rle_counts TEXT NOT NULL,  -- COCO compressed RLE counts, column-major
    height INTEGER NOT NULL,
    width INTEGER NOT NULL,
    score REAL NOT NULL,
    box_x INTEGER, box_y INTEGER, box_w INTEGER, box_h INTEGER,  -- NULL when the mask is empty
    area INTEGER NOT NULL,
    model TEXT NOT NULL,
    parts INTEGER,  -- connected parts of the mask; NULL when not counted
    edit_seq INTEGER NOT NULL DEFAULT 0,  -- meta.edit_seq when stored: older than a pending edit = stale
    PRIMARY KEY (frame, obj_id)
);
CREATE INDEX results_by_object ON results (obj_id, frame);
CREATE TABLE pending_corrections (  -- prompt edits whose span is not re-tracked yet
    obj_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    frame INTEGER NOT NULL,
    edit_seq INTEGER NOT NULL,
    PRIMARY KEY (obj_id, frame)
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    edit TEXT NOT NULL,  -- JSON, see sam2tui.session.history
    undone INTEGER NOT NULL DEFAULT 0  -- the undone edits are always the newest ones (the redo tail)
);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL  -- JSON
);
"""

Migration = Callable[[sqlite3.Connection], None]


def _add_label_states(conn: sqlite3.Connection) -> None:
    """Schema 2: edit numbers and pending corrections. A version-1 file's results count as current (its
    pending corrections lived in the app's memory and are gone)."""
    conn.execute("ALTER TABLE meta ADD COLUMN edit_seq INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE results ADD COLUMN edit_seq INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "CREATE TABLE pending_corrections (obj_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,"
        " frame INTEGER NOT NULL, edit_seq INTEGER NOT NULL, PRIMARY KEY (obj_id, frame))"
    )


MIGRATIONS: dict[int, Migration] = {1: _add_label_states}
"""MIGRATIONS[v] turns a schema-v file into a schema-(v+1) one; it runs inside a transaction."""


def check_header(path: Path) -> None:
    """Refuse, without opening it with SQLite, a file that is no (complete) sam2tui session."""
    try:
        with path.open("rb") as file:
            header = file.read(HEADER_SIZE)
            size = file.seek(0, 2)
    except OSError as error:
        raise SessionError(path, f"cannot read: {error.strerror or error}") from None
    if size == 0:
        raise SessionError(path, "empty file, not a sam2tui session")
    if len(header) < HEADER_SIZE or not header.startswith(SQLITE_MAGIC):
        raise SessionError(path, "not a sam2tui session (not an SQLite database)")
    (page_size,) = struct.unpack_from(">H", header, 16)
    page_size = 65536 if page_size == 1 else page_size
    change_counter, page_count = struct.unpack_from(">II", header, 24)
    (application_id,) = struct.unpack_from(">i", header, 68)
    (valid_for,) = struct.unpack_from(">I", header, 92)
    if application_id != APPLICATION_ID:
        raise SessionError(path, "not a sam2tui session (an SQLite database of another program)")
    if page_size < 512 or page_size & (page_size - 1):
        raise SessionError(path, f"damaged session file (page size {page_size} in its header)")
    # The page count in the header is trustworthy only when written with the current change counter.
    expected = page_count * page_size if page_count and valid_for == change_counter else page_size
    if size % page_size or size < expected:
        raise SessionError(path, f"session file is truncated ({size} bytes, expected at least {expected})")


def create_tables(conn: sqlite3.Connection, created: str, app_version: str) -> None:
    """Lay out a new, empty file (the caller makes it visible only when complete)."""
    conn.executescript(f"BEGIN; PRAGMA application_id = {APPLICATION_ID}; {TABLES} COMMIT;")
    conn.execute(
        "INSERT INTO meta (id, schema_version, created, app_version) VALUES (1, ?, ?, ?)",
        (SCHEMA_VERSION, created, app_version),
    )


def migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Bring a schema-`version` file up to SCHEMA_VERSION (the caller holds a transaction)."""
    if version > SCHEMA_VERSION:
        raise SessionError(
            path,
            f"created by a newer sam2tui (schema {version}; this version reads up to {SCHEMA_VERSION})",
        )
    for step in range(version, SCHEMA_VERSION):
        if step not in MIGRATIONS:
            raise SessionError(path, f"no migration from schema {step} (a damaged session file?)")
        MIGRATIONS[step](conn)
    if version != SCHEMA_VERSION:
        conn.execute("UPDATE meta SET schema_version = ?", (SCHEMA_VERSION,))


# --- values <-> rows and JSON ------------------------------------------------------------------


def dumps(value: Any) -> str:
    """Canonical JSON: equal values give equal text (prompts are matched by their payload text)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def color_text(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


def color_from_text(text: str) -> Color:
    return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))


def rle_value(rle: dict[str, Any]) -> dict[str, Any]:
    """An RLE as plain JSON types (`counts` may come from pycocotools as bytes)."""
    counts = rle["counts"]
    h, w = rle["size"]
    return {
        "size": [int(h), int(w)],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def prompt_payload(prompt: Prompt) -> dict[str, Any]:
    """What a prompt carries besides frame, object and kind."""
    if prompt.kind is PromptKind.POINT:
        if prompt.point is None or prompt.label is None:
            raise ValueError("a point prompt needs a point and a label")
        return {"point": [float(prompt.point[0]), float(prompt.point[1])], "label": int(prompt.label)}
    if prompt.kind is PromptKind.BOX:
        if prompt.box is None:
            raise ValueError("a box prompt needs a box")
        return {"box": [float(v) for v in prompt.box]}
    if prompt.mask is None:
        raise ValueError("a mask prompt needs a mask")
    return {"mask": rle_value(prompt.mask)}


def prompt_from_payload(frame: int, obj_id: int, kind: str, payload: dict[str, Any]) -> Prompt:
    prompt_kind = PromptKind(kind)
    if prompt_kind is PromptKind.POINT:
        x, y = payload["point"]
        return Prompt(frame, obj_id, prompt_kind, point=(float(x), float(y)), label=int(payload["label"]))
    if prompt_kind is PromptKind.BOX:
        x0, y0, x1, y1 = payload["box"]
        return Prompt(frame, obj_id, prompt_kind, box=(float(x0), float(y0), float(x1), float(y1)))
    return Prompt(frame, obj_id, prompt_kind, mask=rle_value(payload["mask"]))


def prompt_to_json(prompt: Prompt) -> dict[str, Any]:
    return {
        "frame": prompt.frame,
        "obj_id": prompt.obj_id,
        "kind": prompt.kind.value,
        **prompt_payload(prompt),
    }


def prompt_from_json(value: dict[str, Any]) -> Prompt:
    return prompt_from_payload(int(value["frame"]), int(value["obj_id"]), value["kind"], value)


def object_to_json(obj: TrackedObject) -> dict[str, Any]:
    return {"obj_id": obj.obj_id, "name": obj.name, "class_name": obj.class_name, "color": list(obj.color)}


def object_from_json(value: dict[str, Any]) -> TrackedObject:
    r, g, b = value["color"]
    return TrackedObject(int(value["obj_id"]), value["name"], value["class_name"], (int(r), int(g), int(b)))


RESULT_COLUMNS = "frame, obj_id, rle_counts, height, width, score, box_x, box_y, box_w, box_h, area, model, parts, edit_seq"


def result_row(result: FrameResult) -> tuple[Any, ...]:
    """A results-table row, in the order of RESULT_COLUMNS."""
    rle = rle_value(result.rle)
    box = result.box if result.box is not None else (None, None, None, None)
    h, w = rle["size"]
    return (
        result.frame,
        result.obj_id,
        rle["counts"],
        h,
        w,
        float(result.score),
        *box,
        result.area,
        result.model,
        result.parts,
        result.edit_seq,
    )


def result_from_row(row: tuple[Any, ...]) -> FrameResult:
    frame, obj_id, counts, h, w, score, x, y, bw, bh, area, model, parts, edit_seq = row
    box = None if x is None else (x, y, bw, bh)
    rle = {"size": [h, w], "counts": counts}
    return FrameResult(frame, obj_id, rle, score, box, area, model, parts, edit_seq)


def result_to_json(result: FrameResult) -> dict[str, Any]:
    return {
        "frame": result.frame,
        "obj_id": result.obj_id,
        "rle": rle_value(result.rle),
        "score": float(result.score),
        "box": None if result.box is None else list(result.box),
        "area": result.area,
        "model": result.model,
        "parts": result.parts,
        "edit_seq": result.edit_seq,
    }


def result_from_json(value: dict[str, Any]) -> FrameResult:
    box = value["box"]
    return FrameResult(
        int(value["frame"]),
        int(value["obj_id"]),
        rle_value(value["rle"]),
        float(value["score"]),
        None if box is None else (int(box[0]), int(box[1]), int(box[2]), int(box[3])),
        int(value["area"]),
        value["model"],
        None if value.get("parts") is None else int(value["parts"]),
        int(value.get("edit_seq", 0)),
    )
