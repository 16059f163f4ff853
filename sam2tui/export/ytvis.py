"""YouTube-VIS JSON: one video, one annotation per object, per-frame lists aligned with the video's frames.

`videos[0].file_names` lists every chosen frame ("<video>/00123.jpg", frame index), labelled or not, since
the per-frame lists keep the video's length; each annotation has `segmentations` (compressed RLE with `str`
counts, None where the object has no mask: absent, lost, or not labelled on that frame), `bboxes`
([x, y, w, h] or None), `areas` (or None), `category_id`, `iscrowd` 0, and `id` = the object id.
Objects with no mask on any exported frame get no annotation. `info` is COCO's (coco.info: which models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sam2tui.export._io import write_json
from sam2tui.export._selection import FrameSource, Instance, Progress, Selection
from sam2tui.export.coco import categories, info

VIDEO_ID = 1


def write(selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress) -> list[Path]:
    return write_json(out, document(selection, progress))


def document(selection: Selection, progress: Progress) -> dict[str, Any]:
    """The YouTube-VIS dict of a selection."""
    count = len(selection.chosen)  # every chosen frame: a video's lists keep their length
    stem = Path(selection.video_name).stem
    tracks: dict[int, dict[str, Any]] = {}
    for index, frame in enumerate(selection.chosen):
        for instance in selection.at(frame):
            track = tracks.get(instance.obj_id)
            if track is None:
                track = tracks[instance.obj_id] = _empty_track(instance, selection, count)
            track["segmentations"][index] = instance.rle
            track["bboxes"][index] = list(instance.box)
            track["areas"][index] = instance.area
        progress(index + 1, count)
    return {
        "info": info(selection),
        "licenses": [],
        "videos": [
            {
                "id": VIDEO_ID,
                "name": stem,
                "width": selection.width,
                "height": selection.height,
                "length": count,
                "fps": selection.video.fps,
                "file_names": [f"{stem}/{frame:05d}.jpg" for frame in selection.chosen],
            }
        ],
        "annotations": [tracks[obj_id] for obj_id in sorted(tracks)],
        "categories": categories(selection),
    }


def _empty_track(instance: Instance, selection: Selection, count: int) -> dict[str, Any]:
    return {
        "id": instance.obj_id,
        "video_id": VIDEO_ID,
        "category_id": instance.category_id,
        "iscrowd": 0,
        "width": selection.width,
        "height": selection.height,
        "segmentations": [None] * count,
        "bboxes": [None] * count,
        "areas": [None] * count,
    }
