"""`g`: type a frame number and go there."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, Static


class GotoFrameScreen(ModalScreen[int | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", id="goto.cancel")]

    def __init__(self, current: int, frame_count: int) -> None:
        super().__init__()
        self.current = current
        self.frame_count = frame_count

    def compose(self) -> ComposeResult:
        with Vertical(id="goto-dialog", classes="dialog"):
            yield Static(f"Go to frame (0-{self.frame_count - 1})", classes="title")
            yield Input(
                str(self.current),
                id="goto-frame",
                type="integer",
                validators=[Integer(0, self.frame_count - 1)],
                validate_on=["submitted"],
            )
            yield Static("enter goes, escape cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.validation_result is not None and not event.validation_result.is_valid:
            self.query_one(".hint", Static).update(f"[b]a frame number from 0 to {self.frame_count - 1}[/b]")
            return
        self.dismiss(int(event.value))
