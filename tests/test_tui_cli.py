"""`sam2tui VIDEO`: bad input is reported in one line before the terminal switches to the app."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sam2tui.cli import main
from sam2tui.engine.options import TEST_TRACKER_ENV, TrackerChoice, chosen_tracker, sam2_tracker
from sam2tui.tui.app import add_annotate_arguments, load_classes
from tests.fixtures_tui import write_clip_folder
from tests.scripted_tracker import make_tracker


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_a_missing_video_is_one_line_before_the_ui(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(capsys, str(tmp_path / "missing.mp4"))
    assert code == 2
    assert err == f"sam2tui: {tmp_path / 'missing.mp4'}: no such file or folder\n"


def test_a_file_that_is_not_a_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, err = run(capsys, str(notes))
    assert code == 2 and err.startswith(f"sam2tui: {notes}: not a video file")


def test_an_unknown_model_fails_early(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = write_clip_folder(tmp_path / "clip", count=2)
    with pytest.raises(SystemExit) as exit_:
        main([str(clip), "--model", "sam9-giant"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "invalid choice: 'sam9-giant'" in err
    assert not (tmp_path / "clip.sam2tui").exists()


@pytest.mark.parametrize(
    ("size", "problem"), [("100", "100 is not a multiple of 32"), ("big", "'big' is not")]
)
def test_a_bad_image_size_fails_early_like_track(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str, problem: str
) -> None:
    clip = write_clip_folder(tmp_path / "clip", count=2)
    errors = []
    for command in ([str(clip)], ["track", str(clip), "--prompts", "p.json"]):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--image-size", size])
        assert exit_.value.code == 2
        errors.append(capsys.readouterr().err.splitlines()[-1])
    assert errors[0].startswith(f"sam2tui: argument --image-size: {problem}")
    assert errors[0] == errors[1].replace("sam2tui: track:", "sam2tui:")  # the same check as `track`
    assert not (tmp_path / "clip.sam2tui").exists()


def test_a_bad_settings_file_fails_early(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAM2TUI_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.toml").write_text("render = 'vga'\n")
    code, err = run(capsys, str(tmp_path / "whatever.mp4"))
    assert code == 2 and "settings.toml: render must be one of" in err


def test_the_testing_hook_names_a_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    assert chosen_tracker() == TrackerChoice(sam2_tracker, runs_sam2=True)
    monkeypatch.setenv(TEST_TRACKER_ENV, "tests.scripted_tracker:make_tracker")
    assert chosen_tracker() == TrackerChoice(make_tracker, runs_sam2=False)


def test_a_broken_testing_hook_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_TRACKER_ENV, "tests.nowhere:make")
    code, err = run(capsys, str(tmp_path / "clip"))
    assert code == 2 and err.startswith(f"sam2tui: {TEST_TRACKER_ENV}: cannot import the tracker factory")


def test_annotate_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_annotate_arguments(parser)
    args = parser.parse_args(["v.mp4", "--render", "sixel", "--image-size", "512", "--device", "cpu"])
    assert (args.video, args.render, args.image_size, args.device, args.model) == (
        Path("v.mp4"),
        "sixel",
        512,
        "cpu",
        "sam2.1-tiny",
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["v.mp4", "--render", "ascii"])


def test_without_a_terminal_the_app_says_to_use_track(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = write_clip_folder(tmp_path / "clip", count=2)
    code, err = run(capsys, str(clip))  # pytest's stdin is not a terminal
    assert (
        code == 2
        and err == "sam2tui: the app needs a terminal (stdin and stdout); for scripts use `sam2tui track`\n"
    )


def test_classes_file_one_name_per_line_or_a_yolo_data_yaml(tmp_path: Path) -> None:
    lines = tmp_path / "classes.txt"
    lines.write_text("# our classes\nperson\n\n  car \nperson\nbike\n")
    assert load_classes(lines) == ["person", "car", "bike"]
    listed = tmp_path / "data.yaml"
    listed.write_text("train: images\nnames: [cat, dog]\n")
    assert load_classes(listed) == ["cat", "dog"]
    mapped = tmp_path / "data.yml"
    mapped.write_text("nc: 3\nnames:\n  1: car\n  0: person\n  2: 'traffic light'\n")
    assert load_classes(mapped) == ["person", "car", "traffic light"]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("empty.txt", "\n# nothing\n", "names no class"),
        ("data.yaml", "train: images\n", "a data.yaml needs `names`"),
        ("bad.yaml", "names: [a, b\n", "not valid YAML"),
    ],
)
def test_a_bad_classes_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, problem: str
) -> None:
    clip = write_clip_folder(tmp_path / "clip", count=2)
    classes = tmp_path / name
    classes.write_text(text)
    code, err = run(capsys, str(clip), "--classes", str(classes))
    assert code == 2 and err.startswith(f"sam2tui: {classes}: {problem}") and err.count("\n") == 1
    code, err = run(capsys, str(clip), "--classes", str(tmp_path / "missing.txt"))
    assert code == 2 and "cannot read the class list" in err
