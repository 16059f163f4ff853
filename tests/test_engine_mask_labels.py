"""The user's mask is the label on its frame: DAVIS ground truth given as mask prompts comes back bit for bit.

Real SAM 2 code with random weights (the mask's way through sam2 does not depend on them: sam2 turns a mask
prompt into logits at a quarter of its input size and back, which is what used to be stored). The prompted
frames go through the worker, a propagation, a replay (resume, model change) and a COCO export, and are
read back by pycocotools' annToMask. Skips without ../shared/data's DAVIS clips.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2tui import masks
from sam2tui.engine.sam2_tracker import Sam2Tracker
from sam2tui.engine.tracker import (
    Event,
    Idle,
    LoadModel,
    ModelSpec,
    OpenVideo,
    Propagate,
    Replay,
    SetPrompt,
)
from sam2tui.engine.worker import EngineWorker
from sam2tui.export import export_session
from sam2tui.session.store import SessionStore
from sam2tui.values import Direction, FramePrompt, Prompt
from sam2tui.video import VideoSource
from tests.fixtures_engine import (
    TINY,
    random_checkpoint_fixture,  # noqa: F401 - the fixture
    tracked_frames,
)

pytestmark = pytest.mark.engine

CLIPS = {"davis_blackswan": "JPEGImages", "davis_bear_mp4": "bear.mp4"}
# 1024 px on the CPU costs ~5 s a frame: one prompted frame and one tracked frame there
PROMPTED = {256: (0, 3), 1024: (0,)}
TRACKED = {256: 5, 1024: 2}
# IoU of sam2's own re-rendering of each GT mask (what sam2tui stored before), per clip and size
OLD_IOU: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def print_figures() -> Iterator[None]:
    yield
    print("\nIoU of sam2's re-rendered mask prompt with the GT (the old stored result):", OLD_IOU)


@pytest.fixture(scope="module")
def trackers(random_checkpoint: Path) -> Iterator[dict[int, Sam2Tracker]]:
    built: dict[int, Sam2Tracker] = {}
    yield built
    for tracker in built.values():
        tracker.close()


def ground_truth(folder: Path, frame: int) -> np.ndarray:
    return np.asarray(Image.open(folder / "Annotations" / f"{frame:05d}.png").convert("L")) > 0


def until_idle(events: queue.Queue[Event]) -> None:
    while not isinstance(events.get(timeout=600), Idle):
        pass


@pytest.mark.parametrize("size", [256, 1024])
@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_a_mask_prompt_is_the_label_on_its_frame_bit_for_bit(
    tmp_path: Path,
    shared_data: Path,
    random_checkpoint: Path,
    trackers: dict[int, Sam2Tracker],
    clip: str,
    size: int,
) -> None:
    folder = shared_data / clip
    if not (folder / CLIPS[clip]).exists() or not (folder / "Annotations").is_dir():
        pytest.skip(f"{clip} is not in ../shared/data")
    if size not in trackers:
        trackers[size] = Sam2Tracker(ModelSpec(TINY, random_checkpoint, "cpu", size))
    tracker = trackers[size]
    truth = {frame: ground_truth(folder, frame) for frame in PROMPTED[size]}
    with (
        VideoSource.open(folder / CLIPS[clip]) as video,
        SessionStore.open(tmp_path / "s.sam2tui", video.fingerprint()) as store,
    ):
        # what sam2 itself gives back for the mask: the old stored result
        tracker.start(video)
        for frame, mask in truth.items():
            prompt = FramePrompt(frame, 1, (Prompt.from_mask(frame, 1, masks.encode(mask)),))
            OLD_IOU[f"{clip}@{size} frame {frame}"] = masks.iou(tracker.set_prompt(prompt)[0].rle, mask)

        store.add_object()
        store.add_prompts([Prompt.from_mask(frame, 1, masks.encode(mask)) for frame, mask in truth.items()])
        events: queue.Queue[Event] = queue.Queue()
        worker = EngineWorker(lambda spec, progress: tracker, store, events.put)
        worker.start()
        try:
            worker.submit(OpenVideo(video.path))
            worker.submit(LoadModel(ModelSpec()))
            for prompt in store.frame_prompts():
                worker.submit(SetPrompt(prompt))
            worker.submit(Propagate(0, Direction.FORWARD, TRACKED[size]))
            until_idle(events)
            assert tracked_frames(store) == sorted({*range(TRACKED[size]), *truth})
            for frame, mask in truth.items():
                (result,) = store.results(frame=frame, obj_id=1)
                assert np.array_equal(masks.decode(result.rle), mask) and result.score > 0
            if size == 256:
                # a click after the mask refines it (sam2's mask then); undoing the click gives the label back
                ys, xs = np.nonzero(truth[3])
                click = Prompt.click(3, 1, float(xs[0]), float(ys[0]), positive=False)
                worker.submit(SetPrompt(FramePrompt.collect(3, 1, [*store.prompts(3, 1), click])))
                until_idle(events)
                assert not np.array_equal(masks.decode(store.results(frame=3, obj_id=1)[0].rle), truth[3])
                worker.submit(SetPrompt(FramePrompt.collect(3, 1, store.prompts(3, 1))))
                # an empty mask is the "absent" label: an empty result
                nothing = Prompt.from_mask(1, 1, masks.encode(np.zeros_like(truth[0])))
                store.add_prompt(nothing)
                worker.submit(SetPrompt(FramePrompt.collect(1, 1, [nothing])))
                until_idle(events)
                (absent,) = store.results(frame=1, obj_id=1)
                assert absent.is_empty and absent.area == 0
            store.delete_results()  # a replay into a fresh state (resume, model change) gives them back
            worker.submit(Replay(tuple(store.frame_prompts())))
            until_idle(events)
        finally:
            worker.stop(timeout=60)

        out = tmp_path / "coco.json"
        export_session(store, "coco", out, video=video)
    from pycocotools.coco import COCO

    dataset = COCO(str(out))
    for frame, mask in truth.items():
        (ann,) = dataset.loadAnns(dataset.getAnnIds(imgIds=[frame + 1]))  # COCO image id = frame + 1
        assert np.array_equal(dataset.annToMask(ann).astype(bool), mask)
