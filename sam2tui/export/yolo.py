"""YOLO datasets (Ultralytics layout): `images/` with the frames as JPEG, `labels/` with one text file per
image, and `data.yaml` naming the classes
(its first line, a comment, says which models made the labels).

Every exported frame gets an image and a label file (empty when no object is on it: a background image).
Lines are `class cx cy w h` (detection: one line per object) or `class x1 y1 x2 y2 ...` (segmentation),
0-based class index, coordinates normalized by the frame's width and height, lines in object id order.
Segmentation writes one line per object too, so readers see one instance per object: a mask of several
parts becomes one polygon, the parts joined by zero-width lines as Ultralytics' own COCO converter joins
them, and each part's holes joined to its outline by zero-width cuts (see `masks.single_polygon`).
Vertices are boundary pixel centres (OpenCV's convention), so filling the polygon gives the mask back,
plus the pixels that the joining lines cross.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from sam2tui import masks
from sam2tui.errors import ExportError
from sam2tui.export._io import replacing_folder
from sam2tui.export._selection import (
    FrameSource,
    Instance,
    Progress,
    Selection,
    describe_models,
    frame_name,
)

JPEG_QUALITY = 95

LabelLines = Callable[[Instance, int, int], list[str]]


def detection_lines(instance: Instance, width: int, height: int) -> list[str]:
    x, y, w, h = instance.box
    cx, cy = (x + w / 2) / width, (y + h / 2) / height
    return [f"{instance.category_id - 1} {cx:.6f} {cy:.6f} {w / width:.6f} {h / height:.6f}"]


def segmentation_lines(instance: Instance, width: int, height: int) -> list[str]:
    polygon = masks.single_polygon(masks.decode(instance.rle))  # an instance's mask is never empty
    vertices = (polygon / np.array([width, height])).ravel().tolist()
    return [f"{instance.category_id - 1} " + " ".join(f"{v:.6f}" for v in vertices)]


def data_yaml(selection: Selection) -> str:
    return yaml_text(
        f"{json.dumps(selection.video_name)} exported by sam2tui; {describe_models(selection.models())}",
        selection.categories,
        {"train": "images", "val": "images"},
    )


def yaml_text(comment: str, categories: list[str], splits: dict[str, str]) -> str:
    """data.yaml: a comment line, the split folders (relative to data.yaml's folder) and the class names."""
    # JSON strings are valid YAML scalars, so any class name is quoted correctly.
    names = "\n".join(f"  {index}: {json.dumps(name)}" for index, name in enumerate(categories))
    folders = "".join(f"{split}: {folder}\n" for split, folder in splits.items())
    return f"# {comment}\n{folders}nc: {len(categories)}\nnames:\n{names}\n"


def write_detection(
    selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress
) -> list[Path]:
    return _write(selection, out, video, progress, detection_lines, "yolo")


def write_segmentation(
    selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress
) -> list[Path]:
    return _write(selection, out, video, progress, segmentation_lines, "yolo-seg")


def lines_for(fmt: str) -> LabelLines:
    """The label lines of "yolo" (boxes) or "yolo-seg" (polygons)."""
    return segmentation_lines if fmt == "yolo-seg" else detection_lines


def _write(
    selection: Selection,
    out: Path,
    video: FrameSource | None,
    progress: Progress,
    lines_of: LabelLines,
    fmt: str,
) -> list[Path]:
    if video is None:
        raise ExportError(out, f"{fmt} writes the frames as images and needs the video")
    with replacing_folder(out, f"{fmt} export of {selection.video_name}") as folder:
        (folder / "data.yaml").write_text(data_yaml(selection), encoding="utf-8")
        written = write_frames(selection, folder / "images", folder / "labels", video, progress, lines_of)
    return [out / "data.yaml", *(out / path.relative_to(folder) for path in written)]


def write_frames(
    selection: Selection,
    images: Path,
    labels: Path,
    video: FrameSource,
    progress: Progress,
    lines_of: LabelLines,
    prefix: str = "",
) -> list[Path]:
    """Each exported frame as `images/<prefix>frame_000123.jpg` and its `labels/<prefix>frame_000123.txt`
    (the folders are made); returns the paths written, image then label, frame by frame."""
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for done, frame in enumerate(selection.frames, 1):
        name = prefix + frame_name(frame)
        _write_jpeg(images / f"{name}.jpg", video.frame(frame), selection)
        lines = [
            line + "\n"
            for i in selection.at(frame)
            for line in lines_of(i, selection.width, selection.height)
        ]
        (labels / f"{name}.txt").write_text("".join(lines), encoding="utf-8")
        written += [images / f"{name}.jpg", labels / f"{name}.txt"]
        progress(done, len(selection.frames))
    return written


def _write_jpeg(path: Path, rgb: np.ndarray, selection: Selection) -> None:
    if rgb.shape[:2] != (selection.height, selection.width):
        raise ExportError(
            selection.video.path,
            f"frames are {rgb.shape[1]}x{rgb.shape[0]}, the session's video {selection.width}x{selection.height}",
        )
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"OpenCV could not write {path}")
