"""`?`: every key of the annotation screen, generated from its live bindings (keymap overrides included)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from sam2tui.tui.commands import bound_actions

MOUSE = (  # each with the keys that do the same (docs/architecture.md, "Terminal facts": some terminals send no mouse reports)
    ("left click", "point with the current label (t flips it); keys: v, move, enter"),
    ("right click", "negative point; keys: v, move, backspace"),
    ("left drag", "box; keys: v, B at one corner, move, B at the other"),
    ("wheel", "zoom about the pointer; keys: + and - (about the crosshair while v is on)"),
    ("click on timeline", "go to that frame (and pick the lane's object); keys: arrows, g, ] and }"),
    ("click on object", "select it; keys: 1-9"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close help", id="help.close")
    ]

    def __init__(self, of: Screen[Any]) -> None:
        super().__init__()
        self.of = of

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(
                "Keys  [dim](settings.toml \\[keys] remaps them by binding id)[/dim]", classes="title"
            )
            table: DataTable[str] = DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("Key", "Action", "Binding id")
            rows = sorted(
                bound_actions(self.of, every=True), key=lambda row: (row.group != "annotate", row.group)
            )
            for row in rows:
                table.add_row(row.key_text, row.detail, row.binding_id or "")
            for gesture, meaning in MOUSE:
                table.add_row(gesture, meaning, "mouse")
            yield table
            yield Static("escape closes", classes="hint")
