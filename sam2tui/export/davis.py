"""DAVIS-style annotations: one palette PNG (mode "P") per exported frame, named by frame index ("00000.png").

Each pixel holds the id of the object it belongs to (0 = background) and the palette is DAVIS's (PASCAL
VOC's), so object 1 is dark red, 2 green, ... Object ids above 255 cannot be written.

Overlaps: where masks overlap, the object with the higher object score wins; on equal scores the lower
object id wins. (The score is SAM 2's object score, the model's confidence that the object is there.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sam2tui import masks
from sam2tui.errors import ExportError
from sam2tui.export._io import replacing_folder
from sam2tui.export._selection import FrameSource, Instance, Progress, Selection

MAX_OBJECT_ID = 255


def palette() -> list[int]:
    """DAVIS's palette: the PASCAL VOC colour map, 256 RGB triples flattened."""
    colours: list[int] = []
    for index in range(256):
        red = green = blue = 0
        bits = index
        for shift in range(7, -1, -1):
            red |= (bits & 1) << shift
            green |= ((bits >> 1) & 1) << shift
            blue |= ((bits >> 2) & 1) << shift
            bits >>= 3
        colours += [red, green, blue]
    return colours


def label_map(instances: list[Instance], height: int, width: int) -> np.ndarray:
    """The HxW uint8 object-id image of one frame, overlaps resolved as the module docstring says."""
    labels = np.zeros((height, width), dtype=np.uint8)
    # Paint the weakest first, so the winner of each overlap is painted last.
    for instance in sorted(instances, key=lambda i: (i.score, -i.obj_id)):
        labels[masks.decode(instance.rle)] = instance.obj_id
    return labels


def write(selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress) -> list[Path]:
    too_big = [obj.obj_id for obj in selection.objects if obj.obj_id > MAX_OBJECT_ID]
    if too_big:
        raise ExportError(out, f"object id {too_big[0]} does not fit a palette PNG (at most {MAX_OBJECT_ID})")
    colours = palette()
    names = [f"{frame:05d}.png" for frame in selection.frames]
    with replacing_folder(out, f"davis export of {selection.video_name}") as folder:
        for done, (frame, name) in enumerate(zip(selection.frames, names, strict=True), 1):
            image = Image.fromarray(
                label_map(selection.at(frame), selection.height, selection.width), mode="L"
            )
            image.putpalette(colours)  # turns the image into mode "P"
            image.save(folder / name)
            progress(done, len(selection.frames))
    return [out / name for name in names]
