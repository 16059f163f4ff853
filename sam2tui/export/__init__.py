"""Write a session's results in the formats other tools read: COCO, MOT Challenge, YOLO (boxes and
polygons), DAVIS palette PNGs and YouTube-VIS. One module per format; each format module documents its
layout. Every export is atomic: the target appears whole or an existing one stays as it was.

>>> parse_export_target("coco:out/train.json")
('coco', PosixPath('out/train.json'))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sam2tui.errors import ExportError
from sam2tui.export import coco, davis, mot, sav, yolo, ytvis
from sam2tui.export._selection import ExportOptions, FrameSource, Progress, ResultSource, Selection, select

__all__ = ["FORMATS", "ExportError", "ExportOptions", "export_session", "parse_export_target"]


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
    store: ResultSource,
    fmt: str,
    out: Path,
    *,
    video: FrameSource | None = None,
    options: ExportOptions = ExportOptions(),
    progress: Progress | None = None,
) -> list[Path]:
    """Write the session's results chosen by `options` to `out` as `fmt`; return the paths written.

    `yolo` and `yolo-seg` write the frames as JPEG and need `video`. Raises ExportError (one line).
    """
    spec = _format(fmt, out)
    return spec.write(select(store, options), Path(out), video=video, progress=progress or _quiet)


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
