"""Undo and redo of prompt and object edits, kept in the session file so they survive a restart.

Every edit is applied to the store and recorded in one transaction. Results are derived data: undoing or
redoing a prompt edit is a prompt edit like any other, so the store records a pending correction and the
results in its span become stale until re-tracked (docs/guide.md, "Undo and redo"). An object's removal
keeps its results and pending corrections in the edit, so that undoing it brings the object back as it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from sam2tui.errors import SessionError
from sam2tui.session import schema
from sam2tui.session.store import SessionStore
from sam2tui.values import FrameResult, PendingCorrection, Prompt, TrackedObject


class EditKind(str, Enum):
    ADD_PROMPT = "add_prompt"
    CLEAR_PROMPTS = "clear_prompts"
    ADD_OBJECT = "add_object"
    REMOVE_OBJECT = "remove_object"
    UPDATE_OBJECT = "update_object"  # a new name or class
    SWAP_OBJECTS = "swap_objects"  # obj_id and other trade identities from frame on
    MERGE_OBJECTS = "merge_objects"  # obj_id merged into other
    SPLIT_OBJECT = "split_object"  # obj_id's frames from frame on given to a new object, other
    REPLACE_PROMPTS = "replace_prompts"  # a frame's prompts edited in place (a point deleted or moved)


@dataclass(frozen=True)
class Edit:
    """One undoable change. `prompts`: the prompt added, the prompts cleared, or a removed object's;
    `obj`, `results` and `pending`: the object as it was removed (or added), with its results and pending
    corrections; for an update, `obj` is the object after it and `previous` before it; for a replacement,
    `prompts` are the frame's prompts after it and `replaced` before it. An identity edit names its second
    object `other`; a merge keeps both objects as they were (`obj` the merged one, `previous` the one it
    went into, with the prompts, results and pending corrections of both), a split the object it made
    (`obj`)."""

    kind: EditKind
    frame: int | None
    obj_id: int
    prompts: tuple[Prompt, ...] = ()
    obj: TrackedObject | None = None
    results: tuple[FrameResult, ...] = ()
    pending: tuple[PendingCorrection, ...] = ()
    previous: TrackedObject | None = None
    other: int | None = None
    replaced: tuple[Prompt, ...] = ()

    def to_json(self) -> str:
        value: dict[str, Any] = {
            "kind": self.kind.value,
            "frame": self.frame,
            "obj_id": self.obj_id,
            "prompts": [schema.prompt_to_json(p) for p in self.prompts],
            "obj": None if self.obj is None else schema.object_to_json(self.obj),
            "results": [schema.result_to_json(r) for r in self.results],
            "pending": [[p.obj_id, p.frame, p.edit_seq] for p in self.pending],
            "previous": None if self.previous is None else schema.object_to_json(self.previous),
            "other": self.other,
            "replaced": [schema.prompt_to_json(p) for p in self.replaced],
        }
        return schema.dumps(value)

    @classmethod
    def from_json(cls, text: str) -> Edit:
        value = json.loads(text)
        return cls(
            EditKind(value["kind"]),
            None if value["frame"] is None else int(value["frame"]),
            int(value["obj_id"]),
            tuple(schema.prompt_from_json(p) for p in value["prompts"]),
            None if value["obj"] is None else schema.object_from_json(value["obj"]),
            tuple(schema.result_from_json(r) for r in value["results"]),
            tuple(PendingCorrection(int(o), int(f), int(seq)) for o, f, seq in value.get("pending", [])),
            None if value.get("previous") is None else schema.object_from_json(value["previous"]),
            None if value.get("other") is None else int(value["other"]),
            tuple(schema.prompt_from_json(p) for p in value.get("replaced", [])),
        )


class History:
    """Edits of a session that can be undone and redone; use it instead of the store's own edit methods."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store

    def add_prompt(self, prompt: Prompt) -> Edit:
        return self.add_prompts([prompt])

    def add_prompts(self, prompts: Sequence[Prompt]) -> Edit:
        """Add prompts of one object (on one frame or several) as one edit: one undo takes them all back."""
        if not prompts or any(p.obj_id != prompts[0].obj_id for p in prompts):
            raise ValueError("one edit adds one or more prompts of one object")
        first = prompts[0]
        return self._record(Edit(EditKind.ADD_PROMPT, first.frame, first.obj_id, tuple(prompts)))

    def clear_prompts(self, frame: int, obj_id: int) -> Edit:
        """Clear an object's prompts on a frame; clearing nothing is not recorded."""
        with self._store.transaction():
            if not self._store.prompts(frame, obj_id):
                return Edit(EditKind.CLEAR_PROMPTS, frame, obj_id)
            return self._record(Edit(EditKind.CLEAR_PROMPTS, frame, obj_id))

    def replace_prompts(self, frame: int, obj_id: int, prompts: Sequence[Prompt]) -> Edit:
        """Give an object's frame these prompts instead of its stored ones, in this order (a point deleted
        or moved): one edit, undone by putting the old ones back in their order."""
        if any((p.frame, p.obj_id) != (frame, obj_id) for p in prompts):
            raise ValueError(f"a replacement holds prompts of object {obj_id} on frame {frame} only")
        with self._store.transaction():
            replaced = tuple(self._store.prompts(frame, obj_id))
            edit = Edit(EditKind.REPLACE_PROMPTS, frame, obj_id, tuple(prompts), replaced=replaced)
            return self._record(edit)

    def add_object(self, name: str | None = None, class_name: str = "object") -> tuple[TrackedObject, Edit]:
        with self._store.transaction():
            obj = self._store.add_object(name, class_name)
            edit = Edit(EditKind.ADD_OBJECT, None, obj.obj_id, obj=obj)
            self._store.history_push(edit.to_json())
        return obj, edit

    def remove_object(self, obj_id: int) -> Edit:
        """Remove an object with its prompts and results (all three come back on undo)."""
        return self._record(Edit(EditKind.REMOVE_OBJECT, None, obj_id))

    def update_object(self, obj: TrackedObject) -> Edit:
        """Give an object a new name or class (or colour): `obj` as it is to be."""
        with self._store.transaction():
            previous = next((o for o in self._store.objects() if o.obj_id == obj.obj_id), None)
            if previous is None:
                raise ValueError(f"no object {obj.obj_id}")
            return self._record(Edit(EditKind.UPDATE_OBJECT, None, obj.obj_id, obj=obj, previous=previous))

    def swap_objects(self, first: int, second: int, from_frame: int) -> Edit:
        """Exchange two objects' identities from `from_frame` on (prompts, results, pending corrections)."""
        return self._record(Edit(EditKind.SWAP_OBJECTS, from_frame, first, other=second))

    def merge_objects(self, source: int, target: int, frame: int | None = None) -> Edit:
        """Merge `source` into `target` (see SessionStore.merge_objects); `frame`: where the user was."""
        return self._record(Edit(EditKind.MERGE_OBJECTS, frame, source, other=target))

    def split_object(self, obj_id: int, from_frame: int, new: TrackedObject) -> Edit:
        """Give the object's frames from `from_frame` on to `new`, a new object of the same class."""
        return self._record(Edit(EditKind.SPLIT_OBJECT, from_frame, obj_id, obj=new, other=new.obj_id))

    def peek(self, *, undo: bool) -> Edit | None:
        """The edit that undo (redo) would revert (apply again), without doing it."""
        step = self._store.history_peek(undo=undo)
        return None if step is None else self._parse(*step)

    def undo(self) -> Edit | None:
        """Revert the newest edit; returns it (None when there is nothing to undo)."""
        return self._step(undo=True)

    def redo(self) -> Edit | None:
        """Apply the newest undone edit again; returns it (None when there is nothing to redo)."""
        return self._step(undo=False)

    def _record(self, edit: Edit) -> Edit:
        with self._store.transaction():
            done = self._apply(edit, forward=True)
            self._store.history_push(done.to_json())
        return done

    def _step(self, *, undo: bool) -> Edit | None:
        with self._store.transaction():
            step = self._store.history_step(undo=undo)
            if step is None:
                return None
            record_id, record = step
            edit = self._parse(record_id, record)
            done = self._apply(edit, forward=not undo)
            if done != edit:
                self._store.history_rewrite(record_id, done.to_json())
        return done

    def _parse(self, record_id: int, record: str) -> Edit:
        try:
            return Edit.from_json(record)
        except (ValueError, KeyError, TypeError) as error:
            raise SessionError(self._store.path, f"damaged undo record {record_id}: {error!r}") from None

    def _apply(self, edit: Edit, *, forward: bool) -> Edit:
        """Apply `edit` (or its inverse); returns it with what it removed, for the way back."""
        store = self._store
        if edit.kind is EditKind.ADD_PROMPT:
            if forward:
                store.add_prompts(edit.prompts)
            else:
                for prompt in reversed(edit.prompts):
                    store.remove_prompt(prompt)
            return edit
        if edit.kind is EditKind.CLEAR_PROMPTS:
            assert edit.frame is not None
            if forward:
                return replace(edit, prompts=tuple(store.clear_prompts(edit.frame, edit.obj_id)))
            store.add_prompts(edit.prompts)
            return edit
        if edit.kind is EditKind.REPLACE_PROMPTS:
            assert edit.frame is not None
            store.clear_prompts(edit.frame, edit.obj_id)
            store.add_prompts(edit.prompts if forward else edit.replaced)
            return edit
        if edit.kind is EditKind.UPDATE_OBJECT:
            target = edit.obj if forward else edit.previous
            assert target is not None
            store.update_object(target)
            return edit
        if edit.kind in _IDENTITY_EDITS:
            return self._apply_identity(edit, forward=forward)
        if forward == (edit.kind is EditKind.REMOVE_OBJECT):
            return self._take_object(edit)
        assert edit.obj is not None
        store.restore_object(edit.obj, edit.prompts, edit.results, edit.pending)
        return edit

    def _take_object(self, edit: Edit) -> Edit:
        """Remove the edit's object, keeping it, its prompts and its results in the edit."""
        store = self._store
        obj = next((o for o in store.objects() if o.obj_id == edit.obj_id), None)
        if obj is None:
            raise ValueError(f"no object {edit.obj_id}")
        taken = replace(
            edit,
            obj=obj,
            prompts=tuple(store.prompts(obj_id=edit.obj_id)),
            results=tuple(store.results(obj_id=edit.obj_id)),
            pending=tuple(store.pending_corrections(obj_id=edit.obj_id)),
        )
        store.remove_object(edit.obj_id)
        return taken

    def _apply_identity(self, edit: Edit, *, forward: bool) -> Edit:
        """Swap, merge or split (or revert one); a merge keeps both objects as they were, for the way back."""
        store = self._store
        assert edit.other is not None
        if edit.kind is EditKind.SWAP_OBJECTS:
            assert edit.frame is not None
            store.swap_objects(edit.obj_id, edit.other, edit.frame)  # its own inverse
            return edit
        if edit.kind is EditKind.SPLIT_OBJECT:
            assert edit.frame is not None and edit.obj is not None
            if forward:
                store.split_object(edit.obj_id, edit.frame, edit.obj)
            else:
                store.merge_objects(edit.other, edit.obj_id)  # the new object's frames go back: no overlap
            return edit
        if not forward:
            assert edit.obj is not None and edit.previous is not None
            store.replace_objects([edit.obj, edit.previous], edit.prompts, edit.results, edit.pending)
            return edit
        objects = {obj.obj_id: obj for obj in store.objects()}
        both = (edit.obj_id, edit.other)
        missing = [obj_id for obj_id in both if obj_id not in objects]
        if missing:
            raise ValueError(f"no object {missing[0]}")
        taken = replace(
            edit,
            obj=objects[edit.obj_id],
            previous=objects[edit.other],
            prompts=tuple(p for obj_id in both for p in store.prompts(obj_id=obj_id)),
            results=tuple(r for obj_id in both for r in store.results(obj_id=obj_id)),
            pending=tuple(p for obj_id in both for p in store.pending_corrections(obj_id=obj_id)),
        )
        store.merge_objects(edit.obj_id, edit.other)
        return taken


_IDENTITY_EDITS = frozenset({EditKind.SWAP_OBJECTS, EditKind.MERGE_OBJECTS, EditKind.SPLIT_OBJECT})
