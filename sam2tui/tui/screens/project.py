"""`sam2tui DIR`: the project's clips, one row each, with their sessions' counts; Enter opens a clip.

The rows are read on a worker thread (a snapshot of each clip's session, `session.project.summarize_clip`),
row by row as they come, so a project of many clips shows at once and fills in; they are read again each
time the screen comes back (a clip closed, an export from another shell).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sam2tui.errors import InputError
from sam2tui.session.project import ClipSummary, load_settings, summarize_clip

if TYPE_CHECKING:
    from sam2tui.tui.app import Sam2TuiApp

COLUMNS = ("clip", "frames", "objects", "labelled", "stale", "flagged", "absent", "model", "exported")


def model_cell(models: dict[str, int]) -> str:
    """The models of a clip's masks, most used first: "sam2.1-large, sam2.1-tiny"; "-" for none."""
    named = sorted(models.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(name or "unrecorded" for name, _ in named) or "-"


def row(summary: ClipSummary) -> tuple[str, ...]:
    exported = summary.exported.replace("T", " ")[:16] if summary.exported else "never"
    if not summary.started:
        return (summary.name, "not started", "", "", "", "", "", "", exported)
    if summary.error:
        return (summary.name, "cannot read", "", "", "", "", "", summary.error, exported)
    counts = (
        summary.frames,
        summary.objects,
        summary.labelled,
        summary.stale,
        summary.flagged,
        summary.absent,
    )
    return (summary.name, *map(str, counts), model_cell(summary.models), exported)


class ProjectScreen(Screen[None]):
    DEFAULT_CSS = """
    ProjectScreen #project-title { height: 1; padding: 0 1; text-style: bold; }
    ProjectScreen #clips { height: 1fr; }
    """
    # Enter is the table's own: it selects the row (on_data_table_row_selected opens it).
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f5", "refresh_rows", "Refresh", id="project.refresh")]

    def __init__(self, folder: Path, clips: Sequence[Path]) -> None:
        super().__init__()
        self.folder = folder
        self.clips = list(clips)
        self.summaries: dict[str, ClipSummary] = {}

    def compose(self) -> ComposeResult:
        yield Static(f"project {self.folder} - {len(self.clips)} clips", id="project-title")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="clips")
        yield Footer()

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#clips", DataTable)

    def on_mount(self) -> None:
        table = self.table
        table.add_columns(*COLUMNS)
        for clip in self.clips:
            table.add_row(clip.name, "...", *[""] * (len(COLUMNS) - 2), key=clip.name)
        table.focus()

    def on_screen_resume(self) -> None:
        self.action_refresh_rows()

    def select(self, index: int) -> None:
        """Put the cursor on clip `index` (the clip the user comes back from)."""
        self.table.move_cursor(row=index)

    def action_refresh_rows(self) -> None:
        self._read_rows()

    @work(thread=True, exclusive=True, group="project-rows")
    def _read_rows(self) -> None:
        try:
            exported = load_settings(self.folder).exported
        except InputError:  # damaged since the app started: the rows still show, without the note
            exported = {}
        for clip in self.clips:
            summary = summarize_clip(clip, exported.get(clip.name, ""))
            self.app.call_from_thread(self._show, summary)

    def _show(self, summary: ClipSummary) -> None:
        self.summaries[summary.name] = summary
        table = self.table
        for column, value in zip(table.columns, row(summary), strict=True):
            table.update_cell(summary.name, column, value, update_width=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._open(event.cursor_row)

    def _open(self, index: int) -> None:
        app: Sam2TuiApp = self.app  # type: ignore[assignment]
        app.open_clip(index)
