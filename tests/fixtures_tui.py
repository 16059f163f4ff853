"""Fixtures of the TUI tests: a small deterministic clip (a PNG folder), its session, and an engine rig.

`EngineRig` runs the real EngineWorker around a ScriptedTracker, delivering its events to a queue that
`drain()` feeds to an AnnotationController, so controller tests see exactly what the app sees.
"""

from __future__ import annotations

import io
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from rich.console import Console
from textual.pilot import Pilot

from sam2tui.engine.tracker import Event, Idle, LoadModel, ModelSpec, OpenVideo
from sam2tui.engine.worker import EngineWorker
from sam2tui.session.history import History
from sam2tui.session.store import SessionStore
from sam2tui.tui.app import Sam2TuiApp
from sam2tui.tui.controller import AnnotationController
from sam2tui.tui.widgets.frame_canvas import FrameCanvas
from sam2tui.values import ReviewThresholds
from sam2tui.video import VideoSource
from tests.scripted_tracker import ScriptedTracker

CLIP_SIZE = (160, 120)  # width, height
CLIP_FRAMES = 20


def clip_frame(index: int, size: tuple[int, int] = CLIP_SIZE) -> np.ndarray:
    """A blue-grey gradient with an orange square moving right by 2 px per frame."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    rgb = np.stack([40 + xs * 60 // width, 60 + ys * 80 // height, 120 + 0 * xs], axis=-1).astype(np.uint8)
    x0 = 30 + 2 * index
    rgb[40:80, x0 : x0 + 30] = (230, 140, 20)
    return rgb


def write_clip_folder(folder: Path, count: int = CLIP_FRAMES, size: tuple[int, int] = CLIP_SIZE) -> Path:
    """The clip as lossless PNGs (00000.png, ...): every run decodes the same pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(clip_frame(index, size)).save(folder / f"{index:05d}.png")
    return folder


@dataclass
class EngineRig:
    video: VideoSource
    store: SessionStore
    tracker: ScriptedTracker
    worker: EngineWorker
    controller: AnnotationController
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    seen: list[Event] = field(default_factory=list)

    def drain(self, timeout: float = 10.0) -> list[Event]:
        """Apply engine events to the controller until the worker is idle; return them."""
        got: list[Event] = []
        while True:
            event = self.events.get(timeout=timeout)
            self.controller.apply(event)
            got.append(event)
            if isinstance(event, Idle) and not self.worker.busy and self.events.empty():
                break
        self.seen += got
        return got

    def close(self) -> None:
        self.worker.stop(10)
        self.store.close()
        self.video.close()


def engine_rig(
    folder: Path, session: Path, tracker: ScriptedTracker, **controller_options: object
) -> EngineRig:
    video = VideoSource.open(folder)
    store = SessionStore.open(session, video.fingerprint())
    events: queue.Queue[Event] = queue.Queue()
    worker = EngineWorker(lambda spec, progress: tracker, store, events.put)
    controller = AnnotationController(
        store, History(store), len(video), worker, thresholds=ReviewThresholds(), **controller_options
    )
    rig = EngineRig(video, store, tracker, worker, controller, events)
    worker.start()
    worker.submit(OpenVideo(folder))
    worker.submit(LoadModel(ModelSpec()))
    rig.drain()
    return rig


@dataclass
class AppRig:
    """An app on the test clip with a scripted tracker (the caller runs it with `run_test`)."""

    app: Sam2TuiApp
    tracker: ScriptedTracker
    video: VideoSource
    store: SessionStore

    def close(self) -> None:
        self.app.engine.stop(10)
        self.store.close()
        self.video.close()


WIDE_CLIP = (160, 80)  # 2:1, so the 4:3-ish canvas has letterbox rows above and below the picture


def app_rig(tmp_path: Path, tracker: ScriptedTracker | None = None, **app_options: Any) -> AppRig:
    folder = tmp_path / "clip"
    if not folder.exists():
        write_clip_folder(folder, size=WIDE_CLIP)
    video = VideoSource.open(folder)
    store = SessionStore.open(tmp_path / "clip.sam2tui", video.fingerprint())
    tracker = tracker or ScriptedTracker()
    app = Sam2TuiApp(video, store, tracker_factory=lambda spec, progress: tracker, **app_options)
    return AppRig(app, tracker, video, store)


async def settle(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.02)


async def idle(pilot: Pilot[Any], rig: AppRig) -> None:
    """Wait until the engine has run everything and the UI has taken in its events."""
    await settle(pilot, lambda: not rig.app.engine.busy and not rig.app.controller.busy)
    await pilot.pause(0.05)
    await settle(pilot, lambda: not rig.app.engine.busy and not rig.app.controller.busy)


async def ready(pilot: Pilot[Any], rig: AppRig) -> FrameCanvas:
    """Wait until the model is loaded and the canvas shows frame 0; return the canvas."""
    canvas = rig.app.annotate.canvas
    await settle(pilot, lambda: canvas.frame_index == 0 and rig.app.controller.model.ready)
    return canvas


async def click_object(pilot: Pilot[Any], rig: AppRig, offset: tuple[int, int] = (30, 12)) -> FrameCanvas:
    """Once ready, a left click on the canvas (object 1's first point), taken in by engine and UI."""
    canvas = await ready(pilot, rig)
    await pilot.click(canvas, offset=offset)
    await idle(pilot, rig)
    return canvas


def screen_text(app: Sam2TuiApp) -> str:
    """The screen as plain text (what a terminal would show, without colours)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
