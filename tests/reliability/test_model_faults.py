"""The model fails mid-propagation: CUDA out of memory (torch.cuda.OutOfMemoryError raised by a tracker
double) or any other exception. The engine worker, the controller, the app and `track` must report it in one
line (out of memory: with the advice of a smaller model), keep every frame finished before it, and stay
usable: the next propagation runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sam2tui.engine.tracker import EngineFailed, LoadModel, ModelSpec, PropagationDone
from sam2tui.errors import CheckpointError
from sam2tui.session.store import SessionStore
from sam2tui.values import Direction
from tests.fixtures_engine import tracked_frames
from tests.fixtures_tui import (
    EngineRig,
    app_rig,
    click_object,
    engine_rig,
    idle,
    screen_text,
    settle,
    write_clip_folder,
)
from tests.reliability.fault_tracker import FaultyTracker, fault
from tests.reliability.helpers import (
    FAULTY_TRACKER,
    progress_total,
    run,
    snapshot,
    stored,
    track_argv,
)

FRAMES, FAIL_AT = 20, 7
OOM_LINE = f"out of GPU memory at frame {FAIL_AT}; try --model sam2.1-tiny or --image-size 512"


@pytest.fixture(params=["oom", "error"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def expected_line(kind: str) -> str:
    return OOM_LINE if kind == "oom" else "RuntimeError: mat1 and mat2 shapes cannot be multiplied"


@pytest.fixture
def rig(tmp_path: Path, kind: str) -> Iterator[EngineRig]:
    folder = write_clip_folder(tmp_path / "clip", count=FRAMES)
    made = engine_rig(folder, tmp_path / "clip.sam2tui", FaultyTracker(FAIL_AT, fault(kind)))
    yield made
    made.close()


def test_failure_mid_propagation_is_one_line_keeps_frames_and_the_engine_goes_on(
    rig: EngineRig, kind: str
) -> None:
    ctl = rig.controller
    assert ctl.click(45, 60)
    rig.drain()
    assert ctl.propagate(Direction.FORWARD)
    events = rig.drain()
    [failure] = [e for e in events if isinstance(e, EngineFailed)]
    assert "\n" not in failure.message and failure.message.startswith(expected_line(kind)), failure.message
    assert failure.command == "Propagate"
    assert not any(isinstance(e, PropagationDone) for e in events)
    assert ctl.notice == f"engine: {failure.message}" and not ctl.busy
    assert tracked_frames(rig.store) == list(range(FAIL_AT))  # every frame before the failure is kept
    assert ctl.lane(1).states[FAIL_AT - 1] != ctl.lane(1).states[FAIL_AT]  # and shown

    # usable: the next propagation goes on from where the failure stopped, to the end
    assert ctl.propagate(Direction.FORWARD)
    rig.drain()
    assert tracked_frames(rig.store) == list(range(FRAMES))
    assert ctl.notice == f"propagated {FRAMES - FAIL_AT} frames"


def test_model_that_fails_to_load_is_reported_and_navigation_goes_on(tmp_path: Path) -> None:
    folder = write_clip_folder(tmp_path / "clip", count=FRAMES)
    rig = engine_rig(folder, tmp_path / "clip.sam2tui", FaultyTracker(FAIL_AT, None))
    try:

        def no_memory(spec: ModelSpec, progress: object) -> FaultyTracker:
            raise fault("oom")

        rig.worker._factory = no_memory  # the next LoadModel (a bigger model, say) runs out of memory
        rig.worker.submit(LoadModel(ModelSpec("sam2.1-large")))
        rig.drain()
        ctl = rig.controller
        assert ctl.model.error.startswith("out of GPU memory; try --model sam2.1-tiny"), ctl.model.error
        assert "engine failed: out of GPU memory" in ctl.model.describe()
        assert ctl.step(3) == 3  # the app is still usable

        def missing(spec: ModelSpec, progress: object) -> FaultyTracker:
            raise CheckpointError("/nowhere/sam2.1_hiera_large.pt", "checkpoint file not found")

        rig.worker._factory = missing
        rig.worker.submit(LoadModel(ModelSpec("sam2.1-large")))
        rig.drain()
        assert ctl.model.error == "/nowhere/sam2.1_hiera_large.pt: checkpoint file not found"
    finally:
        rig.close()


async def test_app_shows_the_failure_and_propagates_again(tmp_path: Path, kind: str) -> None:
    made = app_rig(tmp_path, FaultyTracker(FAIL_AT, fault(kind)))
    try:
        async with made.app.run_test(size=(100, 32)) as pilot:
            await click_object(pilot, made)
            await pilot.press("p")
            await settle(pilot, lambda: "engine:" in made.app.controller.notice)
            await idle(pilot, made)
            text = screen_text(made.app)
            assert expected_line(kind)[:40] in text, text  # the status bar says it
            assert made.app.is_running
            assert tracked_frames(made.store) == list(range(FAIL_AT))  # the frames before the failure
            await pilot.press("p")
            await settle(pilot, lambda: "propagated" in made.app.controller.notice)
            assert len(tracked_frames(made.store)) == made.app.controller.frame_count
    finally:
        made.close()


# ---- track ----


@dataclass
class FailedTrack:
    failed: subprocess.CompletedProcess[str]
    kept: dict[tuple[int, int], str]
    again: subprocess.CompletedProcess[str]
    frames: list[int]
    session_rows: dict[tuple[int, int], str]


@pytest.fixture(scope="module")
def failed_track(tmp_path_factory: pytest.TempPathFactory) -> FailedTrack:
    folder = tmp_path_factory.mktemp("oom-track")
    clip = write_clip_folder(folder / "clip", count=FRAMES)
    prompts = folder / "prompts.json"
    prompts.write_text('{"objects": [{"id": 1, "prompts": [{"frame": 0, "points": [[45, 60]]}]}]}')
    dummy = folder / "unused.pt"
    dummy.write_bytes(b"")
    session = folder / "clip.sam2tui"
    argv = track_argv(clip, "--prompts", prompts, "--checkpoint", dummy, "--session", session)
    failed = run(argv, SAM2TUI_TEST_TRACKER=FAULTY_TRACKER, FAULT_AT=str(FAIL_AT), FAULT_KIND="oom")
    kept = snapshot(session)
    again = run(argv, SAM2TUI_TEST_TRACKER=FAULTY_TRACKER, FAULT_AT=str(FRAMES + 1))
    with SessionStore.open(session) as store:
        return FailedTrack(failed, kept, again, tracked_frames(store), stored(store))


def test_track_out_of_memory_exits_1_keeps_frames_and_the_next_run_continues(
    failed_track: FailedTrack,
) -> None:
    assert failed_track.failed.returncode == 1, failed_track.failed.stderr
    assert f"sam2tui: {OOM_LINE}" in failed_track.failed.stderr
    assert sorted(frame for frame, _ in failed_track.kept) == list(range(FAIL_AT))
    assert failed_track.again.returncode == 0, failed_track.again.stderr
    total = progress_total(failed_track.again.stderr)
    assert total is not None and total <= FRAMES - FAIL_AT + 1, failed_track.again.stderr  # it went on
    assert failed_track.frames == list(range(FRAMES))
    assert all(failed_track.session_rows[key] == counts for key, counts in failed_track.kept.items())


def test_track_out_of_memory_says_so_in_one_line(failed_track: FailedTrack) -> None:
    stderr = failed_track.failed.stderr
    assert "Traceback" not in stderr, stderr
    said = [
        line.split("\r")[-1] for line in stderr.splitlines() if line.split("\r")[-1].startswith("sam2tui: ")
    ]
    assert said == [f"sam2tui: {OOM_LINE}"], stderr
