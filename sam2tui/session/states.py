"""What each (frame, object) is: prompted, absent, tracked and current, stale, or untracked.

Computed from the session's rows, never guessed (docs/architecture.md, "Label states"):
- a frame with prompts of the object is PROMPTED, or ABSENT when its prompts end with an empty mask;
- a frame with a result is STALE when a pending correction of the object holds it in its span
  (`correction_spans`, the rule `r` re-tracks) and the result was stored before that correction's edit;
  otherwise CURRENT;
- every other frame is UNTRACKED: nobody knows, which is not the same as "no object here".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sam2tui import masks
from sam2tui.session.spans import correction_spans
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, LabelState, PendingCorrection, Prompt, PromptKind


def prompted_states(prompts: Iterable[Prompt]) -> dict[int, LabelState]:
    """PROMPTED or ABSENT for each frame the prompts (one object's, in their order) touch."""
    last: dict[int, Prompt] = {}
    for prompt in prompts:
        last[prompt.frame] = prompt
    return {frame: LabelState.ABSENT if _says_absent(p) else LabelState.PROMPTED for frame, p in last.items()}


def _says_absent(prompt: Prompt) -> bool:
    return prompt.kind is PromptKind.MASK and prompt.mask is not None and masks.area(prompt.mask) == 0


def stale_frames(
    prompted: Iterable[int], results: Mapping[int, FrameResult], pending: Iterable[PendingCorrection]
) -> set[int]:
    """The frames of one object whose results came before a pending correction that covers them."""
    prompted_frames = sorted(set(prompted))
    stale: set[int] = set()
    for correction in pending:
        for span in correction_spans(correction.frame, prompted_frames, results.keys()):
            stale.update(
                frame
                for frame in span.frames
                if (result := results.get(frame)) is not None and result.edit_seq < correction.edit_seq
            )
    return stale.difference(prompted_frames)


def object_states(
    frame_count: int,
    prompts: Sequence[Prompt],
    results: Mapping[int, FrameResult],
    pending: Sequence[PendingCorrection],
) -> list[LabelState]:
    """The state of frames 0..frame_count-1 of one object, from its prompts (in order), results by frame
    and pending corrections."""
    states = [LabelState.UNTRACKED] * frame_count
    for frame in results:
        if 0 <= frame < frame_count:
            states[frame] = LabelState.CURRENT
    prompted = prompted_states(prompts)
    for frame in stale_frames(prompted, results, pending):
        if 0 <= frame < frame_count:
            states[frame] = LabelState.STALE
    for frame, state in prompted.items():
        if 0 <= frame < frame_count:
            states[frame] = state
    return states


def label_states(store: SessionStore, frame_count: int) -> dict[int, list[LabelState]]:
    """Every object's states (by object id), from one read of the session."""
    prompts: dict[int, list[Prompt]] = {}
    for prompt in store.prompts():
        prompts.setdefault(prompt.obj_id, []).append(prompt)
    results: dict[int, dict[int, FrameResult]] = {}
    for result in store.results():
        results.setdefault(result.obj_id, {})[result.frame] = result
    pending: dict[int, list[PendingCorrection]] = {}
    for correction in store.pending_corrections():
        pending.setdefault(correction.obj_id, []).append(correction)
    return {
        obj.obj_id: object_states(
            frame_count, prompts.get(obj.obj_id, []), results.get(obj.obj_id, {}), pending.get(obj.obj_id, [])
        )
        for obj in store.objects()
    }


def settled_pending(
    prompts: Iterable[Prompt], results: Mapping[int, FrameResult], pending: Iterable[PendingCorrection]
) -> list[PendingCorrection]:
    """One object's pending corrections that have no stale frame left (a propagation covered their spans,
    or there was nothing tracked to redo): the caller drops them with `SessionStore.drop_pending`."""
    prompted = sorted({p.frame for p in prompts})
    return [c for c in pending if not stale_frames(prompted, results, [c])]


def settle(store: SessionStore) -> list[PendingCorrection]:
    """Drop every settled pending correction of the session; returns those dropped."""
    settled: list[PendingCorrection] = []
    for obj in store.objects():
        pending = store.pending_corrections(obj.obj_id)
        if pending:
            settled += settled_pending(
                store.prompts(obj_id=obj.obj_id), store.results_by_frame(obj.obj_id), pending
            )
    store.drop_pending(settled)
    return settled


@dataclass(frozen=True)
class StateCounts:
    """How many (frame, object) pairs are in each state."""

    by_state: Mapping[LabelState, int]

    def __getitem__(self, state: LabelState) -> int:
        return self.by_state.get(state, 0)

    def describe(self) -> str:
        """One line, e.g. "37 prompted, 120 current, 12 stale, 2 absent, 106 untracked"."""
        order = (
            LabelState.PROMPTED,
            LabelState.CURRENT,
            LabelState.ABSENT,
            LabelState.STALE,
            LabelState.UNTRACKED,
        )
        return ", ".join(f"{self[state]} {state.value}" for state in order if self[state])


def count_states(states: Mapping[int, Sequence[LabelState]]) -> StateCounts:
    """Counts per state over every object's frames."""
    counter: Counter[LabelState] = Counter()
    for lane in states.values():
        counter.update(lane)
    return StateCounts(dict(counter))
