"""The main screen: frame canvas, timeline, objects, status, progress and footer; its keys are the app's verbs.

The screen turns keys, clicks and engine events (posted to it by the app's engine worker) into controller
calls and redraws what changed. It keeps no annotation state of its own (that is the controller's, the one
writer of it), only what it last drew and the playback clock. Frames are decoded on a
thread worker (only the newest request is decoded) while the canvas keeps showing the last frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

import numpy as np
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, ProgressBar, Static

from sam2tui.errors import VideoError
from sam2tui.session.store import SessionStore
from sam2tui.tui.compose import FILL_ALPHA, BoxLayer, MaskLayer, Overlay, PointLayer
from sam2tui.tui.controller import AnnotationController, Change, Layer, Tool, Zoom
from sam2tui.tui.messages import EngineEvent, FrameReady, ObjectPicked, SeekRequested
from sam2tui.tui.screens.absent import AbsentRangeScreen
from sam2tui.tui.screens.confirm import ConfirmScreen
from sam2tui.tui.screens.export import ExportDone, ExportScreen, default_export_folder
from sam2tui.tui.screens.goto_frame import GotoFrameScreen
from sam2tui.tui.screens.new_object import ObjectAnswer, ObjectScreen
from sam2tui.tui.screens.pick_object import PickObjectScreen
from sam2tui.tui.termcaps import TermCaps
from sam2tui.tui.widgets.frame_canvas import FrameCanvas, make_canvas
from sam2tui.tui.widgets.objects_panel import ObjectsPanel
from sam2tui.tui.widgets.status_bar import StatusBar, StatusInfo, frame_models
from sam2tui.tui.widgets.timeline import LaneData, Timeline
from sam2tui.values import POSITIVE, Box, BoxCorners, Direction, PromptKind
from sam2tui.video import VideoSource

MIN_SIZE = (80, 24)
REFRESH_INTERVAL = 0.1  # seconds between timeline/status redraws while results stream in
COLOR_DEPTHS = {
    "truecolor": "24-bit",
    "256": "256 colours",
    "standard": "16 colours",
    "windows": "16 colours",
}


def _corners(box: Box) -> BoxCorners:
    """A result's (x, y, w, h) box as the corners a BoxLayer draws."""
    x, y, w, h = box
    return (x, y, x + w, y + h)


def _bind(keys: str, action: str, name: str, short: str, long: str = "", show: bool = False) -> Binding:
    """A binding of the annotation screen: id "annotate.<name>" (settings.toml [keys] remaps it), a short
    description for the footer and the palette, and the long one (tooltip) for help."""
    return Binding(keys, action, short, show=show, id=f"annotate.{name}", tooltip=long or short)


class AnnotateScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        _bind("left,h", "step(-1)", "previous-frame", "Previous frame"),
        _bind("right,l", "step(1)", "next-frame", "Next frame"),
        _bind("H,pageup", "step(-10)", "back-10", "Back 10", "Back 10 frames"),
        _bind("L,pagedown", "step(10)", "forward-10", "Forward 10", "Forward 10 frames"),
        _bind("home", "seek_end(False)", "first-frame", "First frame"),
        _bind("end", "seek_end(True)", "last-frame", "Last frame"),
        _bind("g", "goto_frame", "goto-frame", "Go to", "Go to a frame number"),
        _bind("space", "play", "play", "Play", "Play / pause at the video's frame rate"),
        _bind("t", "toggle_label", "toggle-label", "+/-", "Flip the label of left clicks", show=True),
        *(
            _bind(str(n), f"select_object({n})", f"select-{n}", f"Object {n}", f"Select object {n}")
            for n in range(1, 10)
        ),
        _bind("n", "new_object", "new-object", "New", "New object (asks its name and class)", show=True),
        _bind(
            "c",
            "clear_prompts",
            "clear-prompts",
            "Clear",
            "Clear the selected object's prompts on this frame",
        ),
        _bind("x", "remove_object", "remove-object", "Remove", "Remove the selected object (asks first)"),
        _bind(
            "R",
            "rename_object",
            "rename_object",
            "Rename",
            "Rename the selected object, or change its class (also: double-click it in the objects list)",
        ),
        _bind(
            "C", "set_class", "set_class", "Class", "Set the selected object's class (from the class list)"
        ),
        _bind("a", "mark_absent", "mark_absent", "Absent", "Mark the selected object absent on this frame"),
        _bind(
            "A",
            "mark_absent_range",
            "mark_absent_range",
            "Absent from here",
            "Mark the selected object absent from this frame on: up to its next prompt, or N frames",
        ),
        _bind(
            "p",
            "propagate",
            "propagate",
            "Propagate",
            "Propagate both ways from this frame (frames already current are skipped)",
            show=True,
        ),
        _bind(
            "P",
            "propagate_everything",
            "propagate-everything",
            "Propagate all",
            "Propagate both ways from this frame, tracking current frames again too",
        ),
        _bind(
            "f",
            "propagate_window(True)",
            "propagate-forward",
            "Next N",
            "Propagate the next N frames",
        ),
        _bind(
            "F",
            "propagate_window(False)",
            "propagate-backward",
            "Previous N",
            "Propagate the previous N frames",
        ),
        _bind(
            "r", "repropagate", "repropagate", "Re-propagate", "Re-propagate the span the corrections affect"
        ),
        _bind("escape", "cancel", "cancel", "Cancel", "Cancel propagation (finished frames are kept)"),
        _bind(
            "]",
            "next_flagged_frame(True)",
            "next_flagged_frame",
            "Next flag",
            "Next stale/lost/doubtful frame of the object (frame by frame inside a run too)",
            show=True,
        ),
        _bind(
            "[",
            "next_flagged_frame(False)",
            "prev_flagged_frame",
            "Prev flag",
            "Previous stale/lost/doubtful frame of the object (frame by frame inside a run too)",
        ),
        _bind(
            ")",
            "next_flag(True, False)",
            "next_flagged_run",
            "Next flagged run",
            "First frame of the object's next run of stale/lost/doubtful frames",
        ),
        _bind(
            "(",
            "next_flag(False, False)",
            "prev_flagged_run",
            "Prev flagged run",
            "First frame of the object's previous run of stale/lost/doubtful frames",
        ),
        _bind(
            "}",
            "next_flag(True, True)",
            "next-flag-any",
            "Next flag (all)",
            "First frame of the next stale/lost/doubtful run, any object",
        ),
        _bind(
            "{",
            "next_flag(False, True)",
            "previous-flag-any",
            "Prev flag (all)",
            "First frame of the previous stale/lost/doubtful run, any object",
        ),
        _bind("u,ctrl+z", "undo", "undo", "Undo", show=True),
        _bind("ctrl+r,ctrl+y", "redo", "redo", "Redo"),
        _bind("e", "export", "export", "Export", "Export (COCO, MOT, YOLO, DAVIS, YouTube-VIS)", show=True),
        _bind("o", "hide_object", "hide_object", "Hide", "Hide / show the selected object's overlay"),
        _bind(
            "O", "solo_object", "solo_object", "Solo", "Show only the selected object's overlay / all again"
        ),
        _bind(
            "ctrl+l",
            "lock_object",
            "lock_object",
            "Lock",
            "Lock / unlock the selected object: no edits, and propagation keeps its masks",
        ),
        _bind(
            "S",
            "swap_objects",
            "swap_objects",
            "Swap",
            "Swap the selected object's identity with another's from this frame on",
        ),
        _bind("M", "merge_objects", "merge_objects", "Merge", "Merge the selected object into another"),
        _bind(
            "Y",
            "split_object",
            "split_object",
            "Split",
            "Split the selected object here: this frame and later become a new object",
        ),
        _bind("m", "toggle_layer('masks')", "toggle-masks", "Masks", "Show / hide masks"),
        _bind("b", "toggle_layer('boxes')", "toggle-boxes", "Boxes", "Show / hide boxes"),
        _bind(".", "toggle_layer('points')", "toggle-points", "Points", "Show / hide prompt points"),
        # Point editing and painting (docs/guide.md, "Editing points, painting masks").
        _bind(
            "d",
            "delete_point",
            "delete_point",
            "Delete point",
            "Delete the selected object's point nearest the pointer on this frame (mouse or keyboard pointer)",
        ),
        _bind(
            "D",
            "toggle_tool('points')",
            "move_point",
            "Edit points",
            "Point-edit mode on/off: click a point to delete it, drag it to move it",
        ),
        _bind(
            "w",
            "toggle_tool('brush')",
            "brush",
            "Brush",
            "Brush mode on/off: drag (or enter at the keyboard pointer) adds to the object's mask here",
        ),
        _bind(
            "W",
            "toggle_tool('eraser')",
            "eraser",
            "Eraser",
            "Eraser mode on/off: drag (or enter at the keyboard pointer) removes from the object's mask here",
        ),
        _bind("greater_than_sign", "resize_brush(True)", "brush_larger", "Brush +", "Larger brush"),
        _bind("less_than_sign", "resize_brush(False)", "brush_smaller", "Brush -", "Smaller brush"),
    ]

    def __init__(
        self,
        controller: AnnotationController,
        video: VideoSource,
        store: SessionStore,
        render: str,
        caps: TermCaps | None = None,
        mask_opacity: float = FILL_ALPHA,
    ) -> None:
        super().__init__(id="annotate")
        self.controller = controller
        self.video = video
        self.store = store
        self.render_mode = render
        self.caps = caps
        self.mask_opacity = mask_opacity  # of mask fills (settings.toml `mask_opacity`)
        self._image: tuple[int, np.ndarray] | None = None  # the newest decoded frame
        self._shown: tuple[int, object] | None = None  # what the canvas shows: (frame, overlay key)
        self._requested = -1
        self._lanes_dirty = True
        self._busy_shown = False
        self._play_timer: Timer | None = None
        self._play_origin = (0.0, 0)  # (monotonic time, frame) when playing started
        self._zoom_restored = False  # the resumed session's zoom is applied once the canvas has a view

    # ---- layout ----

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="view"):
                yield make_canvas(self.render_mode, self.caps, id="canvas")
                yield Timeline(id="timeline")
            yield ObjectsPanel(id="objects")
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="propagation-bar", show_eta=False)
            yield Static("", id="propagation-text")
        yield StatusBar(id="status")
        yield Footer(compact=True)
        yield Static(
            f"The terminal is too small: sam2tui needs at least {MIN_SIZE[0]}x{MIN_SIZE[1]}.", id="too-small"
        )

    @property
    def canvas(self) -> FrameCanvas:
        return self.query_one("#canvas", FrameCanvas)

    def on_mount(self) -> None:
        self.canvas.focus()
        self.set_interval(REFRESH_INTERVAL, self._flush)
        self.sync()

    def on_resize(self, event: events.Resize) -> None:
        small = event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1]
        self.set_class(small, "-too-small")

    # ---- drawing ----

    def sync(self, change: Change | None = None) -> None:
        """Bring every widget up to date after an action or an event (cheap when nothing changed)."""
        ctl = self.controller
        if change is None or change.lanes:
            self._lanes_dirty = True
        if not ctl.busy:
            self._flush()
        frame = ctl.view.frame
        if frame != self._requested:
            self._requested = frame
            self._load_frame(frame)
        self.canvas.set_tool(ctl.tool, ctl.brush_radius)
        self._draw()
        self.query_one(Timeline).set_frame(frame, ctl.view.selected)
        self.query_one(ObjectsPanel).show(
            ctl.objects(), ctl.view.selected, hidden=ctl.hidden, locked=ctl.locked, solo=ctl.solo
        )

    def _flush(self) -> None:
        """The redraws that may be throttled while a propagation streams results: lanes, status, progress."""
        ctl = self.controller
        if self._lanes_dirty:
            self._lanes_dirty = False
            lanes = [LaneData(obj, ctl.lane(obj.obj_id)) for obj in ctl.objects()]
            self.query_one(Timeline).update_lanes(lanes, ctl.frame_count, ctl.view.frame, ctl.view.selected)
        self._show_progress()
        self.query_one(StatusBar).show(self._status())

    def _show_progress(self) -> None:
        status = self.controller.propagation
        row = self.query_one("#progress-row")
        row.display = status.running
        if status.running:
            self.query_one(ProgressBar).update(total=max(1, status.total), progress=status.done)
            runs = f" (+{status.runs_left - 1} queued)" if status.runs_left > 1 else ""
            self.query_one("#propagation-text", Static).update(f"{status.describe()}{runs}  escape cancels")
        if status.running != self._busy_shown:
            self._busy_shown = status.running
            self.refresh_bindings()

    def _status(self) -> StatusInfo:
        ctl = self.controller
        view = ctl.view
        obj = ctl.selected
        flag = ctl.flag_at(view.frame, obj.obj_id if obj else None) or ctl.flag_at(view.frame)
        flag_text = ""
        if flag is not None:
            flag_text = (
                flag.reason if obj and flag.obj_id == obj.obj_id else f"object {flag.obj_id}: {flag.reason}"
            )
        hints = [text for text in (ctl.notice, ctl.tool_hint(), ctl.pending_hint()) if text]
        depth = COLOR_DEPTHS.get(self.app.console.color_system or "", "no colour")
        return StatusInfo(
            frame=view.frame,
            frame_count=ctl.frame_count,
            selected=f"{obj.obj_id}: {obj.name}" if obj else "no object",
            positive=view.positive,
            renderer=f"{self.canvas.renderer} {depth}",
            model=ctl.model.describe(),
            pointer=view.pointer,
            flag=flag_text,
            hint="  ·  ".join(hints),
            stale=ctl.stale_count(),
            labels=frame_models(ctl.results_on(view.frame)),
        )

    def _overlay(self, frame: int) -> Overlay:
        ctl = self.controller
        view = ctl.view
        colours = {obj.obj_id: obj.color for obj in ctl.objects()}
        results = [r for r in ctl.results_on(frame) if not r.is_empty and ctl.shows(r.obj_id)]
        masks = tuple(
            MaskLayer(r.obj_id, r.rle, colours[r.obj_id], r.obj_id == view.selected) for r in results
        )
        stroke = ctl.stroke  # a stroke in progress shows what is painted so far
        if stroke is not None and stroke.frame == frame and stroke.obj_id in colours:
            painted = MaskLayer(
                stroke.obj_id, stroke.rle, colours[stroke.obj_id], stroke.obj_id == view.selected
            )
            masks = (*(m for m in masks if m.obj_id != stroke.obj_id), painted)
        boxes = [BoxLayer(_corners(r.box), colours[r.obj_id]) for r in results if r.box is not None]
        points = []
        for prompt in ctl.prompts_on(frame):
            if not ctl.shows(prompt.obj_id):
                continue
            if prompt.kind is PromptKind.POINT and prompt.point is not None:
                x, y = prompt.point
                mark = PointLayer(
                    x, y, prompt.label == POSITIVE, colours.get(prompt.obj_id), prompt.obj_id == view.selected
                )
                points.append(mark)
            elif prompt.kind is PromptKind.BOX and prompt.box is not None and prompt.obj_id in colours:
                boxes.append(BoxLayer(prompt.box, colours[prompt.obj_id], dashed=True))
        return Overlay(
            masks=masks,
            boxes=tuple(boxes),
            points=tuple(points),
            show_masks=view.show_masks,
            show_boxes=view.show_boxes,
            show_points=view.show_points,
            mask_alpha=self.mask_opacity,
        )

    def _draw(self) -> None:
        if self._image is None:
            return
        index, image = self._image
        overlay = self._overlay(index)
        key = (index, overlay.version_key())
        if key != self._shown:
            self._shown = key
            self.canvas.show(index, image, overlay)
        if not self._zoom_restored and self.canvas.viewport is not None:
            self._zoom_restored = True
            zoom = self.controller.zoom
            if zoom != Zoom():
                self.canvas.set_view(zoom.factor, zoom.center)

    def note_zoom(self) -> None:
        """Tell the controller what the canvas shows (before quitting: the session keeps it)."""
        view = self.canvas.viewport
        if view is not None:
            self.controller.note_zoom(Zoom(view.zoom, view.center))

    @work(thread=True, group="frame", exit_on_error=False)
    def _load_frame(self, index: int) -> None:
        """Decode off the UI thread. A request already superseded when it starts decodes nothing, so holding
        an arrow key costs one decode at a time, not a queue of them."""
        if index != self._requested:
            return
        try:
            image = self.video.frame(index)
        except VideoError as error:
            self.app.call_from_thread(self.notify, str(error), severity="error")
            return
        self.post_message(FrameReady(index, image))

    def on_frame_ready(self, message: FrameReady) -> None:
        """Show the requested frame; while scrubbing, also any newer decode than what is shown."""
        wanted = self.controller.view.frame
        if message.index == wanted or self._image is None or self._image[0] != wanted:
            self._image = (message.index, message.image)
            self._draw()

    # ---- engine ----

    def on_engine_event(self, message: EngineEvent) -> None:
        self.sync(self.controller.apply(message.event))

    # ---- mouse ----

    @on(FrameCanvas.Clicked)
    def _clicked(self, message: FrameCanvas.Clicked) -> None:
        if message.x is None or message.y is None:
            return  # the letterbox
        if self.controller.tool == "points":
            self.controller.delete_point((message.x, message.y), self.canvas.point_reach)
        else:
            self.controller.click(message.x, message.y, positive=None if message.button == 1 else False)
        self.sync()

    @on(FrameCanvas.PointDragged)
    def _point_dragged(self, message: FrameCanvas.PointDragged) -> None:
        self.controller.move_point(message.start, message.end, self.canvas.point_reach)
        self.sync()

    @on(FrameCanvas.Painted)
    def _painted(self, message: FrameCanvas.Painted) -> None:
        if self.controller.paint(message.x, message.y):
            self._draw()  # the stroke so far; nothing is saved before its end
        else:
            self.sync()  # says why not

    @on(FrameCanvas.StrokeEnded)
    def _stroke_ended(self, message: FrameCanvas.StrokeEnded) -> None:
        self.controller.end_stroke()
        self.sync()

    @on(FrameCanvas.BoxDrawn)
    def _box_drawn(self, message: FrameCanvas.BoxDrawn) -> None:
        self.controller.draw_box(message.box)
        self.sync()

    @on(FrameCanvas.PointerMoved)
    def _pointer_moved(self, message: FrameCanvas.PointerMoved) -> None:
        x, y = message.x, message.y
        self.controller.set_pointer(None if x is None or y is None else (int(x), int(y)))
        self.query_one(StatusBar).show(self._status())

    @on(SeekRequested)
    def _seek_requested(self, message: SeekRequested) -> None:
        if message.obj_id is not None:
            self.controller.select(message.obj_id)
        self.controller.seek(message.frame)
        self.sync()

    @on(ObjectPicked)
    def _object_picked(self, message: ObjectPicked) -> None:
        self.controller.select(message.obj_id)
        self.sync()
        if message.rename:
            self.action_rename_object()

    # ---- actions ----

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel" and not self.controller.busy:
            return None  # listed, but disabled: nothing to cancel
        return True

    def action_step(self, delta: int) -> None:
        self._stop_playing()
        self.controller.step(delta)
        self.sync()

    def action_seek_end(self, last: bool) -> None:
        self._stop_playing()
        self.controller.seek(self.controller.frame_count - 1 if last else 0)
        self.sync()

    def action_goto_frame(self) -> None:
        def go(frame: int | None) -> None:
            if frame is not None:
                self.controller.seek(frame)
                self.sync()

        self.app.push_screen(GotoFrameScreen(self.controller.view.frame, self.controller.frame_count), go)

    def action_play(self) -> None:
        if self._play_timer is not None:
            self._stop_playing()
            return
        ctl = self.controller
        ctl.start_playing()
        fps = self.video.fps if self.video.fps > 0 else 25.0
        self._play_origin = (time.monotonic(), ctl.view.frame)
        self._play_timer = self.set_interval(1 / fps, self._play_tick)
        self.sync()

    def _play_tick(self) -> None:
        """Go to the frame the clock says; frames the drawing could not keep up with are skipped."""
        started, first = self._play_origin
        fps = self.video.fps if self.video.fps > 0 else 25.0
        target = first + int((time.monotonic() - started) * fps)
        ctl = self.controller
        if target >= ctl.frame_count:
            ctl.seek(ctl.frame_count - 1)
            self._stop_playing()
        else:
            ctl.seek(target)
        self.sync()

    def _stop_playing(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
            self.controller.stop_playing()

    def action_toggle_label(self) -> None:
        self.controller.toggle_label()
        self.sync()

    def action_select_object(self, obj_id: int) -> None:
        self.controller.select(obj_id)
        self.sync()

    def action_new_object(self) -> None:
        ctl = self.controller
        if ctl.busy:
            ctl.new_object()  # refuses and says why
            self.sync()
            return

        def create(answer: ObjectAnswer | None) -> None:
            if answer is not None:
                ctl.new_object(answer.name, answer.class_name)
                self.sync()

        self.app.push_screen(ObjectScreen("New object", ctl.last_class, ctl.classes()), create)

    def action_rename_object(self, edit_class: bool = False) -> None:
        ctl = self.controller
        obj = ctl.selected
        if obj is None:
            ctl.rename_object(None)  # says why
            self.sync()
            return

        def rename(answer: ObjectAnswer | None) -> None:
            if answer is not None:
                ctl.rename_object(obj.obj_id, answer.name, answer.class_name)
                self.sync()

        dialog = ObjectScreen(
            f"Object {obj.obj_id}",
            obj.class_name,
            ctl.classes(),
            name=obj.name,
            name_hint="empty: keep the name",
            edit_class=edit_class,
        )
        self.app.push_screen(dialog, rename)

    def action_set_class(self) -> None:
        self.action_rename_object(edit_class=True)

    def action_mark_absent(self) -> None:
        self.controller.mark_absent()
        self.sync()

    def action_mark_absent_range(self) -> None:
        ctl = self.controller
        if ctl.selected is None or ctl.busy:
            ctl.mark_absent()  # refuses and says why
            self.sync()
            return

        def mark(frames: int | None) -> None:
            if frames is not None:
                ctl.mark_absent(frames)
                self.sync()

        here = ctl.view.frame
        self.app.push_screen(AbsentRangeScreen(here, ctl.absent_reach(), ctl.frame_count - here), mark)

    def action_clear_prompts(self) -> None:
        self.controller.clear_frame()
        self.sync()

    def action_remove_object(self) -> None:
        ctl = self.controller
        obj = ctl.selected

        def remove(yes: bool | None) -> None:
            if yes and obj is not None:
                ctl.remove_object(obj.obj_id)
                self.sync()

        if obj is None or ctl.busy:
            ctl.remove_object(obj.obj_id if obj else None)  # refuses and says why
        else:
            question = f"Remove object {obj.obj_id} ({obj.name}) with its masks?"
            self.app.push_screen(ConfirmScreen(question), remove)
        self.sync()

    def action_propagate(self) -> None:
        self._stop_playing()
        self.controller.propagate(Direction.BOTH)
        self.sync()

    def action_propagate_everything(self) -> None:
        self._stop_playing()
        self.controller.propagate(Direction.BOTH, everything=True)
        self.sync()

    def action_propagate_window(self, forward: bool) -> None:
        self._stop_playing()
        self.controller.propagate(Direction.FORWARD if forward else Direction.BACKWARD, window=True)
        self.sync()

    def action_repropagate(self) -> None:
        self.controller.repropagate()
        self.sync()

    def action_cancel(self) -> None:
        self.controller.cancel()
        self.sync()

    def action_next_flagged_frame(self, forward: bool) -> None:
        self._stop_playing()
        self.controller.next_flagged_frame(forward)
        self.sync()

    def action_next_flag(self, forward: bool, all_objects: bool) -> None:
        self._stop_playing()
        self.controller.next_flagged(forward, all_objects)
        self.sync()

    def action_undo(self) -> None:
        self.controller.undo()
        self.sync()

    def action_redo(self) -> None:
        self.controller.redo()
        self.sync()

    def action_toggle_layer(self, layer: Layer) -> None:
        self.controller.toggle_layer(layer)
        self.sync()

    def action_delete_point(self) -> None:
        self.controller.delete_point(self.canvas.pointer_at)
        self.sync()

    def action_toggle_tool(self, tool: Tool) -> None:
        self.controller.toggle_tool(tool)
        self.sync()

    def action_resize_brush(self, larger: bool) -> None:
        self.controller.resize_brush(larger)
        self.sync()

    def action_export(self) -> None:
        def done(result: ExportDone | None) -> None:
            if result is not None:
                self.controller.note_export(len(result.written), result.folder)
                self.sync()

        folder = default_export_folder(self.video.path)
        self.app.push_screen(ExportScreen(self.store, self.video, self.controller.objects(), folder), done)

    # ---- per object and identity edits ----

    def action_hide_object(self) -> None:
        self.controller.hide_object()
        self.sync()

    def action_solo_object(self) -> None:
        self.controller.solo_object()
        self.sync()

    def action_lock_object(self) -> None:
        self.controller.lock_object()
        self.sync()

    def action_swap_objects(self) -> None:
        self._with_other_object("Swap object {} from frame {} on with", self.controller.swap_objects)

    def action_merge_objects(self) -> None:
        self._with_other_object("Merge object {} (on frame {}) into", self.controller.merge_objects)

    def action_split_object(self) -> None:
        self.controller.split_object()
        self.sync()

    def _with_other_object(self, question: str, edit: Callable[[int | None], bool]) -> None:
        """Ask which other object takes part (when there is one to ask about), then make the edit."""
        ctl = self.controller
        obj = ctl.selected
        others = [o for o in ctl.objects() if obj is not None and o.obj_id != obj.obj_id]
        if obj is None or ctl.busy or not others:
            edit(None)  # refuses and says why
            self.sync()
            return

        def picked(other: int | None) -> None:
            if other is not None:
                edit(other)
                self.sync()

        title = question.format(obj.obj_id, ctl.view.frame)
        self.app.push_screen(PickObjectScreen(title, others), picked)
