"""`n`, `R` and `C`: the name and class of a new object, or of the selected one.

Enter in either field saves; escape cancels. The class field completes from the session's class list
(→ takes the suggestion) and a class that is not in the list is created deliberately: the first enter says
so, the second creates it (a typo does not become a category silently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Static

HINT = "enter saves, escape cancels; → takes the suggested class"


@dataclass(frozen=True)
class ObjectAnswer:
    name: str  # "" = the default ("object N" for a new object, the old name for a rename)
    class_name: str


class ObjectScreen(ModalScreen[ObjectAnswer | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="new_object.cancel")
    ]

    def __init__(
        self,
        title: str,
        class_name: str,
        classes: Sequence[str],
        *,
        name: str = "",
        name_hint: str = 'empty: "object <id>"',
        edit_class: bool = False,
    ) -> None:
        """`edit_class`: start in the class field (set a class) rather than the name field."""
        super().__init__()
        self.title_text = title
        self.class_name = class_name
        self.classes = list(dict.fromkeys([*classes, class_name]))  # the default is never a surprise
        self.name_value = name
        self.name_hint = name_hint
        self.edit_class = edit_class
        self._confirming = ""  # the new class the user was told about: a second enter creates it

    def compose(self) -> ComposeResult:
        with Vertical(id="new-object-dialog", classes="dialog"):
            yield Static(self.title_text, classes="title")
            yield Label("Name")
            yield Input(self.name_value, placeholder=self.name_hint, id="object-name")
            yield Label("Class")
            yield Input(
                self.class_name,
                id="object-class",
                suggester=SuggestFromList(self.classes, case_sensitive=False),
            )
            yield Static(HINT, id="object-hint", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#object-class" if self.edit_class else "#object-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = self.query_one("#object-name", Input).value.strip()
        typed = self.query_one("#object-class", Input).value.strip() or self.class_name
        known = next((c for c in self.classes if c.casefold() == typed.casefold()), None)
        if known is None and typed != self._confirming:
            self._confirming = typed
            self.query_one("#object-hint", Static).update(
                Text(f"{typed!r} is not in the class list: enter again creates the class, escape cancels")
            )
            return
        self.dismiss(ObjectAnswer(name, known or typed))
