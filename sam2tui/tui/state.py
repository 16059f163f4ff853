"""What the annotation UI shows, as plain values (no Textual): the controller owns them, widgets read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelStatus:
    """The engine's model: loading (with progress), ready on a device, or failed."""

    ready: bool = False
    message: str = "starting engine"
    fraction: float | None = None
    device: str = ""
    model: str = ""
    error: str = ""

    def describe(self) -> str:
        if self.error:
            return f"engine failed: {self.error}"
        if self.ready:
            return f"{self.model} ready on {self.device}" if self.model else f"ready on {self.device}"
        if self.fraction is not None:
            return f"{self.message} {self.fraction:.0%}"
        return self.message


@dataclass
class PropagationStatus:
    """The propagation in flight: frames done of total and speed."""

    running: bool = False
    done: int = 0
    total: int = 0
    frames_per_second: float = 0.0
    runs_left: int = 0  # queued Propagate commands not yet finished (a correction may queue two)
    frames_done: int = 0  # frames tracked by the finished passes of this propagation, all counted
    origin: int = 0  # the frame the view returns to when it is done (unless the user moved)
    cancelling: bool = False  # a cancel was asked for

    @property
    def eta_seconds(self) -> float | None:
        if self.frames_per_second <= 0 or self.total <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.frames_per_second)

    def describe(self) -> str:
        text = f"propagating {self.done}/{self.total} frames"
        if self.frames_per_second > 0:
            text += f", {self.frames_per_second:.1f} fps"
        eta = self.eta_seconds
        if eta is not None:
            text += f", ETA {_duration(eta)}"
        return text


@dataclass
class ViewState:
    """Where the user is and what is shown."""

    frame: int = 0
    selected: int | None = None  # object id
    positive: bool = True  # label of left clicks
    show_masks: bool = True
    show_boxes: bool = True
    show_points: bool = True
    playing: bool = False
    follow_propagation: bool = True  # the view shows frames as propagation delivers them
    pointer: tuple[int, int] | None = None  # video pixel under the mouse (or the keyboard pointer)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
