"""`sam2tui DIR`: the project screen under Pilot on a generated project of three tiny clips, with the
scripted tracker: rows read from the sessions, Enter opens a clip, < > go to the next / previous clip,
escape comes back with the counts read again, and classes flow between the project file and the sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import DataTable

from sam2tui.cli import main
from sam2tui.engine.options import TEST_TRACKER_ENV
from sam2tui.engine.tracker import result_from_mask
from sam2tui.export import export_to_folder
from sam2tui.session.project import (
    LAST_EXPORT_KEY,
    ProjectSettings,
    find_clips,
    load_settings,
    save_settings,
    summarize_clip,
)
from sam2tui.session.store import SessionStore
from sam2tui.tui.app import Project, Sam2TuiApp
from sam2tui.tui.screens.annotate import AnnotateScreen
from sam2tui.tui.screens.project import ProjectScreen, model_cell, row
from sam2tui.tui.widgets.status_bar import frame_models
from sam2tui.values import Prompt
from sam2tui.video import VideoSource
from tests.fixtures_tui import WIDE_CLIP, screen_text, settle, write_clip_folder
from tests.scripted_tracker import ScriptedTracker
from tests.test_tmux import sam2tui_command
from tests.tmux_driver import Tmux, needs_tmux

SIZE = (120, 32)
FRAMES = 6


def make_project(root: Path) -> Path:
    """Clips a, b, c (6 PNG frames each); b has a session: one object, prompted on frame 0 and tracked on
    0-3 by "sam2.1-tiny", frame 5 said absent. The project file lists the classes car, person."""
    folder = root / "project"
    for name in ("a", "b", "c"):
        write_clip_folder(folder / name, FRAMES, WIDE_CLIP)
    save_settings(folder, ProjectSettings(["car", "person"]))
    with (
        VideoSource.open(folder / "b") as video,
        SessionStore.open(folder / "b.sam2tui", video.fingerprint()) as store,
    ):
        store.add_object(class_name="person", obj_id=1)
        mask = np.zeros((video.height, video.width), bool)
        mask[20:40, 30:50] = True
        empty = np.zeros_like(mask)
        store.add_prompts(
            [Prompt.click(0, 1, 40.0, 30.0), Prompt.from_mask(5, 1, result_from_mask(5, 1, empty, -5.0).rle)]
        )
        tracked = [result_from_mask(f, 1, mask, 8.0, "sam2.1-tiny") for f in range(4)]
        store.put_results([*tracked, result_from_mask(5, 1, empty, -5.0, "sam2.1-tiny")])
        store.set_setting(LAST_EXPORT_KEY, "2026-01-02T03:04:05+00:00")
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def app(project: Path) -> Iterator[Sam2TuiApp]:
    tracker = ScriptedTracker()
    made = Sam2TuiApp(
        None, None, project=Project(project, find_clips(project)), tracker_factory=lambda s, p: tracker
    )
    yield made
    if made.clip_index >= 0:  # a failed test left a clip open
        made.engine.stop(10)
        made.store.close()
        made.video.close()


def test_a_clips_row_says_what_its_session_holds(project: Path) -> None:
    started = summarize_clip(project / "b")
    assert (started.frames, started.objects, started.labelled, started.absent, started.stale) == (
        FRAMES,
        1,
        4,
        1,
        0,
    )
    assert started.models == {"sam2.1-tiny": 4} and started.exported == "2026-01-02T03:04:05+00:00"
    # The review flags the empty mask of frame 5 (lost), as the app's timeline does.
    assert row(started) == ("b", "6", "1", "4", "0", "1", "1", "sam2.1-tiny", "2026-01-02 03:04")
    fresh = summarize_clip(project / "a", exported="2026-02-01T00:00:00+00:00")
    assert row(fresh) == ("a", "not started", "", "", "", "", "", "", "2026-02-01 00:00")
    assert model_cell({"": 2, "sam2.1-large": 5}) == "sam2.1-large, unrecorded"
    (project / "c.sam2tui").write_text("damaged")
    broken = row(summarize_clip(project / "c"))
    assert broken[1] == "cannot read" and "c.sam2tui" in broken[7]


def cells(app: Sam2TuiApp, name: str) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(value) for value in table.get_row(name)]


async def test_open_a_clip_step_to_the_next_and_come_back(app: Sam2TuiApp, project: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ProjectScreen)
        await settle(pilot, lambda: len(screen.summaries) == 3)
        assert cells(app, "a")[1] == "not started" and cells(app, "b")[1:4] == ["6", "1", "4"]
        assert cells(app, "b")[7] == "sam2.1-tiny"
        await pilot.pause(0.1)
        assert "not started" in screen_text(app) and "sam2.1-tiny" in screen_text(app)

        await pilot.press("enter")  # the cursor is on the first clip
        await settle(pilot, lambda: isinstance(app.screen, AnnotateScreen) and app.controller.model.ready)
        assert app.clip_index == 0 and Path(app.video.path).name == "a"
        assert app.store.classes()[:2] == ["car", "person"]  # the project's classes joined the session's
        canvas = app.annotate.canvas
        await settle(pilot, lambda: canvas.frame_index == 0)
        await pilot.click(canvas, offset=(30, 12))  # object 1's first point, tracked by the scripted model
        await settle(pilot, lambda: not app.engine.busy and not app.controller.busy and app.store.results())
        await pilot.pause(0.1)
        assert "masks by scripted" in screen_text(app)  # the status bar says which model made the masks
        app.store.add_classes(["bike"])  # as the new-object dialog does with a new class

        await pilot.press("ctrl+pagedown")  # the next clip, without leaving the app
        await settle(pilot, lambda: app.clip_index == 1 and isinstance(app.screen, AnnotateScreen))
        await settle(pilot, lambda: app.controller.model.ready)
        assert Path(app.video.path).name == "b" and len(app.store.objects()) == 1
        assert "bike" in load_settings(project).classes  # a's new class joined the project file
        assert "bike" in app.store.classes()
        with SessionStore.open_snapshot(project / "a.sam2tui") as a:  # a was closed with its edits saved
            assert len(a.prompts()) == 1 and a.results()

        await pilot.press("ctrl+pageup")
        await settle(pilot, lambda: app.clip_index == 0 and isinstance(app.screen, AnnotateScreen))
        await settle(pilot, lambda: app.controller.model.ready)
        await pilot.press("escape")  # nothing to cancel: back to the project
        await settle(pilot, lambda: isinstance(app.screen, ProjectScreen) and app.clip_index == -1)
        await settle(pilot, lambda: cells(app, "a")[1] != "not started")
        await settle(pilot, lambda: cells(app, "a")[7] == "scripted")
        assert int(cells(app, "a")[2]) == 1 and int(cells(app, "a")[3]) >= 1

        await pilot.press("q")
    assert app.return_code == 0


async def test_quit_from_inside_a_clip_closes_it(app: Sam2TuiApp, project: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ProjectScreen))
        await pilot.press("down", "enter")  # clip b
        await settle(pilot, lambda: isinstance(app.screen, AnnotateScreen) and app.controller.model.ready)
        assert Path(app.video.path).name == "b"
        await pilot.press("q")
        await settle(pilot, lambda: app.clip_index == -1, timeout=20)
    with SessionStore.open(project / "b.sam2tui") as store:  # its lock was released
        assert len(store.objects()) == 1


def test_frame_models_in_the_status_bar() -> None:
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = True
    results = [result_from_mask(0, 1, mask, 8.0, "sam2.1-large"), result_from_mask(0, 2, mask, 8.0)]
    assert frame_models(results) == "masks by sam2.1-large, unrecorded"
    assert frame_models([result_from_mask(0, 1, ~mask & False, -3.0, "x")]) == ""


def test_a_folder_without_clips_or_a_damaged_project_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TEST_TRACKER_ENV, "tests.scripted_tracker:make_tracker")
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no clips in this folder" in err and len(err.splitlines()) == 1
    folder = make_project(tmp_path)
    (folder / "sam2tui-project.json").write_text("{")
    assert main([str(folder)]) == 2
    err = capsys.readouterr().err
    assert "not a sam2tui project file" in err and len(err.splitlines()) == 1
    assert main([str(folder / "a")]) == 2  # a frame folder stays one clip (here: no terminal)
    assert "needs a terminal" in capsys.readouterr().err


def test_an_export_from_the_app_notes_when_it_ran_and_a_snapshot_export_still_works(
    project: Path, tmp_path: Path
) -> None:
    with SessionStore.open_snapshot(project / "b.sam2tui") as snapshot:  # the CLI's: nothing to note in
        export_to_folder(snapshot, ["coco"], tmp_path / "cli")
    assert summarize_clip(project / "b").exported == "2026-01-02T03:04:05+00:00"
    with SessionStore.open(project / "b.sam2tui") as store:  # the app's dialog: a writable session
        export_to_folder(store, ["coco"], tmp_path / "app")
    assert summarize_clip(project / "b").exported > "2026-01-02T03:04:05+00:00"


@pytest.mark.tmux
@needs_tmux
def test_sam2tui_dir_in_a_real_terminal(tmux: Tmux, project: Path, tmp_path: Path) -> None:
    """The installed command on a project folder: the list, a clip, the next clip, back, quit."""
    classes = tmp_path / "classes.txt"
    classes.write_text("truck\n")
    command = " ".join([*sam2tui_command(), str(project), "--render", "halfblock", "--classes", str(classes)])
    tmux.start(
        f"{command}; echo SAM2TUI_EXIT=$?; sleep 60",
        SAM2TUI_TEST_TRACKER="tests.scripted_tracker:make_tracker",
    )
    tmux.wait_screen(lambda s: "not started" in s and "sam2.1-tiny" in s, "the project's rows")
    tmux.keys("Enter")
    tmux.wait_screen(lambda s: "ready on cpu" in s, "clip a's model to be ready")
    tmux.click(30, 12)
    tmux.wait_screen(lambda s: "object 1  car" in s, "object 1 (the project's first class) after the click")
    tmux.keys("C-NPage")
    tmux.wait_screen(lambda s: "ready on cpu" in s and "object 1  person" in s, "clip b, with its object")
    tmux.keys("Escape")
    tmux.wait_screen(lambda s: "scripted" in s and "not started" in s, "the project again, a's row read anew")
    tmux.keys("q")
    tmux.wait_screen(lambda s: "SAM2TUI_EXIT=0" in s, "the app to quit cleanly")
    assert load_settings(project).classes[:3] == ["car", "person", "truck"]
