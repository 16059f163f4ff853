"""The annotation logic between the session, its history, the engine worker and the UI (no Textual).

The UI calls one method per user action and one per engine event; the controller edits the session
through `History`, sends commands to the engine, and keeps what the widgets show (`view`, `model`,
`propagation`, `pending`, `notice`, per-object lanes) up to date. It is the one writer of that state: the
screen and the app read it and call a verb to change it. Every method returns quickly: the model runs on
the worker's thread and frames are decoded by the UI's own thread worker.

Rules it enforces:
- While a propagation runs, edits (prompts, objects, undo/redo) and a second propagation are refused with
  a one-line reason in `notice` (escape cancels; what was tracked is kept). Navigation stays free.
- A correction is a prompt edit of object O on frame f where O already has results on other frames
  (`correction_spans` is not empty). The engine answers the edit at once (the mask on f); re-tracking
  the affected span waits for `r`, so several clicks on the frame cost one re-propagation. The session
  stores it (a pending correction row, so it survives quit and restart) and marks the results in its span
  STALE; any propagation that re-tracks them makes them current, and when a propagation ends the
  corrections with no stale frame left are dropped (`p`, `f` and `F` supersede a correction only where
  they cover its span).
- A user action whose session write fails (a full or read-only disk) changes nothing, says why in
  `notice` and through `alert`, and the app keeps running: what was saved before stays saved.
- Undo/redo go through `History`, then `Replay` rebuilds the tracker from the stored prompts; a prompt
  edit undone on an already-tracked frame becomes a pending correction like any other: what was tracked
  from the undone prompts is STALE until re-tracked.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast

import cv2
import numpy as np

from sam2tui import masks
from sam2tui.engine.tracker import (
    ClearPrompt,
    Command,
    EngineFailed,
    Event,
    FrameResults,
    Idle,
    ModelLoading,
    ModelReady,
    Progress,
    Propagate,
    PropagationDone,
    RemoveObject,
    Replay,
    SetPrompt,
)
from sam2tui.errors import Sam2TuiError
from sam2tui.session.history import Edit, EditKind, History
from sam2tui.session.lanes import Correction, Lane, Lanes, Run
from sam2tui.session.store import SessionStore
from sam2tui.tui.state import ModelStatus, PropagationStatus, ViewState
from sam2tui.values import (
    BoxCorners,
    Color,
    Direction,
    FramePrompt,
    FrameResult,
    LabelState,
    Prompt,
    PromptKind,
    ReviewThresholds,
    Rle,
    TrackedObject,
    default_color,
)

Layer = Literal["masks", "boxes", "points"]  # what the canvas draws over the frame, each shown or hidden
PLACE_KEY = "view.place"  # the session setting with where the user left off: frame, object, zoom
OBJECT_VIEW_KEY = "view.objects"  # the session setting with the hidden objects and the solo one
Tool = Literal["prompt", "points", "brush", "eraser"]  # what the left mouse button does on the picture
BRUSH_RADII = (1, 256)  # the smallest and largest brush radius, video pixels
BRUSH_STEP = 1.25  # per brush-size key press


@dataclass(frozen=True)
class Zoom:
    """The canvas's zoom and the frame point at its centre (None: the frame's centre)."""

    factor: float = 1.0
    center: tuple[float, float] | None = None


class Engine(Protocol):
    """What the controller needs of the engine worker."""

    def submit(self, command: Command) -> None: ...

    def cancel(self) -> None: ...

    @property
    def busy(self) -> bool: ...


@dataclass
class Stroke:
    """A brush or eraser stroke in progress (press to release): the object's mask on its frame as painted
    so far, at video resolution. Kept here, not in the session: the release commits it as one mask prompt."""

    frame: int
    obj_id: int
    erase: bool
    before: np.ndarray  # the mask the stroke started from (bool)
    mask: np.ndarray  # uint8 0/1, what cv2 paints on
    last: tuple[int, int] | None = None  # the latest dab's centre: the next one is joined to it
    _rle: Rle | None = field(default=None, repr=False)  # `rle`'s cache

    @property
    def rle(self) -> Rle:
        """The mask painted so far (encoded once per change: the canvas shows it)."""
        if self._rle is None:
            self._rle = masks.encode(self.mask.astype(bool))
        return self._rle

    def dab(self, x: float, y: float, radius: int) -> None:
        """Paint (or erase) a disc at video pixel (x, y), joined to the previous dab by a band as wide."""
        centre = (int(x), int(y))
        value = 0 if self.erase else 1
        if self.last is not None and self.last != centre:
            cv2.line(self.mask, self.last, centre, value, thickness=2 * radius + 1)
        cv2.circle(self.mask, centre, radius, value, thickness=-1)
        self.last = centre
        self._rle = None


@dataclass(frozen=True)
class Change:
    """What an engine event changed, so that the UI redraws only that (the status is always cheap)."""

    lanes: bool = False  # results or states of some frames: the timeline must be redrawn


Action = TypeVar("Action", bound=Callable[..., Any])


def saves(action: Action) -> Action:
    """Mark a user action that writes to the session: a failed write is reported, never raised."""

    @functools.wraps(action)
    def guarded(self: AnnotationController, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(self, *args, **kwargs)
        except Sam2TuiError as error:
            self.notice = f"not saved: {error}"
            self.alert(self.notice)
            return None

    return cast(Action, guarded)


class AnnotationController:
    def __init__(
        self,
        store: SessionStore,
        history: History,
        frame_count: int,
        engine: Engine,
        *,
        thresholds: ReviewThresholds,
        propagation_window: int = 30,
        palette: Sequence[Color] = (),
        cpu_note: str = "",
        rename_key: str = "R",
        alert: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.store = store
        self.alert = alert  # tells the user of a failure louder than the status bar (the app: notify)
        self.history = history
        self.frame_count = frame_count
        self.engine = engine
        self.propagation_window = propagation_window
        self.palette = tuple(palette)
        self.cpu_note = cpu_note  # told when the model turns out to run on the CPU ("" : nothing to tell)
        self.rename_key = rename_key  # named in the hint a new object's notice gives
        self.view = ViewState()
        self.model = ModelStatus()
        self.propagation = PropagationStatus()
        self.notice = ""  # the latest one-line message for the status bar
        self._objects: list[TrackedObject] = []
        self._lanes = Lanes(store, frame_count, thresholds)
        self._reload_objects()
        self.view.selected = self._objects[0].obj_id if self._objects else None
        self._last_class = self._objects[-1].class_name if self._objects else ""
        self.zoom = Zoom()  # what the canvas showed last (the screen tells); stored on quit
        self.tool: Tool = "prompt"
        video = store.fingerprint
        self.brush_radius = max(BRUSH_RADII[0], round(max(video.width, video.height) / 100))  # video pixels
        self.stroke: Stroke | None = None  # the brush stroke being painted
        self._resume()
        self.hidden: set[int] = set()  # objects whose overlay is hidden (a view setting: exports keep them)
        self.solo: int | None = None  # the one object shown, when set
        self.locked: set[int] = store.locked_objects()  # no edit reaches them; propagation keeps their masks
        self._resume_object_view()

    # ---- queries ----

    def objects(self) -> list[TrackedObject]:
        return list(self._objects)

    def object(self, obj_id: int | None) -> TrackedObject | None:
        return next((obj for obj in self._objects if obj.obj_id == obj_id), None)

    @property
    def selected(self) -> TrackedObject | None:
        return self.object(self.view.selected)

    @property
    def busy(self) -> bool:
        return self.propagation.running

    @property
    def last_class(self) -> str:
        """The default class of the next object: the last one given, else the class list's first."""
        if self._last_class:
            return self._last_class
        classes = self.store.classes()
        return classes[0] if classes else "object"

    def classes(self) -> list[str]:
        """The session's class list, in the order exports number the categories."""
        return self.store.classes()

    def results_on(self, frame: int) -> list[FrameResult]:
        return [r for obj in self._objects if (r := self._lanes.result(frame, obj.obj_id)) is not None]

    def result(self, frame: int, obj_id: int) -> FrameResult | None:
        return self._lanes.result(frame, obj_id)

    def prompts_on(self, frame: int) -> list[Prompt]:
        return self.store.prompts(frame=frame)

    def lane(self, obj_id: int) -> Lane:
        return self._lanes.lane(obj_id)

    def stale_count(self) -> int:
        """Stale (frame, object) pairs: tracked from prompts that changed since."""
        return self._lanes.stale_count()

    @property
    def pending(self) -> list[Correction]:
        """The pending corrections (stored in the session) that still have stale frames, oldest first."""
        return self._lanes.corrections()

    def flag_at(self, frame: int, obj_id: int | None = None) -> Run | None:
        """Why `frame` is flagged for the object (default: the selected one; else any object)."""
        return self._lanes.flag_at(frame, [obj_id] if obj_id is not None else self._flag_order())

    def _flag_order(self) -> list[int]:
        ids = [obj.obj_id for obj in self._objects]
        if self.view.selected in ids:
            ids.remove(self.view.selected)
            ids.insert(0, self.view.selected)
        return ids

    # ---- navigation ----

    def seek(self, frame: int) -> int:
        """Go to `frame` (clamped); the user took over, so the view stops following propagation."""
        self.view.frame = max(0, min(self.frame_count - 1, frame))
        self.view.follow_propagation = False
        return self.view.frame

    def step(self, delta: int) -> int:
        return self.seek(self.view.frame + delta)

    def next_flagged_frame(self, forward: bool) -> Run | None:
        """Seek to the next (previous) stale, lost or doubtful frame of the selected object, inside a run too;
        returns the run it is in (None when there is none)."""
        obj_id = self.view.selected
        here = self.view.frame
        runs = self._lanes.runs(obj_id) if obj_id in self._lanes else []
        frames = (
            frame
            for run in (runs if forward else reversed(runs))
            for frame in (range(run.start, run.end + 1) if forward else range(run.end, run.start - 1, -1))
        )
        found = next((f for f in frames if (f > here if forward else f < here)), None)
        if found is None:
            self.notice = f"no {'later' if forward else 'earlier'} flagged frame for this object"
            return None
        self.seek(found)
        self.notice = ""
        return next(run for run in runs if run.start <= found <= run.end)

    def next_flagged(self, forward: bool, all_objects: bool) -> Run | None:
        """Seek to the start of the next (previous) stale, lost or doubtful run and select its object; None
        when there is none.

        Over all objects the runs are in (start frame, object id) order and the place is (frame, selected
        object), so repeated presses visit every object's run, also several runs starting on one frame.
        """
        # No selection sorts before every object on its frame.
        here = (self.view.frame, self.view.selected if self.view.selected is not None else 0)
        if all_objects:
            found = self._lanes.next_run([obj.obj_id for obj in self._objects], here, forward)
        elif self.view.selected in self._lanes:
            found = self._lanes.next_run([self.view.selected], here, forward)
        else:
            found = None
        if found is None:
            who = "any object" if all_objects else "this object"
            later = "later" if forward else "earlier"
            self.notice = f"no {later} lost or doubtful frame for {who}, nor a stale one"
            return None
        self.seek(found.start)
        self.view.selected = found.obj_id
        self.notice = ""
        return found

    # ---- objects ----

    def select(self, obj_id: int) -> bool:
        if self.object(obj_id) is None:
            self.notice = f"no object {obj_id} (n makes a new one)"
            return False
        self.view.selected = obj_id
        return True

    @saves
    def new_object(self, name: str | None = None, class_name: str | None = None) -> TrackedObject | None:
        """A new object, selected; a class given that is not in the class list joins it (the dialog asked)."""
        if self._refuse_while_busy("add an object"):
            return None
        with self.store.transaction():
            obj, _ = self.history.add_object(name or None, class_name or self.last_class)
            obj = self._apply_palette(obj)
            if class_name:
                self.store.add_classes([class_name])
        self._last_class = class_name or self._last_class
        self._reload_objects()
        self.view.selected = obj.obj_id
        self.notice = f"new object {obj.obj_id}: {obj.name} ({obj.class_name}) - {self.rename_key} renames it"
        return obj

    @saves
    def rename_object(self, obj_id: int | None, name: str = "", class_name: str = "") -> bool:
        """Give an object a new name and/or class ("" keeps it); undoable. A class not in the class list
        joins it (the dialog asked first); exports use the new name and class."""
        obj = self.object(obj_id)
        if obj is None:
            self.notice = "no object selected"
            return False
        changed = dataclasses.replace(
            obj, name=name.strip() or obj.name, class_name=class_name.strip() or obj.class_name
        )
        if changed == obj:
            self.notice = f"object {obj.obj_id} is already {obj.name} ({obj.class_name})"
            return False
        with self.store.transaction():
            self.store.add_classes([changed.class_name])
            self.history.update_object(changed)
        self._last_class = changed.class_name
        self._reload_objects()
        self.notice = f"object {obj.obj_id} is now {changed.name} ({changed.class_name}) - u undoes"
        return True

    def _colour_of(self, obj_id: int) -> Color:
        """A new object's colour: the palette's (settings.toml), else the default one."""
        return self.palette[(obj_id - 1) % len(self.palette)] if self.palette else default_color(obj_id)

    def _apply_palette(self, obj: TrackedObject) -> TrackedObject:
        if not self.palette:
            return obj
        colour = self._colour_of(obj.obj_id)
        if colour != obj.color:
            obj = dataclasses.replace(obj, color=colour)
            self.store.update_object(obj)
        return obj

    @saves
    def remove_object(self, obj_id: int | None) -> bool:
        if obj_id is None:
            self.notice = "no object selected"
            return False
        if self._refuse_while_busy("remove an object") or self.object(obj_id) is None:
            return False
        if self._refuse_locked(obj_id, "removed"):
            return False
        self.history.remove_object(obj_id)
        self.engine.submit(RemoveObject(obj_id))
        self._forget(obj_id)
        self.notice = f"removed object {obj_id} (u undoes)"
        return True

    def _forget(self, obj_id: int) -> None:
        self._reload_objects()
        self._drop_object_view()
        if self.view.selected == obj_id:
            self.view.selected = self._objects[0].obj_id if self._objects else None

    # ---- what is shown ----

    def toggle_label(self) -> bool:
        self.view.positive = not self.view.positive
        self.notice = f"left clicks are {'positive' if self.view.positive else 'negative'} points"
        return self.view.positive

    def toggle_layer(self, layer: Layer) -> bool:
        """Show or hide masks, boxes or prompt points; True when now shown."""
        name = f"show_{layer}"
        shown = not getattr(self.view, name)
        setattr(self.view, name, shown)
        self.notice = f"{layer} {'shown' if shown else 'hidden'}"
        return shown

    def set_pointer(self, pixel: tuple[int, int] | None) -> None:
        """The video pixel under the mouse or the keyboard pointer (None: off the picture)."""
        self.view.pointer = pixel

    def start_playing(self) -> None:
        """Playback begins (the UI's clock seeks frame by frame); from the start when at the last frame."""
        if self.view.frame >= self.frame_count - 1:
            self.seek(0)
        self.view.playing = True
        self.notice = "playing (space pauses)"

    def stop_playing(self) -> None:
        self.view.playing = False
        self.notice = ""

    def note_render_mode(self, note: str) -> None:
        """Why frames are drawn the way they are, when it is not what was asked for ("": nothing to say)."""
        self.notice = note

    def note_zoom(self, zoom: Zoom) -> None:
        """What the canvas shows now (the canvas owns its zoom; the session keeps it for next time)."""
        self.zoom = zoom

    def note_export(self, files: int, folder: Path) -> None:
        self.notice = f"exported {files} files to {folder}"

    # ---- prompts ----

    def click(self, x: float, y: float, positive: bool | None = None) -> bool:
        """A point on the current frame for the selected object (object 1 is made on the first click)."""
        label = self.view.positive if positive is None else positive
        return self._add_prompt(lambda frame, oid: Prompt.click(frame, oid, x, y, label))

    def draw_box(self, box: BoxCorners) -> bool:
        return self._add_prompt(lambda frame, oid: Prompt.rectangle(frame, oid, box))

    @saves
    def _add_prompt(self, make: Callable[[int, int], Prompt]) -> bool:
        if self._refuse_while_busy("prompt"):
            return False
        obj = self.selected or (self._objects[0] if self._objects else self.new_object())
        if obj is None or self._refuse_locked(obj.obj_id, "prompted"):
            return False
        self.view.selected = obj.obj_id
        self.history.add_prompt(make(self.view.frame, obj.obj_id))
        self._prompts_changed(self.view.frame, obj.obj_id)
        return True

    def absent_reach(self) -> int:
        """How many frames from the current one up to the selected object's next prompted frame (or the end
        of the video): what "absent up to the next prompt" marks."""
        here = self.view.frame
        obj_id = self.view.selected
        later = [f for f in self._lanes.lane(obj_id).prompted if f > here] if obj_id in self._lanes else []
        return (min(later) if later else self.frame_count) - here

    @saves
    def mark_absent(self, frames: int = 1) -> bool:
        """Say the selected object is not on the current frame and the `frames` - 1 after it: an empty mask
        prompt on each frame not absent yet (SAM 2 takes it as a conditioning frame without the object);
        one undo step."""
        obj = self.selected
        if obj is None:
            self.notice = "no object selected"
            return False
        if self._refuse_while_busy("mark an object absent") or self._refuse_locked(
            obj.obj_id, "marked absent"
        ):
            return False
        here = self.view.frame
        span = range(here, min(self.frame_count, here + max(1, frames)))
        labels = self._lanes.lane(obj.obj_id).labels
        marked = [frame for frame in span if labels[frame] is not LabelState.ABSENT]
        if not marked:
            self.notice = f"object {obj.obj_id} is already absent there"
            return False
        video = self.store.fingerprint
        empty = masks.encode(np.zeros((video.height, video.width), dtype=bool))
        self.history.add_prompts([Prompt.from_mask(frame, obj.obj_id, empty) for frame in marked])
        for frame in marked:
            self.engine.submit(SetPrompt(self._frame_prompt(frame, obj.obj_id)))
        self._edited(obj.obj_id, marked)
        where = f"frame {here}" if len(span) == 1 else f"frames {span.start}-{span.stop - 1}"
        self.notice = f"object {obj.obj_id} absent on {where} - u undoes"
        return True

    def _frame_prompt(self, frame: int, obj_id: int) -> FramePrompt:
        return FramePrompt.collect(frame, obj_id, self.store.prompts(frame=frame, obj_id=obj_id))

    @saves
    def clear_frame(self) -> bool:
        """Remove the selected object's prompts on the current frame."""
        obj = self.selected
        if (
            obj is None
            or self._refuse_while_busy("clear prompts")
            or self._refuse_locked(obj.obj_id, "cleared")
        ):
            return False
        frame = self.view.frame
        if not self.store.prompts(frame=frame, obj_id=obj.obj_id):
            self.notice = f"object {obj.obj_id} has no prompts on frame {frame}"
            return False
        self.history.clear_prompts(frame, obj.obj_id)
        self._prompts_changed(frame, obj.obj_id)
        return True

    def _prompts_changed(self, frame: int, obj_id: int) -> None:
        prompt = self._frame_prompt(frame, obj_id)
        if prompt.is_empty:
            self.engine.submit(ClearPrompt(frame, obj_id))
        else:
            self.engine.submit(SetPrompt(prompt))
        self._edited(obj_id, [frame])

    def _edited(self, obj_id: int, frames: Sequence[int]) -> None:
        """After a prompt edit of the object on `frames` (the store recorded its pending corrections and
        deleted the results of frames left without prompts): read both back."""
        self._lanes.refresh(obj_id, frames)
        self._settle()

    @saves
    def _settle(self) -> None:
        """Drop the pending corrections with no stale frame left (nothing left for `r` to do); a failed
        write only leaves them stored, where `pending` skips them."""
        settled = self._lanes.settled()
        if settled:
            self.store.drop_pending(settled)
            self._lanes.refresh_pending()

    def pending_hint(self) -> str:
        """The status-bar offer to re-propagate corrections: the latest span, and how many more."""
        if self.busy:
            return ""
        pending = self._retrackable()
        if not pending:
            return ""
        more = f" and {len(pending) - 1} more" if len(pending) > 1 else ""
        return f"r re-propagates the corrected span ({pending[-1].describe()}{more})"

    # ---- point editing and painting ----

    def toggle_tool(self, tool: Tool) -> Tool:
        """Switch the left button to `tool` ("points": a click deletes a point, a drag from one moves it;
        "brush" / "eraser": a drag paints); the same tool again goes back to prompting. Returns the tool."""
        self.end_stroke()
        self.tool = "prompt" if self.tool == tool else tool
        self.notice = {
            "prompt": "left clicks place points again",
            "points": "point editing: click a point to delete it, drag one to move it (again: off)",
            "brush": f"brush: drag adds to the object's mask, radius {self.brush_radius} px (< > resize)",
            "eraser": f"eraser: drag removes from the object's mask, radius {self.brush_radius} px (< > resize)",
        }[self.tool]
        return self.tool

    def tool_hint(self) -> str:
        """What the left button does, while it is not prompting (the status line keeps saying it)."""
        keys = {"points": "D", "brush": "w", "eraser": "W"}
        if self.tool == "prompt":
            return ""
        size = f" {self.brush_radius} px" if self.tool in ("brush", "eraser") else ""
        return f"{'point editing' if self.tool == 'points' else self.tool}{size} ({keys[self.tool]} ends)"

    def resize_brush(self, larger: bool) -> int:
        """Grow or shrink the brush by a step (at least a pixel); returns the radius in video pixels."""
        radius = round(self.brush_radius * BRUSH_STEP if larger else self.brush_radius / BRUSH_STEP)
        if radius == self.brush_radius:  # a small brush changes by a pixel at least
            radius += 1 if larger else -1
        self.brush_radius = max(BRUSH_RADII[0], min(BRUSH_RADII[1], radius))
        self.notice = f"brush radius {self.brush_radius} px"
        return self.brush_radius

    def _editable_points(self, obj_id: int) -> tuple[list[Prompt], list[int]]:
        """The object's stored prompts on the current frame, and where the clicks that count (those after
        its latest mask, which replaces everything before it) are among them."""
        stored = self.store.prompts(frame=self.view.frame, obj_id=obj_id)
        start = max((i + 1 for i, p in enumerate(stored) if p.kind is PromptKind.MASK), default=0)
        points = [i for i in range(start, len(stored)) if stored[i].kind is PromptKind.POINT]
        return stored, points

    def point_near(self, x: float, y: float, reach: float | None = None) -> Prompt | None:
        """The selected object's click on this frame nearest video pixel (x, y), if one lies within `reach`
        pixels (None: at any distance)."""
        obj = self.selected
        if obj is None:
            return None
        stored, points = self._editable_points(obj.obj_id)
        index = self._nearest(stored, points, x, y, reach)
        return None if index is None else stored[index]

    @staticmethod
    def _nearest(
        stored: list[Prompt], points: list[int], x: float, y: float, reach: float | None
    ) -> int | None:
        def distance(i: int) -> float:
            px, py = stored[i].point or (np.inf, np.inf)
            return float(np.hypot(px - x, py - y))

        best = min(points, key=distance, default=None)
        if best is None or (reach is not None and distance(best) > reach):
            return None
        return best

    def delete_point(self, at: tuple[float, float] | None, reach: float | None = None) -> bool:
        """Delete the selected object's click on this frame nearest `at` (the pointer; within `reach`, when
        given); the frame's other clicks are applied again in their order. One undo step."""
        if at is None:
            self.notice = "point at it first: the mouse over the picture, or v for the keyboard pointer"
            return False
        return self._edit_point(*at, None, reach)

    def move_point(self, start: tuple[float, float], end: tuple[float, float], reach: float | None) -> bool:
        """Move the selected object's click nearest `start` (within `reach`) to `end`, keeping its place in
        the frame's order and its label; the clicks are applied again in their order. One undo step."""
        return self._edit_point(*start, end, reach)

    @saves
    def _edit_point(self, x: float, y: float, to: tuple[float, float] | None, reach: float | None) -> bool:
        obj = self.selected
        what = "move a point" if to is not None else "delete a point"
        if obj is None:
            self.notice = "no object selected"
            return False
        if self._refuse_while_busy(what) or self._refuse_locked(obj.obj_id, "edited"):
            return False
        frame = self.view.frame
        stored, points = self._editable_points(obj.obj_id)
        index = self._nearest(stored, points, x, y, reach)
        if index is None:
            self.notice = f"no point of object {obj.obj_id} {'there' if points else 'on this frame'}"
            return False
        prompts = list(stored)
        point = prompts.pop(index)
        if to is not None:
            prompts.insert(index, dataclasses.replace(point, point=(float(to[0]), float(to[1]))))
        self.history.replace_prompts(frame, obj.obj_id, prompts)
        self._prompts_changed(frame, obj.obj_id)
        self.notice = f"{'moved' if to is not None else 'deleted'} a point of object {obj.obj_id} - u undoes"
        return True

    def paint(self, x: float, y: float) -> bool:
        """A brush (eraser) dab at video pixel (x, y) on the selected object's mask on this frame; the first
        dab starts a stroke from the object's current mask. Nothing is saved before `end_stroke`."""
        if self.tool not in ("brush", "eraser"):
            return False
        stroke = self.stroke
        if stroke is None:
            obj = self.selected
            if obj is None:
                self.notice = "no object to paint: n makes one (or click on it first)"
                return False
            if self._refuse_while_busy("paint") or self._refuse_locked(obj.obj_id, "painted"):
                return False
            frame = self.view.frame
            video = self.store.fingerprint
            result = self._lanes.result(frame, obj.obj_id)
            before = (
                masks.decode(result.rle)
                if result is not None
                else np.zeros((video.height, video.width), dtype=bool)
            )
            stroke = self.stroke = Stroke(
                frame, obj.obj_id, self.tool == "eraser", before, before.astype(np.uint8)
            )
        stroke.dab(x, y, self.brush_radius)
        return True

    @saves
    def end_stroke(self) -> bool:
        """The stroke is done (the button released): its mask becomes the frame's mask prompt, one undo step,
        a correction like any other. False when there was none or it changed nothing."""
        stroke, self.stroke = self.stroke, None
        if stroke is None:
            return False
        if np.array_equal(stroke.mask.astype(bool), stroke.before):
            self.notice = "the stroke changed nothing"
            return False
        self.history.add_prompt(Prompt.from_mask(stroke.frame, stroke.obj_id, stroke.rle))
        self._prompts_changed(stroke.frame, stroke.obj_id)
        action = "erased from" if stroke.erase else "painted"
        self.notice = f"{action} object {stroke.obj_id} on frame {stroke.frame} - u undoes"
        return True

    # ---- propagation ----

    def propagate(
        self, direction: Direction = Direction.BOTH, window: bool = False, everything: bool = False
    ) -> bool:
        """Track from the current frame: both ways over the video, or `propagation_window` frames one way.

        Frames already current with their prompts are skipped: each direction starts at the first frame that
        is untracked or stale, with SAM 2's memory rebuilt from the committed frames before it
        (`Propagate.resume`). `everything` tracks every frame again from the current one."""
        if self._refuse_while_busy("start another propagation"):
            return False
        if not self._lanes.any_prompted():
            self.notice = "nothing to propagate: click on an object first"
            return False
        max_frames = self.propagation_window if window else None
        here = self.view.frame
        commands = (
            [Propagate(here, direction, max_frames)]
            if everything
            else self._continuing(direction, max_frames)
        )
        if not commands:
            self.notice = "every frame there is current with its prompts (P tracks them again)"
            return False
        self._start_runs(commands)
        return True

    def _continuing(self, direction: Direction, max_frames: int | None) -> list[Propagate]:
        """The passes that track what is not current yet, from the current frame in `direction`."""
        here = self.view.frame
        ways = (Direction.FORWARD, Direction.BACKWARD) if direction is Direction.BOTH else (direction,)
        starts: dict[Direction, int] = {}
        for way in ways:
            reach = Propagate(here, way, max_frames).frames_in(self.frame_count)
            span = range(here, here + reach) if way is Direction.FORWARD else range(here, here - reach, -1)
            edge = self._lanes.start_of_tracking(span, skip=self.locked)
            if edge is not None:
                starts[way] = edge
        if direction is Direction.BOTH and starts == {Direction.FORWARD: here, Direction.BACKWARD: here}:
            return [Propagate(here, Direction.BOTH, max_frames)]  # nothing to skip: one pass both ways
        return [
            Propagate(
                start,
                way,
                None if max_frames is None else max_frames - abs(start - here),
                resume=start != here,
            )
            for way, start in starts.items()
        ]

    def repropagate(self) -> bool:
        """Re-track the spans of the pending corrections (`r`)."""
        if self._refuse_while_busy("re-propagate"):
            return False
        pending = self._retrackable()
        if not pending:
            self.notice = "no correction to re-propagate"
            return False
        commands = [
            Propagate(span.start, span.direction, span.max_frames)
            for correction in sorted(pending, key=lambda c: (c.frame, c.obj_id))
            for span in correction.spans
        ]
        self._start_runs(commands)
        return True

    def _retrackable(self) -> list[Correction]:
        """The pending corrections `r` re-tracks: those of objects that are not locked."""
        return [correction for correction in self.pending if correction.obj_id not in self.locked]

    def _start_runs(self, commands: list[Propagate]) -> None:
        first = commands[0]
        total = first.frames_in(self.frame_count)
        self.propagation = PropagationStatus(
            running=True, total=total, runs_left=len(commands), origin=self.view.frame
        )
        self.view.follow_propagation = True
        self.view.playing = False  # the UI's playback clock stops with it
        for command in commands:
            self.engine.submit(command)
        self.notice = "propagating (escape cancels and keeps what is done)"

    def cancel(self) -> bool:
        if not self.propagation.running:
            return False
        self.engine.cancel()
        self.propagation.cancelling = True
        self.notice = "cancelling propagation"
        if not self.engine.busy:  # it was dropped from the queue before it began: no event will come
            self._end_propagation("propagation cancelled before it began")
        return True

    def _resume(self) -> None:
        """Back where the user left off: the frame, the selected object and the zoom stored on quit."""
        place = self.store.setting(PLACE_KEY)
        if not isinstance(place, dict):
            return
        try:
            frame, selected, factor = int(place["frame"]), place["selected"], float(place["zoom"])
            center = (
                None if place["center"] is None else (float(place["center"][0]), float(place["center"][1]))
            )
        except (KeyError, TypeError, ValueError, IndexError):
            return  # a damaged place is no reason to refuse the session: start at the beginning
        self.view.frame = max(0, min(self.frame_count - 1, frame))
        if self.object(selected) is not None:
            self.view.selected = selected
        self.zoom = Zoom(factor, center)

    @saves
    def _save_place(self) -> None:
        self.store.set_setting(
            PLACE_KEY,
            {
                "frame": self.view.frame,
                "selected": self.view.selected,
                "zoom": self.zoom.factor,
                "center": None if self.zoom.center is None else list(self.zoom.center),
            },
        )

    def quit(self) -> str:
        """The app is leaving: stop propagating (what is tracked is kept), remember where the user is, and
        say so. Returns the line to leave the user with: how much is stale (all of it is in the session, for
        `r` next time), or ""."""
        self.cancel()
        if self.propagation.running and self.view.follow_propagation:  # the user was where it started
            self.view.frame = self.propagation.origin
        self._save_place()
        self.notice = "saving and quitting ..."
        stale = self.stale_count()
        if not stale:
            return ""
        corrections = len(self.pending)
        return (
            f"saved: {_count(stale, 'stale frame')} in {_count(corrections, 'pending correction')}"
            " - r re-propagates them next time"
        )

    def _refuse_while_busy(self, what: str) -> bool:
        if self.propagation.running:
            self.notice = f"cannot {what} while propagating (escape cancels and keeps what is done)"
            return True
        return False

    # ---- per object: hide, solo, lock ----

    def shows(self, obj_id: int) -> bool:
        """Whether the object's overlay is drawn: only the solo object when there is one, else all not hidden."""
        return obj_id == self.solo if self.solo is not None else obj_id not in self.hidden

    @saves
    def hide_object(self) -> bool:
        """Hide or show the selected object's overlay (a view setting: exports keep it); True when hidden."""
        obj = self.selected
        if obj is None:
            self.notice = "no object selected"
            return False
        hidden = obj.obj_id not in self.hidden
        self._set_object_view(self.hidden ^ {obj.obj_id}, self.solo)
        solo = f" (object {self.solo} is solo)" if self.solo is not None else ""
        self.notice = f"object {obj.obj_id} {'hidden' if hidden else 'shown'}{solo}"
        return hidden

    @saves
    def solo_object(self) -> bool:
        """Show only the selected object's overlay, or every object again; True when solo."""
        obj = self.selected
        if obj is None:
            self.notice = "no object selected"
            return False
        self._set_object_view(self.hidden, None if self.solo == obj.obj_id else obj.obj_id)
        self.notice = f"only object {obj.obj_id} shown" if self.solo else "every object shown"
        return self.solo is not None

    @saves
    def lock_object(self) -> bool:
        """Lock or unlock the selected object: a locked one takes no edit, and propagation keeps its stored
        masks as they are; True when locked."""
        obj = self.selected
        if obj is None:
            self.notice = "no object selected"
            return False
        locked = obj.obj_id not in self.locked
        self.store.set_locked(obj.obj_id, locked)
        self.locked ^= {obj.obj_id}
        self.notice = f"object {obj.obj_id} {'locked: no edit reaches it' if locked else 'unlocked'}"
        return locked

    def _refuse_locked(self, obj_id: int | None, what: str) -> bool:
        if obj_id in self.locked:
            self.notice = f"object {obj_id} is locked: it cannot be {what} (unlock it first)"
            return True
        return False

    def _resume_object_view(self) -> None:
        view = self.store.setting(OBJECT_VIEW_KEY)
        if not isinstance(view, dict):
            return
        try:
            hidden = {int(obj_id) for obj_id in view["hidden"]}
            solo = None if view["solo"] is None else int(view["solo"])
        except (KeyError, TypeError, ValueError):
            return  # a damaged setting: show every object
        self.hidden, self.solo = hidden, solo

    def _drop_object_view(self) -> None:
        """Forget whether objects that are gone were hidden or solo (a later object may get their id)."""
        ids = {obj.obj_id for obj in self._objects}
        if self.hidden - ids or (self.solo is not None and self.solo not in ids):
            self._set_object_view(self.hidden & ids, self.solo if self.solo in ids else None)

    def _set_object_view(self, hidden: set[int], solo: int | None) -> None:
        """Store, then show, which objects are hidden and which one is solo (a failed write changes nothing)."""
        self.store.set_setting(OBJECT_VIEW_KEY, {"hidden": sorted(hidden), "solo": solo})
        self.hidden, self.solo = hidden, solo

    # ---- identity edits: swap, merge, split ----

    @saves
    def swap_objects(self, other: int | None) -> bool:
        """Exchange the identities of the selected object and `other` from the current frame on."""
        obj = self._identity_subject("swap", "swapped", other)
        if obj is None or other is None:
            return False
        here = self.view.frame
        self.history.swap_objects(obj.obj_id, other, here)
        self._identity_changed([obj.obj_id, other], obj.obj_id)
        self.notice = f"objects {obj.obj_id} and {other} swapped from frame {here} on - u undoes"
        return True

    @saves
    def merge_objects(self, target: int | None) -> bool:
        """Merge the selected object into `target` (which is selected then); the selected one goes."""
        obj = self._identity_subject("merge", "merged", target)
        if obj is None or target is None:
            return False
        self.history.merge_objects(obj.obj_id, target, self.view.frame)
        self._identity_changed([obj.obj_id, target], target)
        self.notice = f"object {obj.obj_id} merged into object {target} - u undoes"
        return True

    @saves
    def split_object(self) -> bool:
        """Give the selected object's frames from the current one on to a new object of its class."""
        obj = self._identity_subject("split", "split")
        if obj is None:
            return False
        here = self.view.frame
        lane = self._lanes.lane(obj.obj_id)
        if not any(f >= here for f in (*lane.prompted, *self._lanes.tracked_frames(obj.obj_id))):
            self.notice = f"object {obj.obj_id} has nothing on frame {here} or after it to split off"
            return False
        new_id = max(o.obj_id for o in self._objects) + 1
        new = TrackedObject(new_id, f"object {new_id}", obj.class_name, self._colour_of(new_id))
        self.history.split_object(obj.obj_id, here, new)
        self._identity_changed([obj.obj_id, new_id], new_id)
        self.notice = (
            f"frames {here}- of object {obj.obj_id} are object {new_id} now"
            f" ({self.rename_key} renames it) - u undoes"
        )
        return True

    def _identity_subject(self, what: str, done: str, other: int | None = None) -> TrackedObject | None:
        """The selected object, when it (and `other`, for a swap or a merge) may take part in an identity
        edit; else None, and the notice says why."""
        obj = self.selected
        if obj is None:
            self.notice = "no object selected"
            return None
        if self._refuse_while_busy(f"{what} objects"):
            return None
        if what != "split" and (other is None or other == obj.obj_id or self.object(other) is None):
            self.notice = f"{what} needs another object"
            return None
        if any(self._refuse_locked(obj_id, done) for obj_id in (obj.obj_id, other)):
            return None
        return obj

    def _identity_changed(self, obj_ids: Sequence[int], select: int) -> None:
        """After an identity edit (or its undo): read the objects' lanes afresh, rebuild the tracker."""
        self._lanes.forget(obj_ids)
        self._reload_objects()
        self._drop_object_view()
        self._settle()
        if self.object(select) is not None:
            self.view.selected = select
        elif self.object(self.view.selected) is None:
            self.view.selected = self._objects[0].obj_id if self._objects else None
        self.engine.submit(Replay(tuple(self.store.frame_prompts())))

    # ---- undo / redo ----

    def undo(self) -> bool:
        return self._travel(self.history.undo, "undo")

    def redo(self) -> bool:
        return self._travel(self.history.redo, "redo")

    @saves
    def _travel(self, step: Callable[[], Edit | None], what: str) -> bool:
        if self._refuse_while_busy(what):
            return False
        upcoming = self.history.peek(undo=what == "undo")
        if upcoming is not None and any(
            self._refuse_locked(obj_id, f"changed by {what}") for obj_id in (upcoming.obj_id, upcoming.other)
        ):
            return False
        edit: Edit | None = step()
        if edit is None:
            self.notice = f"nothing to {what}"
            return False
        self._after_history(edit)
        self.notice = f"{what}: {edit.kind.value.replace('_', ' ')} (object {edit.obj_id})"
        return True

    def _after_history(self, edit: Edit) -> None:
        if edit.other is not None:  # an identity edit: two objects' rows changed
            self._identity_changed([edit.obj_id, edit.other], edit.obj_id)
            return
        exists = any(obj.obj_id == edit.obj_id for obj in self.store.objects())
        if not exists:
            self.engine.submit(RemoveObject(edit.obj_id))
            self._forget(edit.obj_id)
            return
        self.view.selected = edit.obj_id
        if edit.kind is EditKind.UPDATE_OBJECT:  # a name or class: nothing for the engine
            self._reload_objects()
            return
        restoring = edit.obj_id not in self._lanes
        if restoring:  # History put the object back with its prompts and results
            self._reload_objects()
        frame = edit.frame
        if frame is not None and not restoring:
            self.seek(frame)
            self._edited(edit.obj_id, sorted({frame, *(p.frame for p in edit.prompts)}))
        # the frames whose prompts the step changed get the tracker's results; the others keep their labels
        frames = (edit.frame, *(p.frame for p in (*edit.prompts, *edit.replaced)))
        recompute = frozenset((f, edit.obj_id) for f in frames if f is not None)
        self.engine.submit(Replay(tuple(self.store.frame_prompts()), recompute))

    # ---- engine events ----

    def apply(self, event: Event) -> Change:
        """Take in one engine event; say what the UI must redraw."""
        if isinstance(event, FrameResults):
            return Change(lanes=self._take_results(event))
        if isinstance(event, Progress):
            self.propagation.done, self.propagation.total = event.done, event.total
            self.propagation.frames_per_second = event.frames_per_second
        elif isinstance(event, PropagationDone):
            self._propagation_done(event)
        elif isinstance(event, ModelLoading):
            self.model.message, self.model.fraction = event.message, event.fraction
        elif isinstance(event, ModelReady):
            self.model = ModelStatus(ready=True, message="ready", device=event.device, model=event.model)
            if event.device == "cpu" and self.cpu_note:
                self.notice = self.cpu_note
        elif isinstance(event, EngineFailed):
            self._failed(event)
        elif isinstance(event, Idle) and self.propagation.running and self.propagation.cancelling:
            # Nothing left in the engine's queue: cancelled runs were dropped before they began. (Without a
            # cancel, an Idle during a propagation is a stale one, sent before the propagation was queued.)
            self._end_propagation("propagation cancelled")
        return Change()

    def _take_results(self, event: FrameResults) -> bool:
        """Cache the results; True when some object's lane changed."""
        changed = self._lanes.take_frame(event.frame)
        if event.source == "propagate" and self.view.follow_propagation and self.propagation.running:
            self.view.frame = event.frame
        return changed

    def _propagation_done(self, event: PropagationDone) -> None:
        status = self.propagation
        if not status.running:
            return
        status.runs_left -= 1
        status.frames_done += event.frames_done
        if event.cancelled:
            self._end_propagation(f"propagation cancelled; {status.frames_done} frames kept")
        elif status.runs_left <= 0:
            self._end_propagation(f"propagated {status.frames_done} frames")

    def _end_propagation(self, notice: str) -> None:
        self.propagation.running = False
        self.propagation.runs_left = 0
        self.notice = notice
        self._settle()
        if self.view.follow_propagation:
            self.view.frame = self.propagation.origin  # back to where it started, ready for review

    def _failed(self, event: EngineFailed) -> None:
        if event.command == "LoadModel":
            self.model.error = event.message
        if event.command == "Propagate" and self.propagation.running:
            self._end_propagation("")
        self.notice = f"engine: {event.message}"

    # ---- caches ----

    def _reload_objects(self) -> None:
        self._objects = self.store.objects()
        self._lanes.follow(obj.obj_id for obj in self._objects)


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}" if number == 1 else f"{number} {thing}s"
