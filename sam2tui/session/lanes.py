"""Each object's results by frame and its lane (a review state per frame, its prompted frames), kept up to
date one result at a time, and the flagged runs the review keys visit (pure: no torch, no Textual).

The annotation UI reads it on every redraw, so answers come from the cache: a new result re-judges only
its own frame and the next one (review judges a frame against the previous one), and runs of flagged
frames are read off the lane's states, with no mask maths.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from sam2tui.session.review import Flag, FrameState, flags, frame_states
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, ReviewThresholds

FLAGGED = (FrameState.LOST, FrameState.DOUBTFUL)


@dataclass
class Lane:
    """One object's row of the timeline: a state per frame and the frames it was prompted on."""

    states: list[FrameState]
    prompted: set[int] = field(default_factory=set)


class Lanes:
    """The results and lanes of the objects it follows, read from `store` and fed new results."""

    def __init__(self, store: SessionStore, frame_count: int, thresholds: ReviewThresholds) -> None:
        self.store = store
        self.frame_count = frame_count
        self.thresholds = thresholds
        self._results: dict[int, dict[int, FrameResult]] = {}
        self._lanes: dict[int, Lane] = {}

    # ---- which objects ----

    def follow(self, obj_ids: Iterable[int]) -> None:
        """Follow exactly these objects: the new ones are read from the store, the others forgotten."""
        wanted = set(obj_ids)
        for gone in set(self._lanes) - wanted:
            del self._lanes[gone]
            del self._results[gone]
        for obj_id in sorted(wanted - set(self._lanes)):
            self._results[obj_id] = self.store.results_by_frame(obj_id)
            self._lanes[obj_id] = Lane(frame_states(self._results[obj_id], self.frame_count, self.thresholds))
            self.refresh_prompted(obj_id)

    def __contains__(self, obj_id: object) -> bool:
        return obj_id in self._lanes

    # ---- queries ----

    def lane(self, obj_id: int) -> Lane:
        return self._lanes[obj_id]

    def result(self, frame: int, obj_id: int) -> FrameResult | None:
        return self._results.get(obj_id, {}).get(frame)

    def tracked_frames(self, obj_id: int) -> Collection[int]:
        return self._results[obj_id].keys()

    def any_prompted(self) -> bool:
        return any(lane.prompted for lane in self._lanes.values())

    def flag_at(self, frame: int, obj_ids: Sequence[int]) -> Flag | None:
        """Why `frame` is flagged for the first of `obj_ids` it is flagged for; None when for none."""
        for obj_id in obj_ids:
            if obj_id not in self._lanes or self._lanes[obj_id].states[frame] not in FLAGGED:
                continue
            window = {f: r for f in (frame - 1, frame) if (r := self.result(f, obj_id)) is not None}
            found = [
                flag
                for flag in flags(window, self.frame_count, self.thresholds, obj_id)
                if flag.start <= frame
            ]
            if found:
                return dataclasses.replace(found[-1], start=frame, end=frame)
        return None

    def runs(self, obj_id: int) -> list[Flag]:
        """Runs of consecutive flagged frames of one object, in frame order."""
        runs: list[Flag] = []
        for frame, state in enumerate(self._lanes[obj_id].states):
            if state not in FLAGGED:
                continue
            if runs and runs[-1].end == frame - 1 and runs[-1].state is state:
                runs[-1] = dataclasses.replace(runs[-1], end=frame)
            else:
                runs.append(Flag(obj_id, frame, frame, state, state.value))
        return runs

    def next_run(self, obj_ids: Iterable[int], here: tuple[int, int], forward: bool) -> Flag | None:
        """The first run of any of `obj_ids` after (before) `here`, in (start frame, object id) order."""
        ordered = sorted(
            (run for obj_id in obj_ids for run in self.runs(obj_id)), key=lambda run: (run.start, run.obj_id)
        )
        if forward:
            return next((run for run in ordered if (run.start, run.obj_id) > here), None)
        return next((run for run in reversed(ordered) if (run.start, run.obj_id) < here), None)

    # ---- updates ----

    def take(self, results: Iterable[FrameResult]) -> bool:
        """Cache new results of followed objects (others were removed since); True when a lane changed."""
        changed = False
        for result in results:
            if result.obj_id not in self._lanes:
                continue
            self._results[result.obj_id][result.frame] = result
            self._refresh_states(result.obj_id, result.frame)
            changed = True
        return changed

    def refresh_prompted(self, obj_id: int) -> None:
        """Read the object's prompted frames again (after its prompts changed)."""
        self._lanes[obj_id].prompted = set(self.store.prompted_frames(obj_id))

    def drop_result(self, frame: int, obj_id: int) -> None:
        """The result on a frame whose prompts were removed is stale until re-tracked: delete it."""
        if self._results[obj_id].pop(frame, None) is not None:
            self.store.delete_results(obj_id=obj_id, frames=[frame])
            self._refresh_states(obj_id, frame)

    def _refresh_states(self, obj_id: int, changed: int) -> None:
        """Re-judge the frame whose result changed and the next one (judged against it).

        Only the neighbours enter `frame_states`, so one result costs O(1) mask maths, not O(frames).
        """
        results = self._results[obj_id]
        states = self._lanes[obj_id].states
        for frame in (changed, changed + 1):
            if 0 <= frame < self.frame_count:
                window = {f: r for f in (frame - 1, frame) if (r := results.get(f)) is not None}
                states[frame] = frame_states(window, self.frame_count, self.thresholds)[frame]
