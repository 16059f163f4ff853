"""What an export writes: the labelled frames of the chosen objects, their results, and their categories.

Every format module reads a `Selection`, so the options (frame range, objects, every k-th frame), the rule
of which frames are written, and the checks on the session's data live here once. The rule (docs/formats.md,
"What is written"): an object is written on a frame where it is labelled, that is PROMPTED, CURRENT or
ABSENT (`sam2tui.session.states` says which). An UNTRACKED frame is nobody's knowledge and is left out;
STALE frames refuse the export unless `include_stale` asks for them. A frame is written when at least one
chosen object is labelled on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from sam2tui import masks
from sam2tui.errors import ExportError
from sam2tui.session.states import StateCounts, count_states, label_states
from sam2tui.session.store import SessionStore
from sam2tui.values import LABELLED, Box, FrameResult, LabelState, Rle, TrackedObject

_WRITTEN = LABELLED | {LabelState.STALE}

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


class FrameSource(Protocol):
    """What the image-writing exports read of the video (`sam2tui.video.VideoSource`)."""

    def frame(self, index: int) -> np.ndarray: ...


@dataclass(frozen=True)
class ExportOptions:
    """Which part of a session to export: a frame range (0-based), a subset of objects, every k-th frame;
    `include_stale` writes stale frames too, where they would otherwise refuse the export."""

    frames: range | None = None
    obj_ids: frozenset[int] | None = None
    every: int = 1
    include_stale: bool = False


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
    model: str = ""  # the model that made the mask ("" in sessions older than the record)


@dataclass(frozen=True)
class Selection:
    """The frames, objects and non-empty results to export, with the video's geometry.

    `frames` are the frames written: those where a chosen object is labelled (or stale, when included).
    `chosen` are all the frames the options chose, for a format with one entry per frame (YouTube-VIS).
    Category ids are 1-based and follow the session's class names in order of first object id, so they are
    the same whichever subset of objects is exported.
    """

    video: VideoInfo
    frames: list[int]
    objects: list[TrackedObject]
    categories: list[str]  # category id i is categories[i - 1]
    instances: dict[int, list[Instance]] = field(default_factory=dict)  # frame -> instances, by obj_id
    chosen: list[int] = field(default_factory=list)
    stale: int = 0  # the stale (frame, object) pairs written, when the options include them

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

    def models(self) -> Counter[str]:
        """How many of the written masks each model made."""
        return Counter(i.model for frame in self.frames for i in self.at(frame))


def describe_models(models: Mapping[str, int]) -> str:
    """Which models made the labels, most masks first: "labels by sam2.1-tiny (37 masks), sam2.1-large (3 masks)".

    A mask without a model (a session older than the record) counts as "an unrecorded model".
    """
    if not models:
        return "no masks"
    parts = [
        f"{name or 'an unrecorded model'} ({count} mask{'s' if count != 1 else ''})"
        for name, count in sorted(models.items(), key=lambda item: (-item[1], item[0]))
    ]
    return "labels by " + ", ".join(parts)


class StaleFramesError(ExportError):
    """The chosen frames hold stale labels and the options do not include them."""


class NothingLabelledError(ExportError):
    """No chosen frame is labelled."""


def frame_name(frame: int) -> str:
    """The file stem of a frame image, 0-based like every frame index inside sam2tui: "frame_000123"."""
    return f"frame_{frame:06d}"


def select(store: SessionStore, options: ExportOptions) -> Selection:
    """The part of the session that `options` choose; ExportError (one line, before anything is written)
    for options that choose nothing valid, for stale frames not asked for, and when nothing is labelled."""
    video = store.fingerprint
    chosen = chosen_frames(store.path, video.frame_count, options)
    all_objects = store.objects()
    categories = store.classes()
    objects = _chosen_objects(store.path, all_objects, options.obj_ids)
    states = chosen_states(label_states(store, video.frame_count), chosen, [o.obj_id for o in objects])
    counts = count_states(states)
    stale = counts[LabelState.STALE]
    if stale and not options.include_stale:
        raise StaleFramesError(
            store.path,
            f"{_frames(stale)} stale (tracked from prompts that changed since): re-track them, "
            "or export them on purpose (--include-stale)",
        )
    results = {(r.frame, r.obj_id): r for r in store.results() if r.obj_id in states}
    labelled = {
        (frame, obj_id): state
        for obj_id, lane in states.items()
        for frame, state in zip(chosen, lane, strict=True)
        # Stale frames get here only when asked for. A prompted frame's label is its result: one not
        # computed yet (an interrupted run) says nothing, so that frame is left out like an untracked one.
        if state is LabelState.ABSENT or (state in _WRITTEN and (frame, obj_id) in results)
    }
    if not labelled:
        raise NothingLabelledError(
            store.path, f"nothing to export: no chosen frame is labelled ({counts.describe()})"
        )
    category_ids = {obj.obj_id: categories.index(obj.class_name) + 1 for obj in objects}
    instances: dict[int, list[Instance]] = {}
    for (frame, obj_id), state in sorted(labelled.items()):
        result = results.get((frame, obj_id))
        if state is not LabelState.ABSENT and result is not None and not result.is_empty:
            _check_size(store.path, result, video)
            instances.setdefault(frame, []).append(_instance(store.path, result, category_ids[obj_id]))
    frames = sorted({frame for frame, _ in labelled})
    return Selection(video, frames, objects, categories, instances, chosen, stale)


def chosen_frames(session: Path, frame_count: int, options: ExportOptions) -> list[int]:
    """The frames that the options' range and step choose; ExportError when none is in the video."""
    if options.every < 1:
        raise ExportError(session, f"every {options.every}: must be 1 or more")
    frames = frames_of(options, frame_count)
    if not frames:
        wanted = options.frames if options.frames is not None else range(frame_count)
        raise ExportError(
            session, f"no frame of {wanted.start}:{wanted.stop} is in the video ({frame_count} frames)"
        )
    return frames


def frames_of(options: ExportOptions, frame_count: int) -> list[int]:
    """The frames of a `frame_count`-frame video in the options' range, every k-th (k >= 1)."""
    wanted = options.frames if options.frames is not None else range(frame_count)
    return [f for f in range(frame_count) if f in wanted][:: options.every]


def chosen_counts(
    states: Mapping[int, Sequence[LabelState]], frame_count: int, options: ExportOptions
) -> StateCounts:
    """How many (frame, object) pairs the options choose in each state (the export dialog shows them)."""
    obj_ids = sorted(states) if options.obj_ids is None else sorted(options.obj_ids & states.keys())
    return count_states(chosen_states(states, frames_of(options, frame_count), obj_ids))


def chosen_states(
    states: Mapping[int, Sequence[LabelState]], frames: Sequence[int], obj_ids: Sequence[int]
) -> dict[int, list[LabelState]]:
    """Each chosen object's states on the chosen frames (aligned with `frames`)."""
    return {obj_id: [states[obj_id][frame] for frame in frames] for obj_id in obj_ids}


def _frames(count: int) -> str:
    return f"{count} frame{'s' if count != 1 else ''}"


def _instance(session: Path, result: FrameResult, category_id: int) -> Instance:
    # Box and emptiness come from the mask itself, the one source of truth.
    box = masks.box(result.rle)
    if box is None:
        raise ExportError(
            session, f"object {result.obj_id} on frame {result.frame}: area {result.area} but an empty mask"
        )
    return Instance(
        result.frame, result.obj_id, category_id, result.rle, box, result.area, result.score, result.model
    )


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
