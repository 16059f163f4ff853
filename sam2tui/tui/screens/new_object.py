"""`n`: name and class of a new object (the previous object's class is the default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


@dataclass(frozen=True)
class NewObject:
    name: str  # "" = the default "object N"
    class_name: str


class NewObjectScreen(ModalScreen[NewObject | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="new_object.cancel")
    ]

    def __init__(self, class_name: str) -> None:
        super().__init__()
        self.class_name = class_name

    def compose(self) -> ComposeResult:
        with Vertical(id="new-object-dialog", classes="dialog"):
            yield Static("New object", classes="title")
            yield Label("Name")
            yield Input(placeholder='empty: "object <id>"', id="object-name")
            yield Label("Class")
            yield Input(self.class_name, id="object-class")
            yield Static("enter creates, escape cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "object-name":
            self.query_one("#object-class", Input).focus()
            return
        name = self.query_one("#object-name", Input).value.strip()
        class_name = self.query_one("#object-class", Input).value.strip() or self.class_name
        self.dismiss(NewObject(name, class_name))
