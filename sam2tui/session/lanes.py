"""What the annotation UI shows of each object, kept up to date one change at a time (pure: no torch, no
Textual): its results by frame, its lane (a review state and a label state per frame, its prompted frames),
its pending corrections, and the runs the flag keys visit.

The UI reads it on every redraw, so answers come from the cache, which mirrors the session:
- a result the engine committed is read back from the store (with its edit number); it re-judges only its
  own frame and the next one (review judges a frame against the previous one). A freshly stored result
  carries the newest edit number, so it is never stale, and it cannot make an older one stale (spans only
  grow to frames that had no result), so its frame's label is all that changes (a result gone from the
  store may shrink spans: then the object's labels are judged again);
- after a prompt edit, an undo/redo or a settled correction, the object's prompts, pending corrections and
  label states are read and computed again (`session.states`, docs/architecture.md "Label states").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from sam2tui.session.review import FrameState, flags, frame_states
from sam2tui.session.spans import Span, correction_spans
from sam2tui.session.states import object_states, prompted_states, settled_pending, stale_frames
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, LabelState, PendingCorrection, Prompt, ReviewThresholds

FLAGGED = (FrameState.LOST, FrameState.DOUBTFUL)
STALE_REASON = "stale: its prompts changed since (r re-tracks it)"


_UP_TO_DATE = frozenset({LabelState.PROMPTED, LabelState.ABSENT, LabelState.CURRENT})


@dataclass
class Lane:
    """One object's row of the timeline: per frame a review state and a label state; its prompted frames."""

    states: list[FrameState]
    labels: list[LabelState]
    prompted: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Run:
    """Consecutive frames of one object that the flag keys visit: stale, lost or doubtful for one reason.

    `reason` says why (of one frame: why that frame is flagged)."""

    obj_id: int
    start: int
    end: int  # inclusive
    reason: str


@dataclass(frozen=True)
class Correction:
    """A pending correction that still has stale frames, and the spans `r` re-tracks for it."""

    pending: PendingCorrection
    spans: tuple[Span, ...]

    @property
    def obj_id(self) -> int:
        return self.pending.obj_id

    @property
    def frame(self) -> int:
        return self.pending.frame

    def describe(self) -> str:
        first = min(span.frames.start for span in self.spans)
        last = max(span.frames.stop - 1 for span in self.spans)
        return f"frames {first}-{last}"


@dataclass
class _Object:
    """The cache of one object."""

    results: dict[int, FrameResult]
    lane: Lane
    prompts: list[Prompt] = field(default_factory=list)
    pending: list[PendingCorrection] = field(default_factory=list)
    labelled: dict[int, LabelState] = field(default_factory=dict)  # PROMPTED / ABSENT frames


class Lanes:
    """The results and lanes of the objects it follows, read from `store` and kept in step with it."""

    def __init__(self, store: SessionStore, frame_count: int, thresholds: ReviewThresholds) -> None:
        self.store = store
        self.frame_count = frame_count
        self.thresholds = thresholds
        self._objects: dict[int, _Object] = {}
        self._corrections: list[Correction] | None = None  # computed when asked, until something changes

    # ---- which objects ----

    def follow(self, obj_ids: Iterable[int]) -> None:
        """Follow exactly these objects: the new ones are read from the store, the others forgotten."""
        wanted = set(obj_ids)
        self._corrections = None
        for gone in set(self._objects) - wanted:
            del self._objects[gone]
        for obj_id in sorted(wanted - set(self._objects)):
            results = self.store.results_by_frame(obj_id)
            states = frame_states(results, self.frame_count, self.thresholds)
            self._objects[obj_id] = _Object(results, Lane(states, [LabelState.UNTRACKED] * self.frame_count))
            self.refresh(obj_id)

    def forget(self, obj_ids: Iterable[int]) -> None:
        """Drop the cache of these objects: the next `follow` reads them afresh (after an identity edit moved
        their prompts, results and pending corrections between them)."""
        self._corrections = None
        for obj_id in obj_ids:
            self._objects.pop(obj_id, None)

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self._objects

    # ---- queries ----

    def lane(self, obj_id: int) -> Lane:
        return self._objects[obj_id].lane

    def result(self, frame: int, obj_id: int) -> FrameResult | None:
        cached = self._objects.get(obj_id)
        return None if cached is None else cached.results.get(frame)

    def tracked_frames(self, obj_id: int) -> Collection[int]:
        return self._objects[obj_id].results.keys()

    def any_prompted(self) -> bool:
        return any(cached.lane.prompted for cached in self._objects.values())

    def start_of_tracking(self, frames: Sequence[int], skip: Collection[int] = ()) -> int | None:
        """Where a propagation over `frames` (in tracking order) starts so as to skip what is current: the
        first frame where some prompted object is untracked or stale, or `frames[0]` when no tracked frame
        comes before it (a prompted frame is where SAM 2 starts anyway); None when nothing needs tracking.
        The objects in `skip` (locked ones: a propagation keeps their masks) need no tracking."""
        lanes = [
            cached.lane
            for obj_id, cached in self._objects.items()
            if cached.lane.prompted and obj_id not in skip
        ]
        skipped_tracked = False
        for frame in frames:
            labels = [lane.labels[frame] for lane in lanes]
            if any(label not in _UP_TO_DATE for label in labels):
                return frame if skipped_tracked else frames[0]
            skipped_tracked = skipped_tracked or LabelState.CURRENT in labels
        return None

    def stale_count(self) -> int:
        """Stale (frame, object) pairs over every object followed."""
        return sum(cached.lane.labels.count(LabelState.STALE) for cached in self._objects.values())

    def corrections(self) -> list[Correction]:
        """The pending corrections that still have stale frames, oldest first, with their spans."""
        if self._corrections is None:
            self._corrections = self._find_corrections()
        return list(self._corrections)

    def _find_corrections(self) -> list[Correction]:
        found = []
        for cached in self._objects.values():
            prompted = sorted(cached.labelled)
            for pending in cached.pending:
                if stale_frames(prompted, cached.results, [pending]):
                    spans = correction_spans(pending.frame, prompted, cached.results.keys())
                    found.append(Correction(pending, tuple(spans)))
        return sorted(found, key=lambda c: (c.pending.edit_seq, c.obj_id, c.frame))

    def settled(self) -> list[PendingCorrection]:
        """The pending corrections with no stale frame left: the caller drops them from the session."""
        return [
            pending
            for cached in self._objects.values()
            for pending in settled_pending(cached.prompts, cached.results, cached.pending)
        ]

    def flag_at(self, frame: int, obj_ids: Sequence[int]) -> Run | None:
        """Why `frame` is flagged for the first of `obj_ids` it is flagged for; None when for none."""
        for obj_id in obj_ids:
            cached = self._objects.get(obj_id)
            if cached is None:
                continue
            if cached.lane.labels[frame] is LabelState.STALE:
                return Run(obj_id, frame, frame, STALE_REASON)
            if cached.lane.states[frame] not in FLAGGED or cached.lane.labels[frame] is LabelState.ABSENT:
                continue  # an absent frame's empty mask is the user's label, not a tracking failure
            window = {f: r for f in (frame - 1, frame) if (r := cached.results.get(f)) is not None}
            found = [
                flag
                for flag in flags(window, self.frame_count, self.thresholds, obj_id)
                if flag.start <= frame
            ]
            if found:
                return Run(obj_id, frame, frame, found[-1].reason)
        return None

    def runs(self, obj_id: int) -> list[Run]:
        """Runs of consecutive stale, lost or doubtful frames of one object, in frame order."""
        runs: list[Run] = []
        lane = self._objects[obj_id].lane
        current: str | None = None  # the reason of the run being read, None between runs
        start = 0
        for frame, (state, label) in enumerate(zip(lane.states, lane.labels, strict=True)):
            if label is LabelState.STALE:
                reason: str | None = LabelState.STALE.value
            else:
                reason = state.value if state in FLAGGED and label is not LabelState.ABSENT else None
            if reason != current:
                if current is not None:
                    runs.append(Run(obj_id, start, frame - 1, current))
                current, start = reason, frame
        if current is not None:
            runs.append(Run(obj_id, start, len(lane.states) - 1, current))
        return runs

    def next_run(self, obj_ids: Iterable[int], here: tuple[int, int], forward: bool) -> Run | None:
        """The first run of any of `obj_ids` after (before) `here`, in (start frame, object id) order."""
        ordered = sorted(
            (run for obj_id in obj_ids for run in self.runs(obj_id)), key=lambda run: (run.start, run.obj_id)
        )
        if forward:
            return next((run for run in ordered if (run.start, run.obj_id) > here), None)
        return next((run for run in reversed(ordered) if (run.start, run.obj_id) < here), None)

    # ---- updates ----

    def take_frame(self, frame: int) -> bool:
        """Read back what the store holds on `frame` for the objects followed (after the engine committed
        results there); True when a lane changed."""
        stored = {result.obj_id: result for result in self.store.results(frame=frame)}
        self._corrections = None
        changed = False
        for obj_id, cached in self._objects.items():
            result, before = stored.get(obj_id), cached.results.get(frame)
            if result is None and before is None:
                continue
            if (
                result is not None
                and before is not None
                and (result.edit_seq, result) == (before.edit_seq, before)
            ):
                continue  # unchanged (the engine re-sent it along with another object's)
            self._set_result(cached, frame, result)
            if result is None:  # spans may shrink without it: judge the whole lane again
                self._relabel(cached)
            changed = True
        return changed

    def refresh(self, obj_id: int, frames: Iterable[int] = ()) -> None:
        """Read the object's prompts and pending corrections again, and its results on `frames` (where the
        store may have deleted one), then judge its label states afresh (after a prompt edit or undo/redo)."""
        cached = self._objects[obj_id]
        self._corrections = None
        cached.prompts = self.store.prompts(obj_id=obj_id)
        cached.pending = self.store.pending_corrections(obj_id)
        cached.labelled = prompted_states(cached.prompts)
        cached.lane.prompted = set(cached.labelled)
        for frame in frames:
            stored = self.store.results(frame=frame, obj_id=obj_id)
            self._set_result(cached, frame, stored[0] if stored else None)
        self._relabel(cached)

    def _relabel(self, cached: _Object) -> None:
        cached.lane.labels = object_states(self.frame_count, cached.prompts, cached.results, cached.pending)

    def refresh_pending(self) -> None:
        """Read every object's pending corrections again (after settled ones were dropped)."""
        for obj_id in self._objects:
            self.refresh(obj_id)

    def _set_result(self, cached: _Object, frame: int, result: FrameResult | None) -> None:
        if result is None:
            cached.results.pop(frame, None)
        else:
            cached.results[frame] = result
        if 0 <= frame < self.frame_count:
            self._refresh_states(cached, frame)
            cached.lane.labels[frame] = self._label(cached, frame)

    def _label(self, cached: _Object, frame: int) -> LabelState:
        """One frame's label state; exact without recomputing the lane (see the module's docstring)."""
        if frame in cached.labelled:
            return cached.labelled[frame]
        result = cached.results.get(frame)
        if result is None:
            return LabelState.UNTRACKED
        if all(result.edit_seq >= pending.edit_seq for pending in cached.pending):
            return LabelState.CURRENT
        stale = frame in stale_frames(cached.labelled, cached.results, cached.pending)
        return LabelState.STALE if stale else LabelState.CURRENT

    def _refresh_states(self, cached: _Object, changed: int) -> None:
        """Re-judge the review state of the frame whose result changed and the next one (judged against it).

        Only the neighbours enter `frame_states`, so one result costs O(1) mask maths, not O(frames).
        """
        for frame in (changed, changed + 1):
            if 0 <= frame < self.frame_count:
                window = {f: r for f in (frame - 1, frame) if (r := cached.results.get(f)) is not None}
                cached.lane.states[frame] = frame_states(window, self.frame_count, self.thresholds)[frame]
