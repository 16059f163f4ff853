"""The annotation state as plain, immutable values: objects, prompts and per-frame results.

Coordinates are pixels of the original video (x right, y down); frames are 0-based.
Masks travel as COCO compressed RLE dicts: {"size": [height, width], "counts": "<str>"}.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

Rle = dict[str, Any]
"""COCO compressed RLE: {"size": [h, w], "counts": str}. See sam2tui.masks."""

Color = tuple[int, int, int]
Box = tuple[int, int, int, int]
"""A mask's tight box: x, y, width, height in pixels (COCO convention)."""

BoxCorners = tuple[float, float, float, float]
"""A box prompt: x0, y0, x1, y1 in pixels (what SAM 2 takes)."""

POSITIVE = 1
NEGATIVE = 0

# Distinct, colour-blind-friendly colours (Okabe-Ito, then Tableau) for object ids 1, 2, ...
PALETTE: tuple[Color, ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
)


def default_color(obj_id: int) -> Color:
    """The palette colour of an object id (1-based ids cycle through the palette)."""
    return PALETTE[(obj_id - 1) % len(PALETTE)]


@dataclass(frozen=True)
class TrackedObject:
    """One object to track. `obj_id` is stable for the session's life (1, 2, ...)."""

    obj_id: int
    name: str
    class_name: str = "object"
    color: Color = (230, 159, 0)


class Direction(str, Enum):
    """Which way propagation runs from its start frame."""

    FORWARD = "forward"
    BACKWARD = "backward"
    BOTH = "both"


class PromptKind(str, Enum):
    POINT = "point"
    BOX = "box"
    MASK = "mask"


@dataclass(frozen=True)
class Prompt:
    """One user action on one frame for one object: a point with a label, a box, or a mask."""

    frame: int
    obj_id: int
    kind: PromptKind
    point: tuple[float, float] | None = None
    label: int | None = None  # POSITIVE or NEGATIVE, with kind POINT
    box: BoxCorners | None = None
    mask: Rle | None = None

    @classmethod
    def click(cls, frame: int, obj_id: int, x: float, y: float, positive: bool = True) -> Prompt:
        return cls(frame, obj_id, PromptKind.POINT, point=(x, y), label=POSITIVE if positive else NEGATIVE)

    @classmethod
    def rectangle(cls, frame: int, obj_id: int, box: BoxCorners) -> Prompt:
        x0, y0, x1, y1 = box
        return cls(frame, obj_id, PromptKind.BOX, box=(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))

    @classmethod
    def from_mask(cls, frame: int, obj_id: int, mask: Rle) -> Prompt:
        return cls(frame, obj_id, PromptKind.MASK, mask=mask)


@dataclass(frozen=True)
class FramePrompt:
    """Everything prompted for one object on one frame, in the order the user made it.

    The engine applies the steps one at a time, as SAM 2's interactive loop does: each click refines the
    mask so far (all clicks since the last box or mask, plus the previous mask logits). A mask replaces
    everything before it on its frame, so `steps` starts at the latest mask, if any.
    """

    frame: int
    obj_id: int
    steps: tuple[Prompt, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.steps

    @property
    def final_mask(self) -> Rle | None:
        """The mask the steps end with (the user's label on this frame), else None."""
        if self.steps and self.steps[-1].kind is PromptKind.MASK:
            return self.steps[-1].mask
        return None

    @property
    def is_absent(self) -> bool:
        """The steps end in an empty mask: the user said the object is not on this frame."""
        mask = self.final_mask
        return mask is not None and _rle_is_empty(mask)

    @classmethod
    def collect(cls, frame: int, obj_id: int, prompts: Iterable[Prompt]) -> FramePrompt:
        """The prompts of one (frame, object), in the order they were made."""
        steps: list[Prompt] = []
        for p in prompts:
            if p.frame != frame or p.obj_id != obj_id:
                continue
            if p.kind is PromptKind.MASK:
                steps.clear()  # a new mask replaces everything prompted before it on this frame
            steps.append(p)
        return cls(frame, obj_id, tuple(steps))


def _rle_is_empty(rle: Rle) -> bool:
    """Whether a COCO RLE as pycocotools writes it (no zero-length runs but a leading one) is all background:
    one run at most. Compressed counts spend 6-bit characters per run, 0x20 marking "more follow"."""
    counts = rle["counts"]
    if isinstance(counts, list):
        return not any(counts[1::2])
    text = counts.decode() if isinstance(counts, bytes) else str(counts)
    return sum(1 for ch in text if not (ord(ch) - 48) & 0x20) <= 1


@dataclass(frozen=True)
class FrameResult:
    """The tracker's output for one object on one frame, at video resolution."""

    frame: int
    obj_id: int
    rle: Rle
    score: float  # SAM 2's object_score_logits: about +6..+8 when tracked, < 0 when lost
    box: Box | None  # None when the mask is empty
    area: int
    model: str = ""
    # Connected parts of the mask (8-connectivity), counted where the mask is at hand (see
    # masks.result_from_mask) so that review need not decode it; None = not counted. Derived from `rle`,
    # so it takes no part in equality.
    parts: int | None = field(default=None, compare=False)
    # The session's edit sequence number when the result was stored (SessionStore stamps it): a result older
    # than a pending correction whose span holds its frame is stale. Bookkeeping, so not part of equality.
    edit_seq: int = field(default=0, compare=False)

    @property
    def is_empty(self) -> bool:
        return self.area == 0


class LabelState(str, Enum):
    """What one object's label on one frame is (docs/architecture.md, "Label states")."""

    UNTRACKED = "untracked"  # no result and no prompt: nobody knows, it is NOT a frame without the object
    PROMPTED = "prompted"  # the user labelled the frame (clicks, box, mask): its result is that label
    ABSENT = "absent"  # the user said "not here": the frame's prompts end with an empty mask
    CURRENT = "current"  # tracked from the object's current prompts
    STALE = "stale"  # tracked from prompts that changed since: to re-track (or export on request)


LABELLED = frozenset({LabelState.PROMPTED, LabelState.ABSENT, LabelState.CURRENT})
"""The states an export writes by default."""


@dataclass(frozen=True)
class PendingCorrection:
    """A prompt edit of `obj_id` on `frame` whose span is not re-tracked yet (a row of the session).

    `edit_seq` is the session's edit number of the edit: results in its span stored before it are stale."""

    obj_id: int
    frame: int
    edit_seq: int


@dataclass
class ReviewThresholds:
    """When a tracked frame is flagged for review (stored in the session's settings)."""

    low_score: float = 2.0  # positive object score below this is doubtful
    area_jump: float = 0.5  # relative area change to the previous frame above this is doubtful
    min_iou: float = 0.5  # IoU with the previous frame below this is doubtful
    max_parts: int = 3  # a mask in more connected parts than this is doubtful
    extra: dict[str, Any] = field(default_factory=dict)
