"""Swap and merge: pick the other object from a list (arrows and enter, its number, or a click)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from sam2tui.values import TrackedObject


class PickObjectScreen(ModalScreen[int | None]):
    """Answers the picked object's id (None: cancelled)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="pick_object.cancel")
    ]

    def __init__(self, title: str, objects: Sequence[TrackedObject]) -> None:
        super().__init__()
        self.title_text = title
        self.objects = list(objects)

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-object-dialog", classes="dialog"):
            yield Static(self.title_text, classes="title")
            yield OptionList(
                *(
                    Option(f"{obj.obj_id:>2}  {obj.name}  ({obj.class_name})", id=str(obj.obj_id))
                    for obj in self.objects
                ),
                id="pick-object",
            )
            yield Static("enter or its number picks, escape cancels", classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None
        self.dismiss(int(event.option.id))

    def on_key(self, event: events.Key) -> None:
        """A digit picks the object of that number at once (as 1-9 select on the main screen)."""
        if event.character is not None and event.character.isdigit():
            picked = int(event.character)
            if any(obj.obj_id == picked for obj in self.objects):
                event.stop()
                self.dismiss(picked)
