"""The timeline under the frame: a ruler with the current-frame cursor, then one lane per object.

A lane shows, per frame, where the object was prompted (◆), said absent (◇), and whether a tracked frame
is present, doubtful, lost, or stale (▒: tracked from prompts that changed since), or untracked (·). A
short video is stretched over the whole lane (a frame spans one or more cells); when the video has more
frames than the lane has cells, each cell stands for a run of frames and shows, after prompts and absent
marks, the worst state among them (stale > lost > doubtful > present > untracked). Clicking seeks to the
cell's first frame (and picks the lane's object).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from sam2tui.session.lanes import Lane
from sam2tui.session.review import FrameState
from sam2tui.tui.messages import SeekRequested
from sam2tui.values import Color, LabelState, TrackedObject

LABEL_WIDTH = 4  # " 12 " before each lane
MAX_LANES = 8

# Worse states win when a cell covers several frames; a stale frame is shown stale whatever its review.
SEVERITY = {FrameState.UNTRACKED: 0, FrameState.PRESENT: 1, FrameState.DOUBTFUL: 2, FrameState.LOST: 3}
STALE_SEVERITY = 4
GLYPHS = {FrameState.UNTRACKED: "·", FrameState.PRESENT: "█", FrameState.DOUBTFUL: "?", FrameState.LOST: "✕"}
PROMPT_GLYPH = "◆"
ABSENT_GLYPH = "◇"
STALE_GLYPH = "▒"
CURSOR_GLYPH = "▼"

DIM = Style(color="grey42")
DOUBTFUL = Style(color="black", bgcolor="#d7af00", bold=True)
LOST = Style(color="white", bgcolor="#af0000", bold=True)
STALE = Style(color="grey70", bgcolor="grey30")
RULER = Style(color="grey70")
CURSOR = Style(color="white", bold=True)
CURSOR_CELL = Style(reverse=True)


@dataclass(frozen=True)
class LaneData:
    """What the timeline draws of one object."""

    obj: TrackedObject
    lane: Lane


@lru_cache(maxsize=64)
def _colour_style(color: Color, on_prompt: bool) -> Style:
    hex_colour = "#{:02x}{:02x}{:02x}".format(*color)
    if on_prompt:
        return Style(color="white", bgcolor=hex_colour, bold=True)
    return Style(color=hex_colour)


def cell_ranges(frame_count: int, cells: int) -> list[range]:
    """The frames each cell stands for: a frame over one or more cells when they fit, else even runs."""
    if frame_count <= 0 or cells <= 0:
        return []
    if frame_count <= cells:
        return [range(c * frame_count // cells, c * frame_count // cells + 1) for c in range(cells)]
    return [range(c * frame_count // cells, (c + 1) * frame_count // cells) for c in range(cells)]


def cursor_cells(frame: int, frame_count: int, cells: int) -> range:
    """The cells that show `frame`."""
    if frame_count <= cells:
        return range(-(-frame * cells // frame_count), -(-(frame + 1) * cells // frame_count))
    cell = -(-(frame + 1) * cells // frame_count) - 1  # the last cell whose run starts at or before it
    return range(cell, cell + 1)


def _severity(lane: LaneData, frame: int) -> int:
    if lane.lane.labels[frame] is LabelState.STALE:
        return STALE_SEVERITY
    return SEVERITY[lane.lane.states[frame]]


def lane_cells(lane: LaneData, ranges: Sequence[range]) -> list[tuple[str, Style]]:
    """One (glyph, style) per cell: a prompt marker where one was prompted, else an absent mark where the
    user said "not here", else the worst state of its frames."""
    cells = []
    labels = lane.lane.labels
    for frames in ranges:
        worst_frame = max(frames, key=lambda f: _severity(lane, f))
        worst = lane.lane.states[worst_frame]
        if any(labels[f] is LabelState.PROMPTED for f in frames):
            cells.append((PROMPT_GLYPH, _colour_style(lane.obj.color, True)))
        elif any(labels[f] is LabelState.ABSENT for f in frames):
            cells.append((ABSENT_GLYPH, _colour_style(lane.obj.color, False)))
        elif labels[worst_frame] is LabelState.STALE:
            cells.append((STALE_GLYPH, STALE))
        elif worst is FrameState.PRESENT:
            cells.append((GLYPHS[worst], _colour_style(lane.obj.color, False)))
        elif worst is FrameState.DOUBTFUL:
            cells.append((GLYPHS[worst], DOUBTFUL))
        elif worst is FrameState.LOST:
            cells.append((GLYPHS[worst], LOST))
        else:
            cells.append((GLYPHS[worst], DIM))
    return cells


class Timeline(Widget):
    """Ruler + lanes; `update_lanes` gives it data, `set_frame` moves the cursor."""

    DEFAULT_CSS = """
    Timeline { height: auto; min-height: 2; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.frame_count = 1
        self.frame = 0
        self.selected: int | None = None
        self._lanes: list[LaneData] = []
        self._cells: dict[tuple[int, int], list[tuple[str, Style]]] = {}  # (obj_id, width) ->

    # ---- data ----

    def update_lanes(
        self, lanes: Sequence[LaneData], frame_count: int, frame: int, selected: int | None
    ) -> None:
        """New lane data (after results arrived or objects changed); redraws everything."""
        resized = len(lanes) != len(self._lanes)
        self._lanes = list(lanes)
        self.frame_count = max(1, frame_count)
        self.frame = frame
        self.selected = selected
        self._cells.clear()
        self.refresh(layout=resized)

    def set_frame(self, frame: int, selected: int | None) -> None:
        """Move the cursor; lanes are not recomputed."""
        if (frame, selected) != (self.frame, self.selected):
            self.frame, self.selected = frame, selected
            self.refresh()

    def visible_lanes(self) -> list[LaneData]:
        """At most MAX_LANES lanes, scrolled so that the selected object's lane is shown."""
        if len(self._lanes) <= MAX_LANES:
            return self._lanes
        index = next((i for i, lane in enumerate(self._lanes) if lane.obj.obj_id == self.selected), 0)
        first = min(max(0, index - MAX_LANES + 1), len(self._lanes) - MAX_LANES)
        return self._lanes[first : first + MAX_LANES]

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 1 + max(1, len(self.visible_lanes()))

    @property
    def cells(self) -> int:
        return max(1, self.size.width - LABEL_WIDTH)

    # ---- drawing ----

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        cells = self.cells
        cursor = cursor_cells(self.frame, self.frame_count, cells)
        if y == 0:
            return self._ruler(width, cells, cursor)
        lanes = self.visible_lanes()
        if not lanes:
            hint = Segment(" " * LABEL_WIDTH + "no objects yet: click on the frame", DIM)
            return self._fit(Strip([hint]), width)
        if y - 1 >= len(lanes):
            return Strip.blank(width, self.rich_style)
        lane = lanes[y - 1]
        key = (lane.obj.obj_id, cells)
        if key not in self._cells:
            self._cells[key] = lane_cells(lane, cell_ranges(self.frame_count, cells))
        label_style = _colour_style(lane.obj.color, lane.obj.obj_id == self.selected)
        segments = [Segment(f"{lane.obj.obj_id:>3} "[-LABEL_WIDTH:], label_style)]
        for index, (glyph, style) in enumerate(self._cells[key]):
            segments.append(Segment(glyph, style + CURSOR_CELL if index in cursor else style))
        return self._fit(Strip(segments), width)

    def _fit(self, strip: Strip, width: int) -> Strip:
        """Exactly `width` cells, on the widget's own background."""
        return strip.crop_extend(0, width, None).apply_style(self.rich_style)

    def _ruler(self, width: int, cells: int, cursor: range) -> Strip:
        """Frame 0 at the left, the last frame at the right end, the cursor with the current number."""
        used = len(cell_ranges(self.frame_count, cells))
        line = [" "] * cells
        here = str(self.frame)
        mark = cursor.start + len(cursor) // 2
        start = mark + 2 if mark + 2 + len(here) <= cells else max(0, mark - 1 - len(here))
        taken = range(min(start, mark) - 2, max(start + len(here), mark + 1) + 1)  # with a gap
        end_label = str(self.frame_count - 1)
        end_at = used - len(end_label)
        if end_at > 1 and end_at not in taken and used - 1 not in taken:
            line[end_at:used] = list(end_label)
        if 0 not in taken:
            line[0] = "0"
        line[start : start + len(here)] = list(here)
        line[mark] = CURSOR_GLYPH
        bright = set(range(start, start + len(here))) | {mark}
        segments = [Segment(" " * LABEL_WIDTH, RULER)]
        segments += [Segment(ch, CURSOR if i in bright else RULER) for i, ch in enumerate(line)]
        return self._fit(Strip(segments), width)

    # ---- mouse ----

    def frame_at(self, x: int) -> int | None:
        """The first frame of the cell under column `x`; None on the labels."""
        column = x - LABEL_WIDTH
        if column < 0:
            return None
        ranges = cell_ranges(self.frame_count, self.cells)
        return ranges[column].start if column < len(ranges) else None

    def on_click(self, event: events.Click) -> None:
        event.stop()
        frame = self.frame_at(event.x)
        lanes = self.visible_lanes()
        obj_id = lanes[event.y - 1].obj.obj_id if 1 <= event.y <= len(lanes) else None
        if frame is None and obj_id is None:
            return
        self.post_message(SeekRequested(self.frame if frame is None else frame, obj_id))
