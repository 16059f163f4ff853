"""SA-V, SAM 2's own dataset format: one masklet JSON per clip, as sav_dataset/README.md of
facebookresearch/sam2 specifies for its `{video_id}_manual.json` files (the format SAM 2 is fine-tuned on).

- `masklet[i][j]` is the COCO RLE (`{"size": [h, w], "counts": str}`) of masklet j on annotated frame i.
  Annotated frame i is video frame i * stride, as SA-V's readers assume (they take the video's frames
  `[::stride]`, SA-V itself is annotated every 4th frame). The stride is the largest step that holds every
  exported frame (the greatest common divisor of their indices, so `--every K` from frame 0 gives K).
- An annotated frame that the export does not write (not labelled, or outside the chosen frames) holds
  `null` for each masklet: SAM 2's training loader (`JSONSegmentLoader`) reads `null` as "no annotation
  here", which is what it is. On a written frame an object without a mask is an empty RLE: not there.
- Masklets are the exported objects with a mask on at least one written frame, in object id order;
  `masklet_id` is their position (0, 1, ...), as in SA-V. `masklet_type` is "manual" (drawn with SAM 2 from
  a person's prompts, as SA-V's manual masklets are), `masklet_first_appeared_frame` the video frame of the
  first mask, `masklet_frame_count` the annotated frames that are not `null`, and the sizes are in pixels
  over the frames where the object is visible. `masklet_edited_frame_count` is 0: an export reads results,
  not which frames were prompted. `video_environment` is empty (sam2tui does not know "Indoor"/"Outdoor").
- `labels_by`, sam2tui's own key, says which models made the masks ("labels by sam2.1-large (80 masks)").
- `video_id` is the video's file name without its extension; to load it with SA-V's `SAVDataset`, name the
  file `{video_id}_manual.json` beside `{video_id}.mp4`.
"""

from __future__ import annotations

import math
from functools import reduce
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from sam2tui import masks
from sam2tui.export._io import write_json
from sam2tui.export._selection import FrameSource, Progress, Selection, describe_models
from sam2tui.values import Rle

SMALL, MEDIUM = 32**2, 96**2  # SA-V's size buckets, in pixels


def write(selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress) -> list[Path]:
    return write_json(out, document(selection, progress))


def stride(frames: list[int]) -> int:
    """The largest step k such that every frame is a multiple of k (1 when only frame 0 is written)."""
    return reduce(math.gcd, frames, 0) or 1


def document(selection: Selection, progress: Progress) -> dict[str, Any]:
    """The SA-V masklet dict of a selection."""
    step = stride(selection.frames)
    written = set(selection.frames)
    # (frame, object) -> its instance: a written frame without one is a frame the object is not on.
    visible = {(i.frame, i.obj_id): i for frame in selection.frames for i in selection.at(frame)}
    objects = [o.obj_id for o in selection.objects if any(obj_id == o.obj_id for _, obj_id in visible)]
    empty = masks.encode(np.zeros((selection.height, selection.width), bool))
    rows: list[list[Rle | None]] = []
    done = 0
    for frame in range(0, selection.frames[-1] + 1, step):
        if frame not in written:
            rows.append([None] * len(objects))
            continue
        rows.append(
            [visible[frame, obj_id].rle if (frame, obj_id) in visible else empty for obj_id in objects]
        )
        done += 1
        progress(done, len(selection.frames))
    video = selection.video
    resolution = video.width * video.height
    masklets = [_masklet(rows, j, step, resolution) for j in range(len(objects))]
    return {
        "video_id": Path(video.path).stem,
        "video_duration": video.frame_count / video.fps if video.fps else 0.0,
        "video_frame_count": float(video.frame_count),
        "video_height": float(video.height),
        "video_width": float(video.width),
        "video_resolution": float(resolution),
        "video_environment": [],
        "video_split": "train",
        "masklet": rows,
        "masklet_id": list(range(len(objects))),
        **{key: [m[key] for m in masklets] for key in _MASKLET_KEYS},
        "masklet_type": ["manual"] * len(objects),
        "masklet_stability_score": None,
        "masklet_num": len(objects),
        "labels_by": describe_models(selection.models()),  # not SA-V's: which models made the masks
    }


_MASKLET_KEYS = (
    "masklet_size_rel",
    "masklet_size_abs",
    "masklet_size_bucket",
    "masklet_visibility_changes",
    "masklet_first_appeared_frame",
    "masklet_frame_count",
    "masklet_edited_frame_count",
)


def _masklet(rows: list[list[Rle | None]], j: int, step: int, resolution: int) -> dict[str, Any]:
    """The per-masklet statistics SA-V lists, from masklet j's annotated frames."""
    annotated = [(i * step, masks.area(rle)) for i, row in enumerate(rows) if (rle := row[j]) is not None]
    areas = [area for _, area in annotated if area]
    shown = [area > 0 for _, area in annotated]
    first = shown.index(True)
    size = sum(areas) / len(areas)
    return {
        "masklet_size_rel": size / resolution,
        "masklet_size_abs": size,
        "masklet_size_bucket": "small" if size < SMALL else "medium" if size < MEDIUM else "large",
        "masklet_visibility_changes": sum(a != b for a, b in pairwise(shown[first:])),
        "masklet_first_appeared_frame": annotated[first][0],
        "masklet_frame_count": len(annotated),
        "masklet_edited_frame_count": 0,
    }
