"""The prompts file of `sam2tui track` (JSON): objects and their prompts per frame.

    {"objects": [
      {"id": 1, "name": "dog", "class": "animal",
       "prompts": [
         {"frame": 0, "points": [[210, 350], [250, 220]], "labels": [1, 1]},
         {"frame": 3, "box": [100, 50, 130, 90]},
         {"frame": 5, "mask": "masks/dog_5.png"}]}]}

Coordinates are pixels of the video (x right, y down), frames 0-based. `labels` are 1 (object) or
0 (background) per point; without `labels` every point is positive. A frame's prompts are applied in file
order, one at a time, as clicks in sam2tui are (see docs/formats.md): within one entry the mask first, then
the box, then each point, in order. Mask paths are relative to the
prompts file; any PNG mode, nonzero pixels are the object; a PNG of another size is resized (nearest).
Optional per object: "name", "class", "color" ([r, g, b]).
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
from PIL import Image

from sam2tui.errors import PromptsError
from sam2tui.masks import decode, encode
from sam2tui.session.store import SessionStore
from sam2tui.values import FramePrompt, Prompt, PromptKind, TrackedObject, default_color

_OBJECT_KEYS = {"id", "name", "class", "color", "prompts"}
_PROMPT_KEYS = {"frame", "points", "labels", "box", "mask"}


@dataclass(frozen=True)
class PromptsFile:
    objects: tuple[TrackedObject, ...]
    prompts: tuple[Prompt, ...]  # in file order; per entry: mask, box, then points

    def frame_prompts(self) -> dict[tuple[int, int], list[Prompt]]:
        """The prompts grouped by (frame, obj_id), each group in file order."""
        groups: dict[tuple[int, int], list[Prompt]] = {}
        for prompt in self.prompts:
            groups.setdefault((prompt.frame, prompt.obj_id), []).append(prompt)
        return groups


def _warn_stderr(message: str) -> None:
    print(f"sam2tui: warning: {message}", file=sys.stderr)


def load_prompts(
    path: Path,
    *,
    width: int,
    height: int,
    frame_count: int,
    warn: Callable[[str], None] = _warn_stderr,
) -> PromptsFile:
    """Read and check a prompts file against the video's size and length; PromptsError names the problem."""
    return _Reader(Path(path), width, height, frame_count, warn).read()


class _Reader:
    def __init__(self, path: Path, width: int, height: int, frame_count: int, warn: Callable[[str], None]):
        self.path, self.width, self.height, self.frame_count = path, width, height, frame_count
        self.warn = warn
        self.resized: list[str] = []

    def fail(self, where: str, problem: str) -> PromptsError:
        return PromptsError(self.path, f"{where}: {problem}" if where else problem)

    def read(self) -> PromptsFile:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self.fail("", "no such file") from None
        except (OSError, UnicodeDecodeError) as error:
            raise self.fail("", f"cannot read ({error})") from None
        if not text.strip():
            raise self.fail("", "file is empty")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise self.fail(
                "", f"not valid JSON (line {error.lineno} column {error.colno}: {error.msg})"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
            raise self.fail("", 'expected {"objects": [...]} at the top level')
        if not data["objects"]:
            raise self.fail("objects", "no objects")
        objects: list[TrackedObject] = []
        prompts: list[Prompt] = []
        for i, item in enumerate(data["objects"]):
            obj = self.object(f"objects[{i}]", item)
            if any(o.obj_id == obj.obj_id for o in objects):
                raise self.fail(f"objects[{i}].id", f"id {obj.obj_id} is used twice")
            objects.append(obj)
            entries = item.get("prompts", [])
            if not isinstance(entries, list):
                raise self.fail(f"objects[{i}].prompts", "must be a list")
            for j, entry in enumerate(entries):
                prompts.extend(self.prompt(f"objects[{i}].prompts[{j}]", obj.obj_id, entry))
        if self.resized:
            self.warn(
                f"{len(self.resized)} mask(s) of another size than the video ({self.width}x{self.height}) "
                f"were resized: {', '.join(self.resized)}"
            )
        return PromptsFile(tuple(objects), tuple(prompts))

    def object(self, where: str, item: Any) -> TrackedObject:
        if not isinstance(item, dict):
            raise self.fail(where, "each object must be a JSON object")
        self.known_keys(where, item, _OBJECT_KEYS)
        obj_id = item.get("id")
        if not _is_int(obj_id) or obj_id < 1:
            raise self.fail(f"{where}.id", "needs an integer id of 1 or more")
        name = item.get("name", f"object {obj_id}")
        class_name = item.get("class", "object")
        for key, value in (("name", name), ("class", class_name)):
            if not isinstance(value, str) or not value.strip():
                raise self.fail(f"{where}.{key}", "must be a non-empty string")
        color = item.get("color", default_color(obj_id))
        if not (
            isinstance(color, list | tuple)
            and len(color) == 3
            and all(_is_int(c) and 0 <= c <= 255 for c in color)
        ):
            raise self.fail(f"{where}.color", "must be [r, g, b] with integers 0..255")
        return TrackedObject(obj_id, name, class_name, (int(color[0]), int(color[1]), int(color[2])))

    def prompt(self, where: str, obj_id: int, entry: Any) -> list[Prompt]:
        if not isinstance(entry, dict):
            raise self.fail(where, "each prompt must be a JSON object")
        self.known_keys(where, entry, _PROMPT_KEYS)
        frame = entry.get("frame")
        if not _is_int(frame) or frame < 0:
            raise self.fail(f"{where}.frame", "needs a frame number (0-based)")
        if frame >= self.frame_count:
            raise self.fail(
                f"{where}.frame", f"frame {frame} is past the end of the video ({self.frame_count} frames)"
            )
        if not {"points", "box", "mask"} & entry.keys():
            raise self.fail(where, 'needs "points", "box" or "mask"')
        if "labels" in entry and "points" not in entry:
            raise self.fail(f"{where}.labels", 'labels without "points"')
        out: list[Prompt] = []
        if "mask" in entry:
            out.append(Prompt.from_mask(frame, obj_id, encode(self.mask(f"{where}.mask", entry["mask"]))))
        if "box" in entry:
            out.append(Prompt.rectangle(frame, obj_id, self.box(f"{where}.box", entry["box"])))
        if "points" in entry:
            points = self.points(f"{where}.points", entry["points"])
            labels = self.labels(f"{where}.labels", entry.get("labels", [1] * len(points)), len(points))
            out.extend(
                Prompt.click(frame, obj_id, x, y, positive=label == 1)
                for (x, y), label in zip(points, labels, strict=True)
            )
        return out

    def known_keys(self, where: str, item: dict[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise self.fail(where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")

    def inside(self, where: str, x: float, y: float) -> None:
        if not (0 <= x <= self.width and 0 <= y <= self.height):
            raise self.fail(where, f"({x:g}, {y:g}) is outside the {self.width}x{self.height} frame")

    def points(self, where: str, value: Any) -> list[tuple[float, float]]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "must be a non-empty list of [x, y]")
        points = []
        for k, point in enumerate(value):
            if not (isinstance(point, list) and len(point) == 2 and all(_is_number(v) for v in point)):
                raise self.fail(f"{where}[{k}]", "must be [x, y] in pixels")
            self.inside(f"{where}[{k}]", point[0], point[1])
            points.append((float(point[0]), float(point[1])))
        return points

    def labels(self, where: str, value: Any, count: int) -> list[int]:
        if not isinstance(value, list) or not all(_is_int(v) and v in (0, 1) for v in value):
            raise self.fail(where, "must be a list of 1 (object) or 0 (background)")
        if len(value) != count:
            raise self.fail(where, f"{len(value)} labels for {count} points")
        return [int(v) for v in value]

    def box(self, where: str, value: Any) -> tuple[float, float, float, float]:
        if not (isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)):
            raise self.fail(where, "must be [x0, y0, x1, y1] in pixels")
        x0, y0, x1, y1 = (float(v) for v in value)
        self.inside(where, x0, y0)
        self.inside(where, x1, y1)
        if x0 == x1 or y0 == y1:
            raise self.fail(where, "the box is empty")
        return (x0, y0, x1, y1)

    def mask(self, where: str, value: Any) -> np.ndarray:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "must be the path of a PNG file")
        file = Path(value).expanduser()
        if not file.is_absolute():
            file = self.path.parent / file
        if not file.is_file():
            raise self.fail(where, f"mask file not found: {file}")
        try:
            with Image.open(file) as image:
                image.load()
                mask = _nonzero(image)
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise self.fail(where, f"cannot read mask {file} ({error})") from None
        if mask.shape != (self.height, self.width):
            self.resized.append(f"{value} ({mask.shape[1]}x{mask.shape[0]})")
            resized = Image.fromarray(mask).resize((self.width, self.height), Image.Resampling.NEAREST)
            mask = np.asarray(resized, dtype=bool)
        if not mask.any():
            raise self.fail(where, f"mask {file} is empty (no nonzero pixel)")
        return mask


def _nonzero(image: Image.Image) -> np.ndarray:
    """The nonzero pixels of an image of any mode; alpha is ignored, palette indices count as values."""
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert(image.mode[:-1] if image.mode != "PA" else "P")
    array = np.asarray(image)
    return (array != 0).any(axis=2) if array.ndim == 3 else array != 0


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def save_prompts(path: Path, store: SessionStore) -> list[Path]:
    """Write the session's objects and prompts as a prompts file; masks go to `<stem>_masks/` beside it.

    Returns the paths written. The prompts of each (frame, object) become as few entries as keep their
    order, so that loading the file applies them as they were made.
    """
    path = Path(path)
    mask_dir = path.with_name(f"{path.stem}_masks")
    by_object: dict[int, list[FramePrompt]] = {}
    for fp in store.frame_prompts():
        by_object.setdefault(fp.obj_id, []).append(fp)
    written: list[Path] = []
    objects = []
    for obj in store.objects():
        entries = []
        for fp in by_object.get(obj.obj_id, []):
            for group in _entry_groups(fp.steps):
                entry: dict[str, Any] = {"frame": fp.frame}
                for step in group:
                    if step.mask is not None:
                        png = mask_dir / f"obj{obj.obj_id}_frame{fp.frame:06d}.png"
                        mask_dir.mkdir(parents=True, exist_ok=True)
                        _write_atomic(png, _png_bytes(decode(step.mask)))
                        written.append(png)
                        entry["mask"] = f"{mask_dir.name}/{png.name}"
                    elif step.box is not None:
                        entry["box"] = list(step.box)
                    elif step.point is not None:
                        entry.setdefault("points", []).append(list(step.point))
                        entry.setdefault("labels", []).append(step.label)
                entries.append(entry)
        item = {"id": obj.obj_id, "name": obj.name, "class": obj.class_name, "color": list(obj.color)}
        objects.append({**item, "prompts": entries})
    text = json.dumps({"objects": objects}, indent=1)
    _write_atomic(path, text.encode("utf-8"))
    written.append(path)
    return written


def _entry_groups(steps: tuple[Prompt, ...]) -> list[list[Prompt]]:
    """The steps cut into runs that one entry holds in its reading order (a mask, a box, then points)."""
    rank = {PromptKind.MASK: 0, PromptKind.BOX: 1, PromptKind.POINT: 2}
    groups: list[list[Prompt]] = []
    for step in steps:
        last = groups[-1][-1] if groups else None
        # a second mask or box, or one after points, needs an entry of its own
        if last is None or rank[step.kind] < rank[last.kind] or (step.kind == last.kind != PromptKind.POINT):
            groups.append([step])
        else:
            groups[-1].append(step)
    return groups


def _png_bytes(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buffer, "PNG")
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
