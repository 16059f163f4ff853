"""Two lines under the timeline: where you are, what a click does and why this frame is flagged; then the
model, which models made this frame's masks, the renderer, how many frames are stale and the latest notice
(a pending correction, why a key was refused, ...)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

from sam2tui.values import FrameResult


@dataclass(frozen=True)
class StatusInfo:
    frame: int
    frame_count: int
    selected: str  # "2: person" or "no object"
    positive: bool
    renderer: str  # "halfblock 24-bit"
    model: str  # "loading 40%" / "sam2.1-tiny ready on cpu"
    pointer: tuple[int, int] | None
    flag: str = ""  # why the frame is flagged, for the selected object (or another)
    hint: str = ""  # the latest notice and the pending correction
    stale: int = 0  # (frame, object) pairs tracked from prompts that changed since
    labels: str = ""  # which models made this frame's masks (`frame_models`)


def frame_models(results: Iterable[FrameResult]) -> str:
    """Which models made a frame's masks: "masks by sam2.1-large" ("" when it has none); a mask stored
    before sessions recorded models is "unrecorded"."""
    models = sorted({r.model or "unrecorded" for r in results if not r.is_empty})
    return f"masks by {', '.join(models)}" if models else ""


class StatusBar(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"status-bar--key", "status-bar--flag", "status-bar--dim"}
    DEFAULT_CSS = "StatusBar { height: 2; text-wrap: nowrap; text-overflow: ellipsis; }"

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.info: StatusInfo | None = None

    def show(self, info: StatusInfo) -> None:
        if info != self.info:
            self.info = info
            self.refresh()

    def render(self) -> Text:
        info = self.info
        if info is None:
            return Text("")
        key = self.get_component_rich_style("status-bar--key")
        dim = self.get_component_rich_style("status-bar--dim")
        flag = self.get_component_rich_style("status-bar--flag")
        sep = (" │ ", dim)
        label = ("+ positive", "") if info.positive else ("- negative", "bold")
        pointer = f"x {info.pointer[0]} y {info.pointer[1]}" if info.pointer else "x - y -"
        first = Text.assemble(
            ("frame ", dim),
            (f"{info.frame}/{info.frame_count - 1}", key),
            sep,
            (info.selected, key),
            sep,
            label,
            sep,
            (pointer, dim),
        )
        if info.flag:
            first.append_text(Text.assemble(sep, (f"⚑ {info.flag}", flag)))
        second = Text.assemble((info.model, ""), sep, (info.renderer, ""))
        if info.stale:
            second.append_text(Text.assemble(sep, (f"{info.stale} stale", flag)))
        if info.hint:
            second.append_text(Text.assemble(sep, (info.hint, "")))
        if info.labels:  # last: the notices matter more where the line is short
            second.append_text(Text.assemble(sep, (info.labels, dim)))
        return Text("\n", no_wrap=True, overflow="ellipsis").join([first, second])
