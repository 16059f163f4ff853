"""Write a session's labels in the formats other tools read: COCO, MOT Challenge, YOLO (boxes and
polygons), DAVIS palette PNGs and YouTube-VIS. One module per format; each format module documents its
layout. What is written is what was labelled (`_selection.select`: prompted, current and absent frames;
stale ones on request). Every export is atomic: the target appears whole or an existing one stays as it was.

>>> parse_export_target("coco:out/train.json")
('coco', PosixPath('out/train.json'))
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Protocol

from sam2tui.errors import ExportError, SessionError
from sam2tui.export import coco, davis, mot, sav, yolo, ytvis
from sam2tui.export._selection import ExportOptions, FrameSource, Progress, Selection, select
from sam2tui.session.project import LAST_EXPORT_KEY
from sam2tui.session.store import SessionStore

__all__ = [
    "FORMATS",
    "ExportError",
    "ExportOptions",
    "Exported",
    "export_session",
    "export_to_folder",
    "parse_export_target",
]

FormatProgress = Callable[[str, int, int], None]
"""Called with (format, frames done, frames in all) as a several-format export goes."""


class Writer(Protocol):
    def __call__(
        self, selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress
    ) -> list[Path]: ...


@dataclass(frozen=True)
class Format:
    write: Writer
    default_name: str  # the target's name inside a folder when several formats are exported at once
    needs_video: bool = False  # writes the frames as images


REGISTRY: dict[str, Format] = {
    "coco": Format(coco.write, "coco.json"),
    "mot": Format(mot.write, "mot"),
    "yolo": Format(yolo.write_detection, "yolo", needs_video=True),
    "yolo-seg": Format(yolo.write_segmentation, "yolo-seg", needs_video=True),
    "davis": Format(davis.write, "davis"),
    "ytvis": Format(ytvis.write, "ytvis.json"),
    "sav": Format(sav.write, "sav.json"),
}

FORMATS: tuple[str, ...] = tuple(REGISTRY)


def export_session(
    store: SessionStore,
    fmt: str,
    out: Path,
    *,
    video: FrameSource | None = None,
    options: ExportOptions = ExportOptions(),
    progress: Progress | None = None,
) -> list[Path]:
    """Write the session's labelled frames chosen by `options` to `out` as `fmt`; return the paths written.

    `yolo` and `yolo-seg` write the frames as JPEG and need `video`. Raises ExportError (one line), before
    writing anything for stale frames not asked for and for a choice with nothing labelled (see `select`).
    """
    spec = _format(fmt, out)
    return spec.write(select(store, options), Path(out), video=video, progress=progress or _quiet)


@dataclass(frozen=True)
class Exported:
    """One format written: where to, the paths written there, and how many stale frames they hold."""

    fmt: str
    target: Path
    paths: list[Path]
    stale: int = 0


def export_to_folder(
    store: SessionStore,
    formats: Sequence[str],
    out: Path,
    *,
    video: FrameSource | None = None,
    options: ExportOptions = ExportOptions(),
    progress: FormatProgress | None = None,
    into_folder: bool = True,
) -> list[Exported]:
    """Write each of `formats` into the folder `out`, under its default name (coco.json, mot/, yolo/, ...).

    With `into_folder=False` the one format given is written to `out` itself (the CLI's `--out` with a
    single `--format`). The session is read once, so every format writes the same selection; a bad format
    or selection raises ExportError before anything is written.
    """
    specs = {fmt: _format(fmt, out) for fmt in dict.fromkeys(formats)}
    if not into_folder and len(specs) != 1:
        raise ValueError(f"one target {out} for {len(specs)} formats")
    selection = select(store, options)
    done: list[Exported] = []
    for fmt, spec in specs.items():
        target = Path(out) / spec.default_name if into_folder else Path(out)
        report = _quiet if progress is None else partial(progress, fmt)
        paths = spec.write(selection, target, video=video, progress=report)
        done.append(Exported(fmt, target, paths, selection.stale))
    _note_export(store)
    return done


def _note_export(store: SessionStore) -> None:
    """Note when the session was exported (a project's screen shows it); a read-only snapshot (the
    CLI's) cannot take the note, and the export is done either way."""
    with contextlib.suppress(SessionError):
        store.set_setting(LAST_EXPORT_KEY, datetime.now(timezone.utc).isoformat(timespec="seconds"))


def parse_export_target(text: str) -> tuple[str, Path]:
    """ "FORMAT:PATH" -> (format, path), e.g. "coco:out.json" -> ("coco", Path("out.json"))."""
    fmt, colon, path = text.partition(":")
    if not colon or not path:
        raise ExportError(text, f"an export target is FORMAT:PATH with FORMAT one of {', '.join(FORMATS)}")
    _format(fmt, text)
    return fmt, Path(path)


def _format(fmt: str, target: str | Path) -> Format:
    spec = REGISTRY.get(fmt)
    if spec is None:
        raise ExportError(target, f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    return spec


def _quiet(done: int, total: int) -> None:
    """The progress callback when nobody listens."""
