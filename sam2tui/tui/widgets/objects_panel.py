"""The list of objects beside the frame: id, colour swatch, name, class, hidden/locked/solo marks; the selected
one highlighted."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget

from sam2tui.tui.messages import ObjectPicked
from sam2tui.values import TrackedObject

GLYPHS = {"hidden": "◌", "locked": "⊘", "solo": "◉"}
"""The marks after an object's row: its overlay hidden, the object locked, it alone shown."""


def _marks(obj_id: int, hidden: Collection[int], locked: Collection[int], solo: int | None) -> str:
    states = [("hidden", obj_id in hidden), ("locked", obj_id in locked), ("solo", obj_id == solo)]
    return "".join(GLYPHS[state] for state, on in states if on)


class ObjectsPanel(Widget):
    """Not focusable: it never takes keys from the canvas. A click picks an object, a double click renames it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"objects-panel--selected", "objects-panel--hint"}
    # One line per object, however long its name: a click's row is the object's index. (The hint wraps.)
    DEFAULT_CSS = "ObjectsPanel.-listing { text-wrap: nowrap; text-overflow: ellipsis; }"

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._objects: list[TrackedObject] = []
        self._selected: int | None = None
        self._marks: dict[int, str] = {}
        self.border_title = "Objects"

    def show(
        self,
        objects: Sequence[TrackedObject],
        selected: int | None,
        *,
        hidden: Collection[int] = (),
        locked: Collection[int] = (),
        solo: int | None = None,
    ) -> None:
        """List `objects`; each row ends with a glyph per state: hidden, locked, solo (see GLYPHS)."""
        objects = list(objects)
        marks = {obj.obj_id: _marks(obj.obj_id, hidden, locked, solo) for obj in objects}
        if objects != self._objects or selected != self._selected or marks != self._marks:
            self._objects, self._selected, self._marks = objects, selected, marks
            self.set_class(bool(objects), "-listing")
            self.refresh()

    def render(self) -> Text:
        if not self._objects:
            hint = self.get_component_rich_style("objects-panel--hint")
            return Text("click on the frame (or press v, then enter) to add object 1, or press n", style=hint)
        selected_style = self.get_component_rich_style("objects-panel--selected")
        text = Text(no_wrap=True, overflow="ellipsis")
        for obj in self._objects:
            chosen = obj.obj_id == self._selected
            line = Text(no_wrap=True, overflow="ellipsis", style=selected_style if chosen else "")
            line.append("▶" if chosen else " ")
            line.append(f"{obj.obj_id:>2} ")
            line.append("██", Style(color="#{:02x}{:02x}{:02x}".format(*obj.color)))
            if self._marks.get(obj.obj_id):  # before the name: a long name's ellipsis never hides it
                line.append(f" {self._marks[obj.obj_id]}")
            line.append(f" {obj.name}")
            line.append(f"  {obj.class_name}", Style(dim=True))
            text.append_text(line)
            text.append("\n")
        text.rstrip()
        return text

    def on_click(self, event: events.Click) -> None:
        event.stop()
        offset = event.get_content_offset(self)
        if offset is not None and 0 <= offset.y < len(self._objects):
            self.post_message(ObjectPicked(self._objects[offset.y].obj_id, rename=event.chain >= 2))
