"""Continuing a propagation from committed frames (`Sam2Tracker.resume`) against an uninterrupted run.

Real SAM 2 code with random weights, 256 px. A fresh tracker state, given the prompts and the stored
results of the frames before the resume point, continues as the uninterrupted run did (min IoU >= 0.99 on
the resumed frames); without the rebuilt memory it tracks from the prompts' memory alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from sam2tui import masks
from sam2tui.engine.sam2_tracker import Sam2Tracker
from sam2tui.engine.tracker import ModelSpec
from sam2tui.values import Direction, FramePrompt, FrameResult, Prompt
from sam2tui.video import VideoSource
from tests.fixtures_engine import (
    TEST_IMAGE_SIZE,
    TINY,
    clip_frames,
    random_checkpoint_fixture,  # noqa: F401 - the fixture
    write_jpeg_folder,
)

pytestmark = pytest.mark.engine

# min IoU of the resumed frames against the uninterrupted run, per case (printed with -s)
FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def print_figures() -> Iterator[None]:
    yield
    print("\nmin IoU of resumed frames vs an uninterrupted run (random weights, 256 px):", FIGURES)


@pytest.fixture(scope="module")
def tracker(random_checkpoint: Path) -> Iterator[Sam2Tracker]:
    t = Sam2Tracker(ModelSpec(TINY, random_checkpoint, "cpu", TEST_IMAGE_SIZE))
    yield t
    t.close()


def iou(a: FrameResult, b: FrameResult) -> float:
    return 1.0 if a.area == b.area == 0 else masks.iou(a.rle, b.rle)


def tracked(
    tracker: Sam2Tracker,
    video: VideoSource,
    prompts: Sequence[FramePrompt],
    start: int,
    direction: Direction,
    count: int,
    committed: dict[int, list[FrameResult]] | None = None,
) -> dict[tuple[int, int], FrameResult]:
    """Results of a propagation in a fresh state, resumed from `committed` when given."""
    tracker.start(video)
    for prompt in prompts:
        tracker.set_prompt(prompt)
    if committed is not None:
        tracker.resume(start, direction, lambda frame: committed.get(frame, []))
    return {(r.frame, r.obj_id): r for batch in tracker.propagate(start, direction, count) for r in batch}


def compare_resumed(
    case: str,
    tracker: Sam2Tracker,
    video: VideoSource,
    prompts: Sequence[FramePrompt],
    frames: int,
    resume_at: int,
    direction: Direction = Direction.FORWARD,
) -> tuple[float, float]:
    """(min IoU resumed, min IoU restarted without memory) of the frames from `resume_at` on in
    `direction` against the full run from the first (forward) or last (backward) frame."""
    backward = direction is Direction.BACKWARD
    full = tracked(tracker, video, prompts, frames - 1 if backward else 0, direction, frames)

    def done(frame: int) -> bool:
        return frame > resume_at if backward else frame < resume_at

    committed: dict[int, list[FrameResult]] = {}
    for (frame, _), result in sorted(full.items()):
        if done(frame):
            committed.setdefault(frame, []).append(result)
    count = resume_at + 1 if backward else frames - resume_at
    figures = []
    for given in (committed, None):
        rest = tracked(tracker, video, prompts, resume_at, direction, count, given)
        assert sorted(rest) == sorted(key for key in full if not done(key[0]))
        figures.append(min(iou(result, full[key]) for key, result in rest.items()))
    FIGURES[f"{case} resumed"], FIGURES[f"{case} without memory"] = figures
    return figures[0], figures[1]


def test_resuming_on_bedroom_matches_the_uninterrupted_run(tracker: Sam2Tracker, shared_data: Path) -> None:
    path = shared_data / "bedroom" / "bedroom.mp4"
    if not path.is_file():
        pytest.skip("bedroom.mp4 is not in ../shared/data")
    # the child of the SAM 2 video notebook's prompts
    prompts = [FramePrompt(0, 1, (Prompt.click(0, 1, 210, 350), Prompt.click(0, 1, 250, 220)))]
    with VideoSource.open(path) as video:
        resumed, restarted = compare_resumed("bedroom", tracker, video, prompts, 24, 12)
    assert resumed >= 0.99 and resumed > restarted


def test_resuming_on_a_generated_clip(tracker: Sam2Tracker, tmp_path: Path) -> None:
    folder = write_jpeg_folder(tmp_path / "clip", clip_frames(12))
    prompts = [
        FramePrompt(0, 1, (Prompt.click(0, 1, 40.0, 60.0),)),
        FramePrompt(0, 2, (Prompt.rectangle(0, 2, (100.0, 50.0, 140.0, 90.0)),)),
    ]
    with VideoSource.open(folder) as video:
        resumed, _ = compare_resumed("generated clip", tracker, video, prompts, 12, 6)
        assert resumed >= 0.99
        last = [FramePrompt(11, 1, (Prompt.click(11, 1, 100.0, 60.0),))]  # the square on frame 11
        resumed, _ = compare_resumed(
            "generated clip backwards", tracker, video, last, 12, 5, Direction.BACKWARD
        )
    assert resumed >= 0.99


def test_resuming_next_to_frames_tracked_in_the_same_state_keeps_sam2s_own_memory(
    tracker: Sam2Tracker, tmp_path: Path
) -> None:
    folder = write_jpeg_folder(tmp_path / "clip", clip_frames(8))
    with VideoSource.open(folder) as video:
        prompt = FramePrompt(4, 1, (Prompt.click(4, 1, 60.0, 60.0),))
        full = tracked(tracker, video, [prompt], 4, Direction.BOTH, 8)
        tracker.start(video)
        tracker.set_prompt(prompt)
        forward = {batch[0].frame: batch[0] for batch in tracker.propagate(4, Direction.FORWARD)}
        # the backward pass after the forward one, told that the frames after 4 are committed
        tracker.resume(4, Direction.BACKWARD, lambda frame: [forward[frame]] if frame in forward else [])
        backward = {batch[0].frame: batch[0] for batch in tracker.propagate(4, Direction.BACKWARD)}
    assert all(backward[frame] == full[(frame, 1)] for frame in range(4))
