"""Pure parts of the widgets and the settings file: timeline cell mapping, settings parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam2tui.session.lanes import Lane
from sam2tui.session.review import FrameState
from sam2tui.tui.settings import Settings, SettingsError, settings_path
from sam2tui.tui.state import PropagationStatus
from sam2tui.tui.widgets.timeline import LaneData, cell_ranges, cursor_cells, lane_cells
from sam2tui.values import LabelState, ReviewThresholds, TrackedObject


@pytest.mark.parametrize(("frames", "cells"), [(20, 68), (20, 20), (7, 100), (1000, 68), (69, 68), (1, 5)])
def test_cells_cover_every_frame_once_in_order(frames: int, cells: int) -> None:
    ranges = cell_ranges(frames, cells)
    assert len(ranges) == cells
    covered = [f for r in ranges for f in r]
    assert sorted(set(covered)) == list(range(frames))
    assert covered == sorted(covered)
    for frame in range(frames):
        shown = cursor_cells(frame, frames, cells)
        assert len(shown) >= 1
        assert all(frame in ranges[c] for c in shown)


def test_a_compressed_cell_shows_the_worst_state_and_prompts() -> None:
    states = [FrameState.PRESENT] * 10
    states[3] = FrameState.DOUBTFUL
    states[4] = FrameState.LOST
    states[8] = FrameState.UNTRACKED
    labels = [LabelState.UNTRACKED if s is FrameState.UNTRACKED else LabelState.CURRENT for s in states]
    labels[6] = LabelState.PROMPTED
    lane = LaneData(TrackedObject(1, "a"), Lane(states, labels, {6}))
    glyphs = [glyph for glyph, _ in lane_cells(lane, cell_ranges(10, 5))]
    assert glyphs == ["█", "?", "✕", "◆", "█"]


def test_stale_and_absent_frames_have_their_own_marks() -> None:
    P, S, A, U = LabelState.PROMPTED, LabelState.STALE, LabelState.ABSENT, LabelState.UNTRACKED
    labels = [P, S, S, A, U, S]
    states = [FrameState.UNTRACKED if label in (A, U) else FrameState.PRESENT for label in labels]
    states[5] = FrameState.LOST  # stale wins: it is to be re-tracked whatever it shows now
    lane = LaneData(TrackedObject(1, "a"), Lane(states, labels, {0, 3}))
    assert [glyph for glyph, _ in lane_cells(lane, cell_ranges(6, 6))] == ["◆", "▒", "▒", "◇", "·", "▒"]
    # Compressed: a cell with a stale frame shows stale over lost, doubtful and present.
    assert [glyph for glyph, _ in lane_cells(lane, cell_ranges(6, 3))] == ["◆", "◇", "▒"]


def test_propagation_status_describes_speed_and_eta() -> None:
    status = PropagationStatus(running=True, done=30, total=90, frames_per_second=12.0)
    assert status.describe() == "propagating 30/90 frames, 12.0 fps, ETA 5s"
    assert PropagationStatus(running=True, total=10).describe() == "propagating 0/10 frames"


def test_settings_defaults_without_a_file(tmp_path: Path) -> None:
    settings = Settings.load(tmp_path / "missing.toml")
    assert settings == Settings()
    assert settings.propagation_window == 30 and settings.render == "auto"


def test_settings_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        'render = "halfblock"\npropagation_window = 12\nmask_opacity = 0.8\npalette = ["#ff0000", "00ff00"]\n'
        '[review]\nlow_score = 1.5\nmax_parts = 2\n[keys]\n"annotate.propagate" = "P"\n',
        encoding="utf-8",
    )
    settings = Settings.load(path)
    assert settings.render == "halfblock" and settings.propagation_window == 12
    assert settings.mask_opacity == 0.8
    assert settings.palette == ((255, 0, 0), (0, 255, 0))
    assert settings.review == ReviewThresholds(low_score=1.5, max_parts=2)
    assert settings.keys == {"annotate.propagate": "P"}


def test_settings_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAM2TUI_CONFIG_DIR", str(tmp_path))
    assert settings_path() == tmp_path / "settings.toml"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("render = 'vga'", "render must be one of"),
        ("propagation_window = 0", "propagation_window"),
        ("mask_opacity = 1.5", "mask_opacity must be a number from 0 to 1"),
        ("mask_opacity = true", "mask_opacity must be a number from 0 to 1"),
        ("colour = 1", "unknown setting 'colour'"),
        ("palette = ['red']", "palette colour 'red'"),
        ("[review]\nlow_score = 'x'", "review.low_score"),
        ("[keys]\n'annotate.undo' = 3", "[keys]"),
        ("render = ", "cannot read settings"),
    ],
)
def test_bad_settings_name_the_file_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        Settings.load(path)
    assert str(error.value).startswith(f"{path}: ") and problem in str(error.value)
