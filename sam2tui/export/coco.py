"""COCO instance segmentation JSON, with the video extensions of CocoVID (mmtracking) and TAO.

- `images` are the exported frames: id = frame + 1, `file_name` "frame_000123.jpg" (0-based frame index),
  `frame_id` the 0-based frame index, `video_id` 1.
- `annotations`: one per object per frame where its mask is not empty; `segmentation` is the compressed RLE
  with `str` counts (what pycocotools writes), `bbox` the tight box [x, y, w, h], `area` the pixel count,
  `iscrowd` 0, `track_id` the object id, `video_id` 1.
- `info.contributor` says which models made the masks ("labels by sam2.1-tiny (37 masks)").
- `categories`: the session's class list, in its order (see `SessionStore.classes`); `videos`: the one video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sam2tui import __version__
from sam2tui.export._io import write_json
from sam2tui.export._selection import FrameSource, Progress, Selection, describe_models, frame_name

VIDEO_ID = 1


def write(selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress) -> list[Path]:
    return write_json(out, document(selection, progress))


def document(selection: Selection, progress: Progress) -> dict[str, Any]:
    """The COCO dict of a selection."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for done, frame in enumerate(selection.frames, 1):
        images.append(
            {
                "id": frame + 1,
                "file_name": frame_name(frame) + ".jpg",
                "width": selection.width,
                "height": selection.height,
                "video_id": VIDEO_ID,
                "frame_id": frame,
            }
        )
        for instance in selection.at(frame):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": frame + 1,
                    "category_id": instance.category_id,
                    "segmentation": instance.rle,
                    "area": instance.area,
                    "bbox": list(instance.box),
                    "iscrowd": 0,
                    "track_id": instance.obj_id,
                    "video_id": VIDEO_ID,
                }
            )
        progress(done, len(selection.frames))
    return {
        "info": info(selection),
        "licenses": [],
        "videos": [video_entry(selection)],
        "images": images,
        "annotations": annotations,
        "categories": categories(selection),
    }


def info(selection: Selection) -> dict[str, Any]:
    """COCO's `info`: what was exported, by which sam2tui, and which models made the labels."""
    return {
        "description": f"{selection.video_name}, exported by sam2tui {__version__}",
        "contributor": describe_models(selection.models()),
    }


def video_entry(selection: Selection) -> dict[str, Any]:
    video = selection.video
    return {
        "id": VIDEO_ID,
        "name": selection.video_name,
        "width": video.width,
        "height": video.height,
        "fps": video.fps,
        "frame_count": video.frame_count,
    }


def categories(selection: Selection) -> list[dict[str, Any]]:
    return [
        {"id": index, "name": name, "supercategory": "object"}
        for index, name in enumerate(selection.categories, 1)
    ]
