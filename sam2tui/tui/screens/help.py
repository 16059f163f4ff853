"""`?`: every key of the annotation screen, generated from its live bindings (keymap overrides included),
the mouse gestures, and a legend of the timeline's lane marks."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static

from sam2tui.session.review import FrameState
from sam2tui.tui.commands import bound_actions
from sam2tui.tui.widgets.timeline import ABSENT_GLYPH, CURSOR_GLYPH, GLYPHS, PROMPT_GLYPH, STALE_GLYPH

MOUSE = (  # each with the keys that do the same (docs/architecture.md, "Terminal facts": some terminals send no mouse reports)
    ("left click", "point with the current label (t flips it); keys: v, move, enter"),
    ("right click", "negative point; keys: v, move, backspace"),
    ("left drag", "box; keys: v, B at one corner, move, B at the other"),
    (
        "point-edit click, drag",
        "delete the point / move it (D toggles the mode); keys: v, d / enter, move, enter",
    ),
    ("brush or eraser drag", "paint / erase the object's mask (w, W toggle); keys: v, move, enter"),
    ("wheel", "zoom about the pointer; keys: + and - (about the crosshair while v is on)"),
    ("click on timeline", "go to that frame (and pick the lane's object); keys: arrows, g, ] and }"),
    ("click on object", "select it; keys: 1-9"),
    ("double click on object", "rename it or change its class; keys: R, C"),
)

LANE_MARKS = (  # every mark a timeline lane draws (widgets/timeline.py), and the ruler's cursor
    (PROMPT_GLYPH, "prompted: the object has clicks, a box or a mask on this frame (its label)"),
    (ABSENT_GLYPH, "absent: you said the object is not on this frame (a and A)"),
    (GLYPHS[FrameState.PRESENT], "tracked: the object is there (in its colour)"),
    (
        GLYPHS[FrameState.DOUBTFUL],
        "doubtful: low score, a jump in size or shape, or scattered parts (] visits)",
    ),
    (GLYPHS[FrameState.LOST], "lost: tracked, but the model says the object is gone (] visits)"),
    (STALE_GLYPH, "stale: tracked from prompts that changed since (r re-tracks it)"),
    (GLYPHS[FrameState.UNTRACKED], "untracked: nothing yet (p propagates)"),
    (CURSOR_GLYPH, "the current frame (on the ruler above the lanes)"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close help", id="help.close"),
        # Over the table's own home/end, which scroll sideways and hide the keys column.
        Binding("home", "to_row(0)", "First row", id="help.first", show=False, priority=True),
        Binding("end", "to_row(-1)", "Last row", id="help.last", show=False, priority=True),
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
            for mark, meaning in LANE_MARKS:
                table.add_row(mark, meaning, "lane mark")
            yield table
            yield Static("escape closes; home and end go to the first and last row", classes="hint")

    def action_to_row(self, row: int) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        table.move_cursor(row=row % max(1, table.row_count), column=0)
        table.scroll_to(x=0, animate=False)
