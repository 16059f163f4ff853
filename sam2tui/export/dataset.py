"""Dataset exports: every clip of a project (`sam2tui export DIR`) in one dataset of one format.

Each clip's session is read as a snapshot and chosen by the same rule as a single-clip export
(`_selection.select`); the per-format writers write each clip, and this module lays the clips out side by
side and numbers what must be unique across them (docs/formats.md, "Datasets"):

- coco: one JSON; `images[].file_name` "<clip>/frame_000123.jpg", ids counted across the dataset,
  `video_id` the clip's position (1-based), `track_id` one number per (clip, object); `videos` the clips.
- ytvis: one JSON with every clip as a video.
- yolo, yolo-seg: `images/<split>/<clip>_frame_000123.jpg` and `labels/<split>/...`, split BY CLIP
  (`session.project.split_clips`: seeded, never frames of one clip in two splits); `data.yaml` names the
  splits that hold clips.
- mot: one MOTChallenge sequence folder per clip (`<clip>/seqinfo.ini`, `<clip>/gt/gt.txt`).
- davis: one folder of palette PNGs per clip. sav: `<clip>_manual.json` per clip.

Categories are one list for the dataset: the project's classes in their order, then any class a clip has
that the project lacks. The output appears whole (one atomic file or folder). A clip without a session is
listed and skipped, and so is one with nothing labelled; a clip that fails to open is listed as failed
while the others go on. Stale frames refuse the whole export (naming the clip) unless included.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sam2tui import __version__
from sam2tui.errors import ExportError, InputError, Sam2TuiError
from sam2tui.export import coco, davis, mot, sav, yolo, ytvis
from sam2tui.export._io import replacing_folder, write_json
from sam2tui.export._selection import (
    ExportOptions,
    NothingLabelledError,
    Selection,
    StaleFramesError,
    describe_models,
    select,
)
from sam2tui.session.project import (
    SPLITS,
    find_clips,
    find_session,
    load_settings,
    record_export,
    split_clips,
)
from sam2tui.session.store import SessionStore
from sam2tui.video import VideoSource

FILE_FORMATS = frozenset({"coco", "ytvis"})
"""Formats whose dataset is one JSON file; the others write a folder."""

ClipProgress = Callable[[str, int, int], None]
"""Called with (clip name, clips done, clips in all) as the clips are read and written."""


@dataclass(frozen=True)
class Clip:
    """One clip's part in a dataset export: `status` is "exported", "no session", "nothing labelled" or
    "failed" (then `message` says why, in one line)."""

    name: str  # the clip's entry in the project folder ("a.mp4", "frames_b")
    sequence: str  # its name inside the dataset ("a", "frames_b")
    status: str
    message: str = ""
    split: str = ""  # yolo: train / val / test
    frames: int = 0  # frames written


@dataclass(frozen=True)
class DatasetReport:
    fmt: str
    target: Path
    clips: list[Clip]
    models: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> list[Clip]:
        return [clip for clip in self.clips if clip.status == "failed"]

    @property
    def exported(self) -> list[Clip]:
        return [clip for clip in self.clips if clip.status == "exported"]


@dataclass
class _Read:
    """A clip read: its selection (categories rebased on the dataset's list)."""

    clip: Path
    sequence: str
    selection: Selection
    digest: str  # the session's video fingerprint


def export_dataset(
    folder: Path,
    fmt: str,
    out: Path,
    *,
    options: ExportOptions = ExportOptions(),
    split_seed: int | None = None,
    split_ratios: tuple[float, float, float] | None = None,
    progress: ClipProgress | None = None,
) -> DatasetReport:
    """Export every clip of the project in `folder` as one `fmt` dataset at `out`.

    `split_seed` / `split_ratios` override the project file's (yolo only). Raises InputError for a folder
    without clips, ExportError for stale frames not included and when no clip has anything to export;
    a clip that fails is reported in the result (`failed`), not raised.
    """
    if fmt not in WRITERS:
        raise ExportError(out, f"unknown export format {fmt!r} (choose from {', '.join(WRITERS)})")
    clips = find_clips(folder)
    settings = load_settings(folder)
    sequences = _sequence_names(clips)
    splits = split_clips(
        [c.name for c in clips],
        settings.split_seed if split_seed is None else split_seed,
        settings.split_ratios if split_ratios is None else split_ratios,
    )
    outcomes: dict[str, Clip] = {}
    read: list[_Read] = []
    for done, clip in enumerate(clips, 1):
        sequence = sequences[clip.name]
        try:
            session = find_session(clip)
            if session is None:
                outcomes[clip.name] = Clip(clip.name, sequence, "no session", "not started")
            else:
                with SessionStore.open_snapshot(session) as store:
                    read.append(_Read(clip, sequence, select(store, options), store.fingerprint.digest))
        except NothingLabelledError:
            outcomes[clip.name] = Clip(clip.name, sequence, "nothing labelled")
        except StaleFramesError:
            raise  # refused as a single clip's export is: the message names the clip's session
        except Sam2TuiError as error:  # a video or session that cannot be read: the others go on
            outcomes[clip.name] = Clip(clip.name, sequence, "failed", str(error))
        if progress is not None:
            progress(clip.name, done, len(clips))
    if not read:
        failed = [c for c in outcomes.values() if c.status == "failed"]
        detail = f" ({len(failed)} failed; the first: {failed[0].message})" if failed else ""
        raise ExportError(folder, f"nothing to export: no clip of the project has labelled frames{detail}")
    categories = list(dict.fromkeys([*settings.classes, *(c for r in read for c in r.selection.categories)]))
    for item in read:
        item.selection = _rebased(item.selection, categories)
    failures = WRITERS[fmt](read, out, fmt, splits)
    for clip_name, message in failures.items():
        sequence = sequences[clip_name]
        outcomes[clip_name] = Clip(clip_name, sequence, "failed", message)
    models: Counter[str] = Counter()
    for item in read:
        name = item.clip.name
        if name not in outcomes:
            split = splits[name] if fmt in ("yolo", "yolo-seg") else ""
            outcomes[name] = Clip(
                name, item.sequence, "exported", split=split, frames=len(item.selection.frames)
            )
            models.update(item.selection.models())
    report = DatasetReport(fmt, out, [outcomes[c.name] for c in clips], models)
    # The project screen shows when each clip was last exported; a read-only project still exports.
    with contextlib.suppress(InputError):
        record_export(folder, [c.name for c in report.exported], datetime.now(timezone.utc))
    return report


Failures = dict[str, str]
"""clip name -> why writing it failed (yolo: its video could not be read)."""

DatasetWriter = Callable[[list[_Read], Path, str, dict[str, str]], Failures]


def _rebased(selection: Selection, categories: list[str]) -> Selection:
    """The selection with category ids of the dataset's list (1-based, like a clip's own)."""
    new_id = {index: categories.index(name) + 1 for index, name in enumerate(selection.categories, 1)}
    instances = {
        frame: [dataclasses.replace(i, category_id=new_id[i.category_id]) for i in found]
        for frame, found in selection.instances.items()
    }
    return dataclasses.replace(selection, categories=categories, instances=instances)


def _sequence_names(clips: list[Path]) -> dict[str, str]:
    """A clip's name in the dataset: a video's stem, a frame folder's name; a video's whole name where two
    clips would share one ("a.mp4" and "a.mov" become "a_mp4" and "a_mov")."""

    def short(clip: Path) -> str:
        return clip.stem if clip.is_file() else clip.name

    uses = Counter(short(c) for c in clips)
    return {
        c.name: c.name.replace(".", "_") if c.is_file() and uses[short(c)] > 1 else short(c) for c in clips
    }


def _quiet(done: int, total: int) -> None:
    """The per-format writers' progress, when nobody listens."""


def _description(read: list[_Read]) -> dict[str, Any]:
    models: Counter[str] = Counter()
    for item in read:
        models.update(item.selection.models())
    return {
        "description": f"{len(read)} clips, exported by sam2tui {__version__}",
        "contributor": describe_models(models),
    }


def _write_coco(read: list[_Read], out: Path, fmt: str, splits: dict[str, str]) -> Failures:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    tracks = 0  # track ids given so far: each clip's objects get the next ones
    for video_id, item in enumerate(read, 1):
        document = coco.document(item.selection, _quiet)
        image_ids: dict[int, int] = {}
        for image in document["images"]:
            image_ids[image["id"]] = len(images) + 1
            images.append(
                {
                    **image,
                    "id": len(images) + 1,
                    "file_name": f"{item.sequence}/{image['file_name']}",
                    "video_id": video_id,
                }
            )
        track_ids: dict[int, int] = {}
        for annotation in document["annotations"]:
            track = track_ids.setdefault(annotation["track_id"], tracks + len(track_ids) + 1)
            annotations.append(
                {
                    **annotation,
                    "id": len(annotations) + 1,
                    "image_id": image_ids[annotation["image_id"]],
                    "track_id": track,
                    "video_id": video_id,
                }
            )
        tracks += len(track_ids)
        videos.append({**coco.video_entry(item.selection), "id": video_id, "name": item.sequence})
    write_json(
        out,
        {
            "info": _description(read),
            "licenses": [],
            "videos": videos,
            "images": images,
            "annotations": annotations,
            "categories": coco.categories(read[0].selection),
        },
    )
    return {}


def _write_ytvis(read: list[_Read], out: Path, fmt: str, splits: dict[str, str]) -> Failures:
    videos: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for video_id, item in enumerate(read, 1):
        document = ytvis.document(item.selection, _quiet)
        (video,) = document["videos"]
        names = [f"{item.sequence}/{name.rsplit('/', 1)[-1]}" for name in video["file_names"]]
        videos.append({**video, "id": video_id, "name": item.sequence, "file_names": names})
        for annotation in document["annotations"]:
            annotations.append({**annotation, "id": len(annotations) + 1, "video_id": video_id})
    write_json(
        out,
        {
            "info": _description(read),
            "licenses": [],
            "videos": videos,
            "annotations": annotations,
            "categories": coco.categories(read[0].selection),
        },
    )
    return {}


def _per_clip_writer(write: Callable[[Selection, Path], object], name: Callable[[str], str]) -> DatasetWriter:
    """A dataset of one entry per clip, each written by the clip's own writer under `name(sequence)`."""

    def write_all(read: list[_Read], out: Path, fmt: str, splits: dict[str, str]) -> Failures:
        with replacing_folder(out, f"{fmt} dataset export of {len(read)} clips") as folder:
            for item in read:
                write(item.selection, folder / name(item.sequence))
        return {}

    return write_all


def _write_yolo(read: list[_Read], out: Path, fmt: str, splits: dict[str, str]) -> Failures:
    failures: Failures = {}
    used: set[str] = set()
    models: Counter[str] = Counter()
    with replacing_folder(out, f"{fmt} dataset export of {len(read)} clips") as folder:
        for item in read:
            split = splits[item.clip.name]
            try:
                with _session_video(item) as video:
                    yolo.write_frames(
                        item.selection,
                        folder / "images" / split,
                        folder / "labels" / split,
                        video,
                        _quiet,
                        yolo.lines_for(fmt),
                        prefix=f"{item.sequence}_",
                    )
            except Sam2TuiError as error:
                failures[item.clip.name] = str(error)
                continue
            used.add(split)
            models.update(item.selection.models())
        present = {split: f"images/{split}" for split in SPLITS if split in used}
        comment = f"{len(read) - len(failures)} clips exported by sam2tui; {describe_models(models)}"
        categories = read[0].selection.categories
        (folder / "data.yaml").write_text(yolo.yaml_text(comment, categories, present), encoding="utf-8")
    return failures


@contextlib.contextmanager
def _session_video(item: _Read) -> Iterator[VideoSource]:
    """The clip's video, checked to be the one its session was labelled on."""
    with VideoSource.open(item.clip) as video:
        if video.fingerprint().digest != item.digest:
            raise ExportError(video.path, "is not the video its session was labelled on (it changed since)")
        yield video


WRITERS: dict[str, DatasetWriter] = {
    "coco": _write_coco,
    "ytvis": _write_ytvis,
    "yolo": _write_yolo,
    "yolo-seg": _write_yolo,
    "mot": _per_clip_writer(lambda s, path: mot.write(s, path, video=None, progress=_quiet), str),
    "davis": _per_clip_writer(lambda s, path: davis.write(s, path, video=None, progress=_quiet), str),
    "sav": _per_clip_writer(
        lambda s, path: sav.write(s, path, video=None, progress=_quiet), lambda name: f"{name}_manual.json"
    ),
}
