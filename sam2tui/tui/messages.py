"""Messages that cross widgets and threads in the annotation UI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.message import Message

from sam2tui.engine.tracker import Event


@dataclass
class EngineEvent(Message):
    """An event of the engine worker, posted from its thread (post_message is thread-safe)."""

    event: Event


@dataclass
class FrameReady(Message):
    """A frame decoded off the UI thread."""

    index: int
    image: np.ndarray


@dataclass
class SeekRequested(Message):
    """The user picked a frame (a click on the timeline)."""

    frame: int
    obj_id: int | None = None


@dataclass
class ObjectPicked(Message):
    """The user picked an object (a click in the objects panel or on a timeline lane)."""

    obj_id: int
    rename: bool = False  # and asked to rename it (a double click in the objects panel)
