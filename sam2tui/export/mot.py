"""MOT Challenge ground truth: a sequence folder with `seqinfo.ini` and `gt/gt.txt`.

`gt.txt` has one line per object per frame where its mask is not empty, sorted by frame then id:
`frame,id,x,y,w,h,1,class,visibility` with 1-based frames (frame index + 1) and the object id (1-based
already), the tight box in pixels with 1-based x, y (MOT's MATLAB convention: py-motmetrics subtracts 1 on
reading), the "consider" flag 1, the 1-based category index, and visibility 1. The images folder named by
`imDir` is not written (the sequence refers to the video's frames). `frameRate` is a whole number, as
MOTChallenge's are (the video's rate rounded); `labelsBy`, sam2tui's own key, says which models made the
masks.
"""

from __future__ import annotations

from pathlib import Path

from sam2tui.export._io import replacing_folder
from sam2tui.export._selection import FrameSource, Instance, Progress, Selection, describe_models

IMAGE_FOLDER = "img1"


def write(selection: Selection, out: Path, *, video: FrameSource | None, progress: Progress) -> list[Path]:
    with replacing_folder(out, f"mot export of {selection.video_name}") as folder:
        (folder / "gt").mkdir()
        (folder / "seqinfo.ini").write_text(seqinfo(selection, out.name), encoding="utf-8")
        with open(folder / "gt" / "gt.txt", "w", encoding="utf-8", newline="\n") as handle:
            for done, frame in enumerate(selection.frames, 1):
                handle.writelines(line(instance) for instance in selection.at(frame))
                progress(done, len(selection.frames))
    return [out / "seqinfo.ini", out / "gt" / "gt.txt"]


def line(instance: Instance) -> str:
    x, y, w, h = instance.box
    return f"{instance.frame + 1},{instance.obj_id},{x + 1},{y + 1},{w},{h},1,{instance.category_id},1\n"


def seqinfo(selection: Selection, name: str) -> str:
    video = selection.video
    return (
        "[Sequence]\n"
        f"name={name}\n"
        f"imDir={IMAGE_FOLDER}\n"
        f"frameRate={max(1, round(video.fps))}\n"
        f"seqLength={video.frame_count}\n"
        f"imWidth={video.width}\n"
        f"imHeight={video.height}\n"
        "imExt=.jpg\n"
        f"labelsBy={describe_models(selection.models())}\n"
    )
