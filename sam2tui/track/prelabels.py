"""Pre-labels for `sam2tui track --prompts-from FORMAT:PATH`: the boxes of a tracker's or detector's output,
or of an existing dataset, become box prompts on keyframes.

FORMAT is `mot` (a MOTChallenge gt.txt or det.txt), `coco` (an instances JSON) or `yolo` (a labels folder,
one .txt per frame). Boxes with a track id become objects with that id (the same object on every keyframe);
boxes without one (detections) become one object per box of each keyframe. `--keyframes first` prompts the
first frame that has a box; `every:K` that frame and every K-th after it. `--min-score S` drops boxes
scored below S (MOT's conf column, COCO's `score`, YOLO's sixth column). The result is the `PromptsFile`
the prompts-file loader returns, so `track` handles both alike. docs/formats.md gives each format's rules.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from sam2tui.errors import PromptsError
from sam2tui.track.prompts_file import PromptsFile
from sam2tui.values import BoxCorners, Prompt, TrackedObject, default_color

FORMATS = ("mot", "coco", "yolo")

# MOT16/17 ground-truth classes (column 8 of a 9-column gt.txt), numbered as TrackEval's MotChallenge2DBox
# numbers them.
MOT_CLASSES = {
    1: "pedestrian",
    2: "person on vehicle",
    3: "car",
    4: "bicycle",
    5: "motorbike",
    6: "non motorized vehicle",
    7: "static person",
    8: "distractor",
    9: "occluder",
    10: "occluder on the ground",
    11: "occluder full",
    12: "reflection",
    13: "crowd",
}


@dataclass(frozen=True)
class Keyframes:
    """Which frames get prompts: the first frame with a box, and then every `every`-th (None: only it)."""

    every: int | None = None

    @classmethod
    def parse(cls, text: str) -> Keyframes:
        """ "first" or "every:K" (K >= 1); ValueError otherwise."""
        if text == "first":
            return cls()
        kind, _, count = text.partition(":")
        if kind == "every" and count.isdigit() and int(count) >= 1:
            return cls(int(count))
        raise ValueError(f"--keyframes {text!r}: expected first or every:K with K a whole number >= 1")

    def frames(self, first: int, frame_count: int) -> range:
        return range(first, first + 1) if self.every is None else range(first, frame_count, self.every)


@dataclass(frozen=True)
class Clip:
    """What the boxes must fit: the video's size and length."""

    width: int
    height: int
    frame_count: int


@dataclass(frozen=True)
class Labelled:
    """One box of a pre-label file, in video pixels, with where it came from (for messages)."""

    frame: int
    track: int | None  # None: a detection without an id
    class_name: str
    score: float | None
    box: BoxCorners
    where: str  # "line 12", "annotations[3]", "frame_000004.txt line 2"


class ArgumentGroup(Protocol):
    def add_argument(self, *names: str, **options: Any) -> Any: ...


def add_prelabel_arguments(parser: argparse.ArgumentParser, source: ArgumentGroup) -> None:
    """--prompts-from (in the group exclusive with --prompts), --keyframes and --min-score."""
    source.add_argument(
        "--prompts-from",
        metavar="FORMAT:PATH",
        help=f"box prompts from pre-labels: {', '.join(FORMATS)} (see docs/formats.md)",
    )
    parser.add_argument(
        "--keyframes",
        metavar="first|every:K",
        help="with --prompts-from: prompt the first frame with boxes (default), or it and every K-th after",
    )
    parser.add_argument(
        "--min-score", type=float, metavar="S", help="with --prompts-from: drop boxes scored below S"
    )


def prelabels_from_args(
    args: argparse.Namespace, *, width: int, height: int, frame_count: int
) -> PromptsFile:
    """The pre-labels `--prompts-from`, `--keyframes` and `--min-score` ask for; PromptsError names the problem."""
    fmt, path = parse_prelabels_source(args.prompts_from)
    try:
        keyframes = Keyframes.parse(args.keyframes or "first")
    except ValueError as error:
        raise PromptsError(path, str(error)) from None
    return load_prelabels(
        fmt, path, Clip(width, height, frame_count), keyframes=keyframes, min_score=args.min_score
    )


def parse_prelabels_source(text: str | None) -> tuple[str, Path]:
    """(format, path) of `--prompts-from FORMAT:PATH`; PromptsError when it is not that."""
    fmt, colon, path = (text or "").partition(":")
    if fmt not in FORMATS or not colon or not path:
        raise PromptsError(
            text or "--prompts-from", f"expected FORMAT:PATH with FORMAT one of {', '.join(FORMATS)}"
        )
    return fmt, Path(path)


def load_prelabels(
    fmt: str, path: Path, clip: Clip, *, keyframes: Keyframes = Keyframes(), min_score: float | None = None
) -> PromptsFile:
    """Read a pre-label file of `fmt`, check it against the clip, and make its keyframes' boxes prompts."""
    readers = {"mot": read_mot, "coco": read_coco, "yolo": read_yolo}
    boxes = list(readers[fmt](path, clip))
    if min_score is not None:
        boxes = [b for b in boxes if b.score is None or b.score >= min_score]
    return to_prompts(path, boxes, clip, keyframes)


def to_prompts(path: Path, boxes: list[Labelled], clip: Clip, keyframes: Keyframes) -> PromptsFile:
    """Objects and box prompts of the keyframes: a track id is one object, each box without one another."""
    if not boxes:
        raise PromptsError(path, "no boxes (after --min-score)")
    frames = set(keyframes.frames(min(b.frame for b in boxes), clip.frame_count))
    chosen = sorted((b for b in boxes if b.frame in frames), key=lambda b: b.frame)
    objects: dict[int, TrackedObject] = {}
    prompts: list[Prompt] = []
    seen: set[tuple[int, int]] = set()
    next_id = max((b.track for b in boxes if b.track is not None), default=0) + 1
    for box in chosen:
        if box.track is None:
            obj_id, next_id = next_id, next_id + 1
        else:
            obj_id = box.track
            if (box.frame, obj_id) in seen:
                raise PromptsError(path, f"{box.where}: track {obj_id} has a second box on frame {box.frame}")
        seen.add((box.frame, obj_id))
        if obj_id not in objects:
            objects[obj_id] = TrackedObject(
                obj_id, f"{box.class_name} {obj_id}", box.class_name, default_color(obj_id)
            )
        prompts.append(Prompt.rectangle(box.frame, obj_id, box.box))
    return PromptsFile(tuple(sorted(objects.values(), key=lambda o: o.obj_id)), tuple(prompts))


# --- MOT ---------------------------------------------------------------------------------------------------


def read_mot(path: Path, clip: Clip) -> Iterator[Labelled]:
    """MOTChallenge rows `frame,id,left,top,w,h,conf[,...]`: frames and pixels 1-based, id -1 = no id.

    A 9-column row is ground truth: column 8 is the MOT16/17 class (`MOT_CLASSES`). Every row counts, as
    the file says what is in the image; `--min-score 1` keeps only the rows MOTChallenge evaluates
    (conf is 1 for them, 0 for the ones it ignores)."""
    for number, text in enumerate(_lines(path), 1):
        if not text.strip():
            continue
        where = f"line {number}"
        fields = text.replace(" ", "").split(",")
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if not 6 <= len(values) <= 10 or not all(math.isfinite(v) for v in values):
            raise PromptsError(
                path, f"{where}: expected frame,id,left,top,width,height,conf,... (got {text!r})"
            )
        frame, track = _whole(path, where, "frame", values[0]), _whole(path, where, "id", values[1])
        if track < 1 and track != -1:
            raise PromptsError(path, f"{where}: id {track}: expected 1 or more, or -1 (no id)")
        class_name = "object"
        if len(values) == 9:
            category = _whole(path, where, "class", values[7])
            class_name = MOT_CLASSES.get(category, f"class {category}")
        left, top, width, height = values[2:6]
        yield Labelled(
            _frame(path, where, frame - 1, clip, f"MOT frame {frame} (video frame {frame - 1})"),
            None if track == -1 else track,
            class_name,
            values[6] if len(values) > 6 else None,
            _fit(path, where, (left - 1, top - 1, left - 1 + width, top - 1 + height), clip),
            where,
        )


# --- COCO --------------------------------------------------------------------------------------------------


def read_coco(path: Path, clip: Clip) -> Iterator[Labelled]:
    """A COCO instances JSON of one video: `images` give the frame (`frame_id`, 0-based, as CocoVID and
    sam2tui write it; else the last number in `file_name`), `annotations` a `bbox` [x, y, w, h], a category,
    an optional `track_id` (or `instance_id`) and an optional `score`."""
    data = _json(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise PromptsError(path, 'expected a COCO object with "images", "annotations" and "categories"')
    categories = {c.get("id"): str(c.get("name")) for c in _entries(path, data, "categories")}
    videos = {image.get("video_id") for image in data["images"] if isinstance(image, dict)}
    if len(videos) > 1:
        raise PromptsError(path, f"holds {len(videos)} videos (video_id); give one video's file")
    frames: dict[Any, int] = {}
    for index, image in enumerate(_entries(path, data, "images")):
        where = f"images[{index}]"
        size = (image.get("width"), image.get("height"))
        if None not in size and size != (clip.width, clip.height):
            raise PromptsError(path, f"{where}: {size[0]}x{size[1]}, the video is {clip.width}x{clip.height}")
        frames[image.get("id")] = _frame(path, where, _coco_frame(path, where, image), clip, "frame")
    for index, ann in enumerate(_entries(path, data, "annotations")):
        where = f"annotations[{index}]"
        if ann.get("image_id") not in frames:
            raise PromptsError(path, f"{where}: image_id {ann.get('image_id')!r} is not in images")
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
            raise PromptsError(path, f"{where}: bbox must be [x, y, width, height]")
        if ann.get("category_id") not in categories:
            raise PromptsError(path, f"{where}: category_id {ann.get('category_id')!r} is not in categories")
        track = ann.get("track_id", ann.get("instance_id"))
        if track is not None and not (isinstance(track, int) and track >= 1):
            raise PromptsError(path, f"{where}: track_id must be an integer of 1 or more")
        score = ann.get("score")
        if score is not None and not _is_number(score):
            raise PromptsError(path, f"{where}: score must be a number")
        x, y, w, h = (float(v) for v in bbox)
        yield Labelled(
            frames[ann["image_id"]],
            track,
            categories[ann["category_id"]],
            score,
            _fit(path, where, (x, y, x + w, y + h), clip),
            where,
        )


def _coco_frame(path: Path, where: str, image: dict[str, Any]) -> int:
    frame = image.get("frame_id")
    if isinstance(frame, int) and not isinstance(frame, bool):
        return frame
    number = _last_number(Path(str(image.get("file_name", ""))).stem)
    if number is None:
        raise PromptsError(path, f"{where}: no frame_id and no frame number in its file_name")
    return number


# --- YOLO --------------------------------------------------------------------------------------------------

CLASS_FILES = ("data.yaml", "dataset.yaml", "classes.txt", "classes.names", "obj.names")


def read_yolo(path: Path, clip: Clip) -> Iterator[Labelled]:
    """A YOLO labels folder (or a dataset folder holding `labels/`): one `.txt` per frame, the last number
    of its name the 0-based frame (sam2tui's `frame_000123.txt`); lines `class cx cy w h [score]`
    normalized, or a YOLO-seg polygon `class x1 y1 x2 y2 ...` (its bounding box). Class names come from
    the first of `CLASS_FILES` in the folder or beside it; without one, "class N"."""
    folder = path / "labels" if (path / "labels").is_dir() else path
    if not folder.is_dir():
        raise PromptsError(path, "expected a YOLO labels folder (one .txt per frame)")
    names = _yolo_names(folder)
    files = sorted(f for f in folder.glob("*.txt") if f.name not in CLASS_FILES)
    if not files:
        raise PromptsError(folder, "no label files (.txt)")
    for file in files:
        number = _last_number(file.stem)
        if number is None:
            raise PromptsError(file, "no frame number in the file name")
        frame = _frame(file, "", number, clip, "frame")
        for line_number, text in enumerate(_lines(file), 1):
            if text.strip():
                yield _yolo_box(file, f"line {line_number}", text, frame, names, clip)


def _yolo_box(file: Path, where: str, text: str, frame: int, names: dict[int, str], clip: Clip) -> Labelled:
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        values = []
    polygon = len(values) >= 7 and len(values) % 2 == 1
    if not (len(values) in (5, 6) or polygon) or not all(math.isfinite(v) for v in values):
        raise PromptsError(
            file, f"{where}: expected class cx cy w h [score] or class x1 y1 x2 y2 ... (got {text!r})"
        )
    category = _whole(file, where, "class", values[0])
    score = None
    if polygon:
        xs, ys = values[1::2], values[2::2]
        corners = (min(xs), min(ys), max(xs), max(ys))
    else:
        cx, cy, w, h = values[1:5]
        corners = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        score = values[5] if len(values) == 6 else None
    x0, y0, x1, y1 = corners
    box = (x0 * clip.width, y0 * clip.height, x1 * clip.width, y1 * clip.height)
    return Labelled(
        frame, None, names.get(category, f"class {category}"), score, _fit(file, where, box, clip), where
    )


def _yolo_names(folder: Path) -> dict[int, str]:
    for directory in (folder, folder.parent):
        for name in CLASS_FILES:
            file = directory / name
            if file.is_file():
                return _class_names(file)
    return {}


def _class_names(file: Path) -> dict[int, str]:
    text = "\n".join(_lines(file))
    if file.suffix not in (".yaml", ".yml"):
        return {i: line.strip() for i, line in enumerate(text.splitlines()) if line.strip()}
    try:
        names = (yaml.safe_load(text) or {}).get("names")
    except (yaml.YAMLError, AttributeError) as error:
        raise PromptsError(file, f"not a YOLO data YAML ({str(error).splitlines()[0]})") from None
    if isinstance(names, list):
        return {i: str(n) for i, n in enumerate(names)}
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        return {k: str(v) for k, v in names.items()}
    raise PromptsError(file, "expected names: a list or a mapping of class index to name")


# --- checks shared by the readers --------------------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise PromptsError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PromptsError(path, f"cannot read ({error})") from None


def _json(path: Path) -> Any:
    text = "\n".join(_lines(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise PromptsError(
            path, f"not valid JSON (line {error.lineno} column {error.colno}: {error.msg})"
        ) from None


def _entries(path: Path, data: dict[str, Any], key: str) -> Iterable[dict[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PromptsError(path, f"{key} must be a list of objects")
    return entries


def _frame(path: Path, where: str, frame: int, clip: Clip, shown: str) -> int:
    if not 0 <= frame < clip.frame_count:
        prefix = f"{where}: " if where else ""
        raise PromptsError(path, f"{prefix}{shown} is not in the video ({clip.frame_count} frames)")
    return frame


def _fit(path: Path, where: str, box: BoxCorners, clip: Clip) -> BoxCorners:
    """The box clipped to the frame (MOT and detector boxes often overhang its edges); a box with no area
    left inside the frame is an error."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise PromptsError(path, f"{where}: the box has no area ({x0:g}, {y0:g}, {x1:g}, {y1:g})")
    inside = (max(x0, 0.0), max(y0, 0.0), min(x1, float(clip.width)), min(y1, float(clip.height)))
    if inside[2] <= inside[0] or inside[3] <= inside[1]:
        raise PromptsError(
            path,
            f"{where}: the box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is outside the {clip.width}x{clip.height} frame",
        )
    return inside


def _whole(path: Path, where: str, name: str, value: float) -> int:
    if value != int(value):
        raise PromptsError(path, f"{where}: {name} {value:g} is not a whole number")
    return int(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _last_number(stem: str) -> int | None:
    numbers = re.findall(r"\d+", stem)
    return int(numbers[-1]) if numbers else None
