"""The project folder: which entries are clips, and the project file's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam2tui.errors import InputError
from sam2tui.session.project import (
    EXPORT_MARKER,
    PROJECT_FILE,
    ProjectSettings,
    add_classes,
    find_clips,
    load_settings,
    save_settings,
)


def make_folder(root: Path) -> Path:
    (root / "b.mp4").write_bytes(b"")
    (root / "a.MOV").write_bytes(b"")
    (root / "a.mp4.sam2tui").write_bytes(b"")  # a session, not a clip
    (root / "notes.txt").write_text("x")
    (root / ".hidden.mp4").write_bytes(b"")
    frames = root / "c_frames"
    frames.mkdir()
    (frames / "00000.jpg").write_bytes(b"")
    (root / "empty").mkdir()
    nested = root / "deep"
    (nested / "inner").mkdir(parents=True)
    (nested / "inner" / "0.png").write_bytes(b"")  # frames one level further down: not a clip
    exported = root / "davis"
    exported.mkdir()
    (exported / "00000.png").write_bytes(b"")
    (exported / EXPORT_MARKER).write_text("davis\n")  # an export's folder: not a clip
    return root


def test_clips_are_the_folders_videos_and_frame_folders_in_name_order(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    assert [p.name for p in find_clips(root)] == ["a.MOV", "b.mp4", "c_frames"]


def test_a_folder_without_clips_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="no clips in this folder") as caught:
        find_clips(tmp_path)
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(InputError, match="not a folder"):
        find_clips(tmp_path / "notes.txt")


def test_settings_round_trip_and_default(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == ProjectSettings()
    settings = ProjectSettings(["person", "dog"], 7, (0.7, 0.2, 0.1))
    save_settings(tmp_path, settings)
    assert load_settings(tmp_path) == settings
    assert [p.name for p in tmp_path.iterdir()] == [PROJECT_FILE]  # no temporary file left behind
    assert add_classes(tmp_path, ["dog", "cat"]).classes == ["person", "dog", "cat"]
    assert load_settings(tmp_path).classes == ["person", "dog", "cat"]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("[1]", "not a JSON object"),
        ('{"classes": "person"}', "`classes` must be a list of names"),
        ('{"split": {"ratios": [0.5, "x", 0]}}', "`split.ratios` must be a list of numbers"),
        ('{"split": {"ratios": [0.5, 0.5]}}', "three numbers"),
        ('{"split": {"seed": 1.5}}', "`split.seed` must be a whole number"),
        ("{", "not a sam2tui project file"),
    ],
)
def test_a_damaged_project_file_is_one_line_naming_it(tmp_path: Path, document: str, problem: str) -> None:
    (tmp_path / PROJECT_FILE).write_text(document)
    with pytest.raises(InputError, match="not a sam2tui project file") as caught:
        load_settings(tmp_path)
    message = str(caught.value)
    assert problem in message and PROJECT_FILE in message and "\n" not in message
