"""What an export writes: the chosen frames and objects of a session, their results, and their categories.

Every format module reads a `Selection`, so the options (frame range, objects, every k-th frame) and the
checks on the session's data live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from sam2tui import masks
from sam2tui.errors import ExportError
from sam2tui.values import Box, FrameResult, Rle, TrackedObject

Progress = Callable[[int, int], None]
"""Called with (frames done, frames in all) as an export goes."""


class VideoInfo(Protocol):
    """What exports need of the session's video fingerprint (`sam2tui.video.VideoFingerprint`)."""

    @property
    def path(self) -> str: ...
    @property
    def frame_count(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def fps(self) -> float: ...


class ResultSource(Protocol):
    """What exports read of a session (`sam2tui.session.store.SessionStore`)."""

    @property
    def path(self) -> Path: ...
    @property
    def fingerprint(self) -> VideoInfo: ...
    def objects(self) -> list[TrackedObject]: ...
    def results(self, frame: int | None = None, obj_id: int | None = None) -> list[FrameResult]: ...


class FrameSource(Protocol):
    """What the image-writing exports read of the video (`sam2tui.video.VideoSource`)."""

    def frame(self, index: int) -> np.ndarray: ...


@dataclass(frozen=True)
class ExportOptions:
    """Which part of a session to export: a frame range (0-based), a subset of objects, every k-th frame."""

    frames: range | None = None
    obj_ids: frozenset[int] | None = None
    every: int = 1


@dataclass(frozen=True)
class Instance:
    """One object on one frame where its mask is not empty."""

    frame: int
    obj_id: int
    category_id: int
    rle: Rle
    box: Box
    area: int
    score: float


@dataclass(frozen=True)
class Selection:
    """The frames, objects and non-empty results to export, with the video's geometry.

    Category ids are 1-based and follow the session's class names in order of first object id, so they are
    the same whichever subset of objects is exported.
    """

    video: VideoInfo
    frames: list[int]
    objects: list[TrackedObject]
    categories: list[str]  # category id i is categories[i - 1]
    instances: dict[int, list[Instance]] = field(default_factory=dict)  # frame -> instances, by obj_id

    @property
    def width(self) -> int:
        return self.video.width

    @property
    def height(self) -> int:
        return self.video.height

    @property
    def video_name(self) -> str:
        return Path(self.video.path).name

    def at(self, frame: int) -> list[Instance]:
        """The instances on `frame`, by object id."""
        return self.instances.get(frame, [])


def frame_name(frame: int) -> str:
    """The file stem of a frame image, 0-based like every frame index inside sam2tui: "frame_000123"."""
    return f"frame_{frame:06d}"


def select(store: ResultSource, options: ExportOptions) -> Selection:
    """The part of the session that `options` choose; ExportError for options that choose nothing valid."""
    video = store.fingerprint
    if options.every < 1:
        raise ExportError(store.path, f"every {options.every}: must be 1 or more")
    wanted = options.frames if options.frames is not None else range(video.frame_count)
    frames = [f for f in range(video.frame_count) if f in wanted][:: options.every]
    if not frames:
        raise ExportError(
            store.path,
            f"no frame of {wanted.start}:{wanted.stop} is in the video ({video.frame_count} frames)",
        )
    all_objects = store.objects()
    categories = list(dict.fromkeys(obj.class_name for obj in sorted(all_objects, key=lambda o: o.obj_id)))
    objects = _chosen_objects(store.path, all_objects, options.obj_ids)
    category_ids = {obj.obj_id: categories.index(obj.class_name) + 1 for obj in objects}
    chosen_frames = set(frames)
    instances: dict[int, list[Instance]] = {}
    for result in store.results():
        if result.obj_id in category_ids and result.frame in chosen_frames and not result.is_empty:
            _check_size(store.path, result, video)
            instance = _instance(store.path, result, category_ids[result.obj_id])
            instances.setdefault(result.frame, []).append(instance)
    for at_frame in instances.values():
        at_frame.sort(key=lambda i: i.obj_id)
    return Selection(video, frames, objects, categories, instances)


def _instance(session: Path, result: FrameResult, category_id: int) -> Instance:
    # Box and emptiness come from the mask itself, the one source of truth.
    box = masks.box(result.rle)
    if box is None:
        raise ExportError(
            session, f"object {result.obj_id} on frame {result.frame}: area {result.area} but an empty mask"
        )
    return Instance(result.frame, result.obj_id, category_id, result.rle, box, result.area, result.score)


def _chosen_objects(
    session: Path, objects: list[TrackedObject], obj_ids: frozenset[int] | None
) -> list[TrackedObject]:
    if obj_ids is None:
        return sorted(objects, key=lambda o: o.obj_id)
    known = {obj.obj_id for obj in objects}
    missing = sorted(obj_ids - known)
    if missing:
        names = ", ".join(map(str, sorted(known))) or "none"
        raise ExportError(
            session, f"no object {', '.join(map(str, missing))} in the session (objects: {names})"
        )
    return sorted((obj for obj in objects if obj.obj_id in obj_ids), key=lambda o: o.obj_id)


def _check_size(session: Path, result: FrameResult, video: VideoInfo) -> None:
    height, width = result.rle["size"]
    if (height, width) != (video.height, video.width):
        raise ExportError(
            session,
            f"the mask of object {result.obj_id} on frame {result.frame} is {width}x{height}, "
            f"the video {video.width}x{video.height}",
        )
