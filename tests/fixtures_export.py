"""Sessions to export: a synthetic clip with awkward masks, and DAVIS blackswan's ground truth as results.

Both use the real SessionStore and VideoSource (a folder of frames), so exports are tested end to end.
`Scenario.masks[(frame, obj_id)]` holds what was stored, so tests compare the exports with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from sam2tui import masks
from sam2tui.engine.tracker import result_from_mask
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, Prompt
from sam2tui.video import VideoSource

WIDTH, HEIGHT, FRAMES = 96, 64, 12
CLASSES = {1: "person", 2: "dog", 3: "person"}  # objects 1 and 3 share category 1


@dataclass
class Scenario:
    store: SessionStore
    video: VideoSource
    masks: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)  # non-empty masks only
    scores: dict[tuple[int, int], float] = field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        return self.video.frame_count

    @property
    def obj_ids(self) -> list[int]:
        return sorted({obj for _, obj in self.masks})

    def close(self) -> None:
        self.store.close()
        self.video.close()


def synthetic_results() -> list[FrameResult]:
    """Three objects on 12 frames of 96x64, covering what exports get wrong.

    1 "person": an ellipse moving right, on every frame, score 8.
    2 "dog": a square ring (a hole) overlapping object 1; score 5, but 9 on frame 4 (it wins the overlap
       there); empty masks stored on frames 6-7 (lost), no result at all on frame 9.
    3 "person": two blobs and a one-pixel speck from frame 2 on, score 8 (ties with object 1), touching
       object 1 on frames 2-3.
    """
    results: list[FrameResult] = []
    for frame in range(FRAMES):
        one = np.zeros((HEIGHT, WIDTH), np.uint8)
        cv2.ellipse(one, (14 + 3 * frame, 30), (10, 7), 15, 0, 360, 1, -1)
        results.append(result_from_mask(frame, 1, one.astype(bool), 8.0, "synthetic"))
        if frame != 9:
            two = np.zeros((HEIGHT, WIDTH), bool)
            if frame not in (6, 7):
                two[22:44, 20 + frame : 40 + frame] = True
                two[28:36, 26 + frame : 34 + frame] = False
            results.append(result_from_mask(frame, 2, two, 9.0 if frame == 4 else 5.0 if two.any() else -3))
        if frame >= 2:
            three = np.zeros((HEIGHT, WIDTH), np.uint8)
            cv2.circle(three, (70, 12 + frame), 6, 1, -1)
            cv2.circle(three, (84, 50), 4, 1, -1)
            three[60, 3] = 1
            if frame < 4:
                three[28:33, 28:34] = 1  # into object 1's ellipse
            results.append(result_from_mask(frame, 3, three.astype(bool), 8.0, "synthetic"))
    return results


HALF_LABELLED = [2, 3, 4, 5, 6, 7, 9]
"""The frames of `half_tracked_scenario` where an object is labelled."""


def half_tracked_scenario(tmp_path: Path) -> Scenario:
    """The synthetic clip labelled as the app labels it, prompts first, then the results they give:

    1 "person": a mask prompt on frame 2, tracked over 2-6; said absent on frame 9 (an empty mask prompt,
       whose result is empty).
    2 "dog": a box on frame 4, tracked over 4-7 (lost, empty masks, on 6-7).
    Frames 0, 1, 8, 10 and 11 are untracked for both; frame 9 holds a confirmed negative only.
    """
    folder = write_frames(tmp_path / "clip", FRAMES, WIDTH, HEIGHT)
    tracked = {1: range(2, 7), 2: range(4, 8)}
    results = [r for r in synthetic_results() if r.obj_id in tracked and r.frame in tracked[r.obj_id]]
    scenario = open_scenario(tmp_path / "clip.sam2tui", folder, [], {1: "person", 2: "dog"})
    store = scenario.store
    first = next(r for r in results if (r.frame, r.obj_id) == (2, 1))
    store.add_prompt(Prompt.from_mask(2, 1, first.rle))
    store.add_prompt(Prompt.from_mask(9, 1, masks.encode(np.zeros((HEIGHT, WIDTH), bool))))
    store.add_prompt(Prompt.rectangle(4, 2, (20.0, 22.0, 44.0, 44.0)))
    results.append(result_from_mask(9, 1, np.zeros((HEIGHT, WIDTH), bool), -5.0, "synthetic"))
    _put(scenario, results)
    return scenario


def make_stale(scenario: Scenario) -> list[int]:
    """A click on object 2's frame 6 after tracking (a correction not re-propagated): its frames 5 and 7,
    tracked from the old prompts, become stale. Returns them."""
    scenario.store.add_prompt(Prompt.click(6, 2, 30.0, 26.0))
    ring = np.zeros((HEIGHT, WIDTH), bool)
    ring[22:44, 26:46] = True
    ring[28:36, 32:40] = False
    _put(scenario, [result_from_mask(6, 2, ring, 6.0, "synthetic")])  # the click's own result
    return [5, 7]


def _put(scenario: Scenario, results: list[FrameResult]) -> None:
    scenario.store.put_results(results)
    for result in results:
        if not result.is_empty:
            scenario.masks[result.frame, result.obj_id] = masks.decode(result.rle)
            scenario.scores[result.frame, result.obj_id] = result.score


def write_frames(folder: Path, count: int, width: int, height: int) -> Path:
    """A folder of PNG frames with a pattern that differs per frame (lossless, so exports can be compared)."""
    folder.mkdir(parents=True)
    ys, xs = np.mgrid[0:height, 0:width]
    for frame in range(count):
        rgb = np.stack([(xs * 2 + frame * 9) % 256, (ys * 3) % 256, (xs + ys + frame * 20) % 256], axis=-1)
        Image.fromarray(rgb.astype(np.uint8)).save(folder / f"{frame:05d}.png")
    return folder


def open_scenario(
    session: Path, video_folder: Path, results: list[FrameResult], classes: dict[int, str]
) -> Scenario:
    """A new session on the frames in `video_folder` holding `results`."""
    video = VideoSource.open(video_folder)
    store = SessionStore.open(session, video.fingerprint())
    for obj_id in sorted(classes):
        store.add_object(class_name=classes[obj_id], obj_id=obj_id)
    scenario = Scenario(store, video)
    _put(scenario, results)
    return scenario


def synthetic_scenario(tmp_path: Path) -> Scenario:
    folder = write_frames(tmp_path / "clip", FRAMES, WIDTH, HEIGHT)
    return open_scenario(tmp_path / "clip.sam2tui", folder, synthetic_results(), CLASSES)


def blackswan_scenario(tmp_path: Path, data: Path) -> Scenario:
    """DAVIS 2016 blackswan: its ground-truth masks stored as the results of object 1 ("swan")."""
    return davis_scenario(tmp_path / "blackswan.sam2tui", data / "JPEGImages", data, "swan")


def bear_scenario(tmp_path: Path, data: Path) -> Scenario:
    """DAVIS 2016 bear on its mp4: the ground truth (several parts on some frames) as object 1 ("bear")."""
    return davis_scenario(tmp_path / "bear.sam2tui", data / "bear.mp4", data, "bear")


def davis_scenario(session: Path, video: Path, data: Path, class_name: str) -> Scenario:
    """A session on `video` holding the ground truth in `data`/Annotations (one PNG per frame, 0-based)."""
    annotations = sorted((data / "Annotations").glob("*.png"))
    results = [
        result_from_mask(frame, 1, np.asarray(Image.open(png).convert("L")) > 127, 8.0, "davis-gt")
        for frame, png in enumerate(annotations)
    ]
    return open_scenario(session, video, results, {1: class_name})


def expected_labels(scenario: Scenario, frame: int) -> np.ndarray:
    """The DAVIS label image by the documented rule, computed pixel by pixel another way: among the objects
    covering a pixel, the highest score wins, then the lowest id."""
    labels = np.zeros((scenario.video.height, scenario.video.width), np.uint8)
    best = np.full(labels.shape, -np.inf)
    for obj_id in scenario.obj_ids:  # ascending ids: a later object must beat the score strictly
        mask = scenario.masks.get((frame, obj_id))
        if mask is None:
            continue
        wins = mask & (scenario.scores[frame, obj_id] > best)
        labels[wins] = obj_id
        best[wins] = scenario.scores[frame, obj_id]
    return labels
