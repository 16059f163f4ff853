"""A correction on a tracked frame keeps the mask the user saw when the prompts are replayed (real SAM 2).

SAM 2 refines a click on a tracked frame from its own propagated logits, with memory; a replay (opening
the session, undo, an identity edit) applies the click to a fresh state and gets another mask (IoU 0.63
here before the worker kept stored labels). Random weights, 256 px, the engine tests' clip.
"""

from __future__ import annotations

import queue
from pathlib import Path

import pytest

from sam2tui import masks
from sam2tui.engine.options import sam2_tracker
from sam2tui.engine.tracker import (
    EngineFailed,
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
from sam2tui.session.store import SessionStore
from sam2tui.values import Direction, FramePrompt, Prompt
from sam2tui.video import VideoSource
from tests.fixtures_engine import (
    CLIP_FRAMES,
    TEST_IMAGE_SIZE,
    TINY,
    clip_folder_fixture,  # noqa: F401 - the fixture
    random_checkpoint_fixture,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.engine


def test_a_corrected_frame_keeps_what_the_user_saw_through_a_replay(
    tmp_path: Path, random_checkpoint: Path, clip_folder: Path
) -> None:
    with VideoSource.open(clip_folder) as video:
        store = SessionStore.open(tmp_path / "clip.sam2tui", video.fingerprint())
    store.add_object()
    events: queue.Queue[Event] = queue.Queue()
    worker = EngineWorker(sam2_tracker, store, events.put)

    def do(*commands: object) -> None:
        for command in commands:
            worker.submit(command)  # type: ignore[arg-type]
        while not isinstance(event := events.get(timeout=300), Idle):
            assert not isinstance(event, EngineFailed), event.message

    def prompt(step: Prompt) -> FramePrompt:
        store.add_prompt(step)  # as the controller does, before the engine computes it
        return FramePrompt(step.frame, step.obj_id, (step,))

    worker.start()
    try:
        do(OpenVideo(clip_folder), LoadModel(ModelSpec(TINY, random_checkpoint, "cpu", TEST_IMAGE_SIZE)))
        first = prompt(Prompt.click(0, 1, 40.0, 60.0))
        do(SetPrompt(first), Propagate(0, Direction.FORWARD))
        (tracked,) = store.results(frame=3)
        correction = prompt(Prompt.click(3, 1, 90.0, 20.0, positive=False))
        do(SetPrompt(correction))
        (seen,) = store.results(frame=3)
        assert masks.iou(seen.rle, tracked.rle) < 0.99  # the click changed the frame
        do(Replay((first, correction)), Propagate(0, Direction.FORWARD))
        (after,) = store.results(frame=3)
        assert (after.rle, after.score) == (seen.rle, seen.score)
        assert sorted(r.frame for r in store.results()) == list(range(CLIP_FRAMES))
    finally:
        worker.stop(timeout=30)
        store.close()
