"""`A`: mark the selected object absent from this frame on: up to its next prompt, or a number of frames."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Input, Static


class AbsentRangeScreen(ModalScreen[int | None]):
    """Answers how many frames, the current one included (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel", id="absent.cancel")]

    def __init__(self, frame: int, reach: int, most: int) -> None:
        """`reach`: the frames up to the object's next prompt (the default); `most`: up to the video's end."""
        super().__init__()
        self.frame = frame
        self.reach = reach
        self.most = most

    def compose(self) -> ComposeResult:
        with Vertical(id="absent-dialog", classes="dialog"):
            yield Static(f"Absent from frame {self.frame} on: how many frames?", classes="title")
            yield Input(
                str(self.reach),
                id="absent-frames",
                type="integer",
                validators=[Integer(1, self.most)],
                validate_on=["submitted"],
            )
            yield Static(
                f"{self.reach} reaches the object's next prompt; enter marks, escape cancels", classes="hint"
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.validation_result is not None and not event.validation_result.is_valid:
            self.query_one(".hint", Static).update(f"[b]a number of frames from 1 to {self.most}[/b]")
            return
        self.dismiss(int(event.value))
