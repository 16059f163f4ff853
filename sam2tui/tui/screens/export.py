"""`e`: choose formats, frames, objects and a folder; the export runs in a thread with a progress bar.

The dialog shows how many (frame, object) pairs of the choice are in each label state before writing, and
exports stale frames only when its checkbox asks for them (docs/formats.md, "What is written")."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Static

from sam2tui.errors import Sam2TuiError
from sam2tui.export import FORMATS, ExportOptions, export_to_folder
from sam2tui.export._selection import chosen_counts
from sam2tui.session.states import label_states
from sam2tui.session.store import SessionStore
from sam2tui.values import LabelState, TrackedObject
from sam2tui.video import VideoSource

PROGRESS_INTERVAL = 0.1  # seconds between progress updates sent to the UI thread


@dataclass(frozen=True)
class ExportRequest:
    formats: tuple[str, ...]
    folder: Path
    options: ExportOptions


def default_export_folder(video_path: Path) -> Path:
    """`<video stem>_export/` beside the video (or frame folder)."""
    return video_path.parent / f"{video_path.stem}_export"


@dataclass(frozen=True)
class ExportDone:
    folder: Path
    written: list[Path]
    stale: int = 0  # stale frames written (on request)


class ExportScreen(ModalScreen[ExportDone | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", id="export.close")]

    def __init__(
        self, store: SessionStore, video: VideoSource, objects: Sequence[TrackedObject], folder: Path
    ) -> None:
        super().__init__()
        self.store = store
        self.video = video
        self.objects = list(objects)
        self.folder = folder
        self.running = False
        self._last_progress = 0.0
        self.states = label_states(store, len(video))  # for the counts; the export reads the session anew

    def compose(self) -> ComposeResult:
        last = len(self.video) - 1
        with Vertical(id="export-dialog", classes="dialog"):
            yield Static("Export", classes="title")
            yield Label("Formats")
            with Horizontal(classes="choices"):
                for fmt in FORMATS:
                    yield Checkbox(fmt, fmt == "coco", id=f"format-{fmt}", compact=True)
            yield Label("Frames (first, last, every k-th)")
            with Horizontal(classes="frames"):
                yield Input("0", id="frame-first", type="integer", compact=True)
                yield Input(str(last), id="frame-last", type="integer", compact=True)
                yield Input("1", id="frame-every", type="integer", compact=True)
            yield Label("Objects")
            with VerticalScroll(classes="choices objects"):
                for obj in self.objects:
                    yield Checkbox(
                        f"{obj.obj_id} {obj.name} ({obj.class_name})",
                        True,
                        id=f"object-{obj.obj_id}",
                        compact=True,
                    )
            with Horizontal(classes="states"):
                yield Static("", id="export-counts")
                yield Checkbox("include stale frames", False, id="include-stale", compact=True)
            yield Label("Folder")
            yield Input(str(self.folder), id="export-folder", compact=True)
            yield ProgressBar(id="export-progress", show_eta=False)
            yield Static("", id="export-status")
            with Horizontal(classes="buttons"):
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#export", Button).focus()
        self.show_counts()

    def on_checkbox_changed(self) -> None:
        self.show_counts()

    def on_input_changed(self) -> None:
        self.show_counts()

    def show_counts(self) -> None:
        """The chosen (frame, object) pairs per label state, and which of them the export writes."""
        try:
            options = self.options()
        except ValueError as error:
            self.query_one("#export-counts", Static).update(str(error))
            return
        counts = chosen_counts(self.states, len(self.video), options)
        stale = counts[LabelState.STALE]
        checkbox = self.query_one("#include-stale", Checkbox)
        checkbox.disabled = not stale
        checkbox.label = (
            f"include {stale} stale frame{'s' if stale != 1 else ''}" if stale else "no stale frames"
        )
        written = "prompted, current, absent" + (", stale" if stale and options.include_stale else "")
        self.query_one("#export-counts", Static).update(
            f"Frames, per object: {counts.describe() or 'none'}\nWrites {written}; skips untracked"
        )

    # ---- the request ----

    def request(self) -> ExportRequest:
        """What the form says; ValueError with a one-line reason when it cannot be exported."""
        formats = tuple(fmt for fmt in FORMATS if self.query_one(f"#format-{fmt}", Checkbox).value)
        if not formats:
            raise ValueError("choose at least one format")
        options = self.options()
        folder = Path(self.query_one("#export-folder", Input).value.strip()).expanduser()
        if not str(folder):
            raise ValueError("name a folder")
        return ExportRequest(formats, folder, options)

    def options(self) -> ExportOptions:
        """The frames, objects and stale choice of the form; ValueError with a one-line reason."""
        try:
            first, last, every = (
                int(self.query_one(f"#frame-{name}", Input).value) for name in ("first", "last", "every")
            )
        except ValueError:
            raise ValueError("frames must be whole numbers") from None
        if not 0 <= first <= last < len(self.video) or every < 1:
            raise ValueError(f"frames must satisfy 0 <= first <= last <= {len(self.video) - 1}, every >= 1")
        chosen = frozenset(
            o.obj_id for o in self.objects if self.query_one(f"#object-{o.obj_id}", Checkbox).value
        )
        if self.objects and not chosen:
            raise ValueError("choose at least one object")
        everything = chosen == {o.obj_id for o in self.objects}
        return ExportOptions(
            frames=range(first, last + 1),
            obj_ids=None if everything else chosen,
            every=every,
            include_stale=self.query_one("#include-stale", Checkbox).value,
        )

    # ---- running ----

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.action_close()
        elif event.button.id == "export":
            self.start()

    def on_input_submitted(self) -> None:
        self.start()

    def start(self) -> None:
        if self.running:
            return
        try:
            request = self.request()
        except ValueError as error:
            self._status(str(error))
            return
        self.running = True
        self.query_one("#export-dialog").add_class("-running")
        self.query_one("#export", Button).disabled = True
        self._status(f"exporting to {request.folder} ...")
        self.export(request)

    @work(thread=True, exclusive=True, group="export")
    def export(self, request: ExportRequest) -> None:
        try:
            exported = export_to_folder(
                self.store,
                request.formats,
                request.folder,
                video=self.video,
                options=request.options,
                progress=self._report,
            )
        except (Sam2TuiError, OSError) as error:
            self.app.call_from_thread(self._failed, str(error))
            return
        written = [path for done in exported for path in done.paths]
        stale = exported[0].stale if exported else 0
        self.app.call_from_thread(self.dismiss, ExportDone(request.folder, written, stale))

    def _report(self, fmt: str, done: int, total: int) -> None:
        """Called on the export thread; forwards at most every PROGRESS_INTERVAL seconds (and the last)."""
        now = time.monotonic()
        if done < total and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self.app.call_from_thread(self._show_progress, fmt, done, total)

    def _show_progress(self, fmt: str, done: int, total: int) -> None:
        self.query_one("#export-progress", ProgressBar).update(total=total, progress=done)
        self._status(f"{fmt}: {done}/{total} frames")

    def _failed(self, message: str) -> None:
        self.running = False
        self.query_one("#export-dialog").remove_class("-running")
        self.query_one("#export", Button).disabled = False
        self._status(f"export failed: {message}")

    def _status(self, text: str) -> None:
        self.query_one("#export-status", Static).update(text)

    def action_close(self) -> None:
        if self.running:
            self._status("the export is running; it will close when it is done")
            return
        self.dismiss(None)
