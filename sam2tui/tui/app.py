"""`sam2tui VIDEO`: open (or resume) the session beside the video and run the annotation app;
`sam2tui DIR` on a folder of clips: the project screen, from which each clip opens in turn.

Everything that can fail on bad input (the video, the session, the settings, the model name) is checked
before the terminal switches to the app, so the CLI can print a one-line error instead.

The model options and the testing hook that swaps SAM 2 for a scripted tracker are shared with `sam2tui
track` (sam2tui/engine/options.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import yaml
from textual import work
from textual.app import App
from textual.binding import Binding, BindingsMap, BindingType
from textual.command import Provider

from sam2tui.engine.options import (
    TrackerChoice,
    add_model_arguments,
    chosen_tracker,
    cpu_note,
    model_spec,
    require_sam2,
)
from sam2tui.engine.tracker import Event, LoadModel, ModelSpec, OpenVideo, Replay
from sam2tui.engine.worker import EngineWorker, TrackerFactory
from sam2tui.errors import InputError, Sam2TuiError
from sam2tui.session.history import History
from sam2tui.session.project import add_classes as add_project_classes
from sam2tui.session.project import find_clips, is_clip, load_settings
from sam2tui.session.review import THRESHOLDS_KEY, save_thresholds, thresholds_from
from sam2tui.session.store import SessionStore, default_session_path
from sam2tui.tui.commands import ActionCommands
from sam2tui.tui.controller import AnnotationController
from sam2tui.tui.hangup import HangupGuard
from sam2tui.tui.messages import EngineEvent
from sam2tui.tui.screens.annotate import AnnotateScreen
from sam2tui.tui.screens.export import ExportScreen
from sam2tui.tui.screens.help import HelpScreen
from sam2tui.tui.screens.project import ProjectScreen
from sam2tui.tui.settings import RENDER_MODES, Settings
from sam2tui.tui.termcaps import RENDER_ENV, TermCaps, detect
from sam2tui.tui.widgets.frame_canvas import FrameCanvas
from sam2tui.video import VideoSource

log = logging.getLogger(__name__)
STOP_TIMEOUT = 60.0  # seconds to wait for the frame in flight when quitting


@dataclass(frozen=True)
class Project:
    """A project the app opened (`sam2tui DIR`): its folder and clips (session.project.find_clips)."""

    folder: Path
    clips: list[Path]


class Sam2TuiApp(App[int]):
    """The annotation app: one opened video and session (the caller opens and closes both), or a project
    whose clips the app opens one at a time, with one engine and one controller per open clip."""

    CSS_PATH = "sam2tui.tcss"
    TITLE = "sam2tui"
    # Only sam2tui's actions: Textual's system commands (theme, screenshot, maximize, keys) mean nothing here.
    COMMANDS: ClassVar[set[type[Provider]]] = {ActionCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        # A project's clip: escape (when there is nothing to cancel) goes back to the project, < > step.
        Binding(
            "escape",
            "back_to_project",
            "Project",
            show=False,
            id="app.back_to_project",
            tooltip="In a project's clip, with nothing to cancel: back to the project screen",
        ),
        Binding(
            "ctrl+pagedown",
            "switch_clip(1)",
            "Next clip",
            show=False,
            id="app.next_clip",
            tooltip="In a project: close this clip (all saved) and open the next one",
        ),
        Binding(
            "ctrl+pageup",
            "switch_clip(-1)",
            "Previous clip",
            show=False,
            id="app.previous_clip",
            tooltip="In a project: close this clip (all saved) and open the previous one",
        ),
    ]

    def __init__(
        self,
        video: VideoSource | None,
        store: SessionStore | None,
        *,
        tracker_factory: TrackerFactory,
        project: Project | None = None,
        model: ModelSpec = ModelSpec(),
        render: str = "halfblock",
        caps: TermCaps | None = None,
        render_note: str = "",
        cpu_note: str = "",
        settings: Settings | None = None,
    ) -> None:
        """`cpu_note`: what to tell the user when the model runs on the CPU (for SAM 2: the speed to expect;
        "" for a tracker that is not SAM 2). With `project`, `video` and `store` are None: the app opens
        (and closes) each clip's."""
        super().__init__()
        self.settings = settings or Settings()
        self.model_spec = model
        self.project = project
        self._tracker_factory = tracker_factory
        self._render, self._caps, self._render_note, self._cpu_note = render, caps, render_note, cpu_note
        self.clip_index = -1  # the project's open clip, -1 none
        self.project_screen: ProjectScreen | None = None
        self._quitting = False
        self._signalled = False  # SIGHUP or SIGTERM came: quit as soon as nothing running forbids it
        self._switching = False  # a clip is closing (its engine commits its last frame)
        self.farewell = ""  # the line printed once the app has left the terminal ("" : none)
        self.set_keymap(dict(self.settings.keys))
        if video is not None and store is not None:
            self._build_clip(video, store)

    def _build_clip(self, video: VideoSource, store: SessionStore) -> None:
        """The engine, controller and screen of one open clip."""
        self.video = video
        self.store = store
        self.engine = EngineWorker(self._tracker_factory, store, self._engine_event)
        self.controller = AnnotationController(
            store,
            History(store),
            len(video),
            self.engine,
            thresholds=thresholds_from(store),
            propagation_window=self.settings.propagation_window,
            palette=self.settings.palette,
            cpu_note=self._cpu_note,
            rename_key=self.settings.keys.get("annotate.rename_object", "R").split(",")[0],
            alert=lambda message: self.notify(message, severity="error", timeout=10),
        )
        self.controller.note_render_mode(self._render_note)
        self.annotate = AnnotateScreen(  # made here so that engine events can be posted to it
            self.controller, video, store, self._render, self._caps, mask_opacity=self.settings.mask_opacity
        )

    def on_mount(self) -> None:
        self._check_keymap()
        self._quit_on_hangup()
        if self.project is not None:
            self.project_screen = ProjectScreen(self.project.folder, self.project.clips)
            self.push_screen(self.project_screen)
            return
        self.install_screen(self.annotate, "annotate")
        self.push_screen("annotate")
        self._start_engine()

    def _start_engine(self) -> None:
        self.engine.start()
        self.engine.submit(OpenVideo(self.video.path))
        self.engine.submit(LoadModel(self.model_spec))
        prompts = tuple(self.store.frame_prompts())
        if prompts:  # a resumed session: rebuild the tracker's memory of the prompts
            self.engine.submit(Replay(prompts))
        self.call_after_refresh(freeze_heap)

    # ---- a project's clips ----

    def open_clip(self, index: int) -> None:
        """Open the project's clip `index`: its video and session (made when new), with the project's
        classes added to the session's list; a clip that cannot be opened is one notice."""
        assert self.project is not None
        clip = self.project.clips[index]
        try:
            video = VideoSource.open(clip)
        except Sam2TuiError as error:
            self.notify(str(error), severity="error", timeout=10)
            return
        try:
            fingerprint = video.fingerprint()
            store = SessionStore.open(default_session_path(video.path, fingerprint), fingerprint)
        except Sam2TuiError as error:
            video.close()
            self.notify(str(error), severity="error", timeout=10)
            return
        try:
            if store.setting(THRESHOLDS_KEY) is None:
                save_thresholds(store, self.settings.review)
            store.add_classes(load_settings(self.project.folder).classes)
        except Sam2TuiError as error:
            store.close()
            video.close()
            self.notify(str(error), severity="error", timeout=10)
            return
        self.clip_index = index
        self._build_clip(video, store)
        self.push_screen(self.annotate)
        self._start_engine()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("back_to_project", "switch_clip"):
            return self.clip_index >= 0 and self.screen is self.annotate and not self._switching
        return True

    def action_back_to_project(self) -> None:
        self._close_clip(None)

    def action_switch_clip(self, step: int) -> None:
        assert self.project is not None
        following = self.clip_index + step
        if not 0 <= following < len(self.project.clips):
            self.notify(f"no {'next' if step > 0 else 'previous'} clip", timeout=3)
            return
        self._close_clip(following)

    def _close_clip(self, then: int | None) -> None:
        """Close the open clip as quitting does (every edit is in the session; pending corrections stay
        pending), then open clip `then`, or show the project again with its counts read anew."""
        self._switching = True
        self.annotate.note_zoom()
        farewell = self.controller.quit()
        self.annotate.sync()
        if farewell:
            self.notify(f"{self.project.clips[self.clip_index].name}: {farewell}", timeout=6)  # type: ignore[union-attr]
        self._stop_engine(STOP_TIMEOUT if self.controller.model.ready else 1.0, then)

    async def _clip_closed(self, then: int | None) -> None:
        """On the UI thread, once the clip's engine has stopped: close its session and video."""
        assert self.project is not None and self.project_screen is not None
        # A class created in the clip joins the project's list.
        with contextlib.suppress(Sam2TuiError):  # an unwritable project folder: the session keeps it
            add_project_classes(self.project.folder, self.store.classes())
        self.store.close()
        self.video.close()
        await self.pop_screen()  # gone before the next clip's screen (the same id) is pushed
        self.project_screen.select(self.clip_index)
        self.clip_index = -1
        self._switching = False
        if then is not None:
            self.open_clip(then)

    def _quit_on_hangup(self) -> None:
        """SSH dropped (SIGHUP) or a kill (SIGTERM): save and quit as `q` does, instead of dying mid-frame;
        the guard makes sure the process ends even if the terminal's loss wedges the UI."""
        HangupGuard(asyncio.get_running_loop(), self._terminal_gone).install()

    def _terminal_gone(self, sig: signal.Signals) -> None:
        log.warning("%s: the terminal is gone; saving and quitting", sig.name)
        self._signalled = True
        self.call_later(self.action_quit)

    def _check_keymap(self) -> None:
        """Name the ids in settings.toml [keys] that no binding has (Textual ignores them silently)."""
        known = {
            binding.id
            for owner in (Sam2TuiApp, AnnotateScreen, FrameCanvas, ProjectScreen)
            for _key, binding in BindingsMap(owner.BINDINGS)
        }
        unknown = sorted(set(self.settings.keys) - known)
        if unknown:
            self.notify(
                f"settings.toml [keys]: no binding has the id {', '.join(unknown)} (? lists the ids)",
                severity="warning",
                timeout=10,
            )

    def _engine_event(self, event: Event) -> None:
        """Called on the engine's thread: hand the event to the screen that shows it, on the UI thread
        (post_message is thread-safe; the engine starts once the screen is installed)."""
        self.annotate.post_message(EngineEvent(event))

    def action_help(self) -> None:
        if self.project is not None and self.clip_index < 0:
            self.notify(
                "enter opens a clip; in a clip, escape comes back here and < > open the previous / next "
                "clip; f5 reads the counts again; q quits",
                timeout=10,
            )
            return
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.annotate))

    async def action_quit(self) -> None:
        """Cancel propagation, let the engine commit its last frame, then leave (every edit is saved); what
        is left stale is said in one line (`farewell`) once the terminal is back."""
        if self._quitting or self._switching:
            return
        if any(isinstance(screen, ExportScreen) and screen.running for screen in self.screen_stack):
            if self._signalled:  # nobody is there to quit later: quit once the export is written
                self.set_timer(0.5, self.action_quit)
                return
            self.notify("an export is running: quit when it is done", severity="warning")
            return
        self._quitting = True
        if self.project is not None and self.clip_index < 0:  # on the project screen: nothing is open
            self.exit(0)
            return
        self.annotate.note_zoom()
        self.farewell = self.controller.quit()
        self.annotate.sync()
        # While the model is still loading (or downloading) there is nothing to commit: do not wait for it.
        self._stop_engine(STOP_TIMEOUT if self.controller.model.ready else 1.0)

    @work(thread=True, group="quit")
    def _stop_engine(self, timeout: float, then: int | None = None) -> None:
        """Let the engine commit its frame in flight and stop; then quit, or (a project's clip closing
        without quitting) close the clip and open clip `then`."""
        self.engine.stop(timeout)
        if self._quitting:
            if self.project is not None:
                self.call_from_thread(self._clip_closed, None)
            self.call_from_thread(self.exit, 0)
        else:
            self.call_from_thread(self._clip_closed, then)


def freeze_heap() -> None:
    """Exempt what exists after start-up (Textual's, torch's modules) from garbage collection.

    A full collection walks every tracked object: ~150 ms on the UI thread here (measured), a visible stall
    whenever it runs; with the start-up heap frozen, collections only walk what was made since.
    """
    gc.collect()
    gc.freeze()


# ---- the command line ----


def add_annotate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "video",
        type=Path,
        help="a video file or a folder of .jpg/.png frames; or a project: a folder of such clips",
    )
    parser.add_argument("--session", type=Path, help="the session file (default: <video>.sam2tui beside it)")
    add_model_arguments(parser)
    parser.add_argument(
        "--render",
        choices=RENDER_MODES,
        help=f"how frames are drawn (default: ${RENDER_ENV}, else settings.toml, else auto)",
    )
    parser.add_argument(
        "--classes",
        type=Path,
        metavar="FILE",
        help="preload the session's class list: one name per line, or a YOLO data.yaml with `names`",
    )


def load_classes(path: Path) -> list[str]:
    """The class names of `--classes FILE`, in order: a YOLO data.yaml (`names` as a list or as index: name),
    else one name per line (blank lines and # comments skipped). InputError for a file that names none."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            path, f"cannot read the class list: {getattr(error, 'strerror', None) or error}"
        ) from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InputError(path, f"not valid YAML: {str(error).splitlines()[0]}") from None
        names = document.get("names") if isinstance(document, dict) else None
        if isinstance(names, dict):
            names = [names[key] for key in sorted(names)]
        if not isinstance(names, list):
            raise InputError(path, "a data.yaml needs `names`: a list, or a mapping of index to name")
    else:
        names = [line.strip() for line in text.splitlines()]
        names = [name for name in names if name and not name.startswith("#")]
    classes = [str(name).strip() for name in names if str(name).strip()]
    if not classes:
        raise InputError(path, "names no class")
    return list(dict.fromkeys(classes))


def run_annotate(args: argparse.Namespace) -> int:
    """Open the video and its session, then run the app; Sam2TuiError for bad input (before the UI starts)."""
    settings = Settings.load()
    render = args.render or os.environ.get(RENDER_ENV) or settings.render
    if render not in RENDER_MODES:
        raise InputError(RENDER_ENV, f"must be one of {', '.join(RENDER_MODES)}, not {render!r}")
    spec = model_spec(args)
    classes = load_classes(args.classes) if args.classes else []
    tracker = chosen_tracker()
    if tracker.runs_sam2:
        require_sam2()
    if args.video.is_dir() and not is_clip(args.video):
        return run_project(args.video, args, settings, render, spec, classes, tracker)
    with VideoSource.open(args.video) as video:
        fingerprint = video.fingerprint()
        path = args.session or default_session_path(video.path, fingerprint)
        with SessionStore.open(path, fingerprint) as store:  # "in use by PID n" comes first
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                raise Sam2TuiError(
                    "the app needs a terminal (stdin and stdout); for scripts use `sam2tui track`"
                )
            if store.setting(THRESHOLDS_KEY) is None:
                save_thresholds(store, settings.review)
            store.add_classes(classes)
            code = launch(video, store, None, settings, render, spec, tracker)
    return code


def run_project(
    folder: Path,
    args: argparse.Namespace,
    settings: Settings,
    render: str,
    spec: ModelSpec,
    classes: list[str],
    tracker: TrackerChoice,
) -> int:
    """`sam2tui DIR`: the project screen of the clips in DIR (each clip keeps its own session)."""
    if args.session is not None:
        raise InputError(folder, "--session names one clip's session; a project's clips each have their own")
    clips = find_clips(folder)  # "no clips in this folder" comes first
    load_settings(folder)  # a damaged project file is one line now, not a failure in the app
    if classes:
        add_project_classes(folder, classes)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise Sam2TuiError("the app needs a terminal (stdin and stdout); for scripts use `sam2tui track`")
    return launch(None, None, Project(folder, clips), settings, render, spec, tracker)


def launch(
    video: VideoSource | None,
    store: SessionStore | None,
    project: Project | None,
    settings: Settings,
    render: str,
    spec: ModelSpec,
    tracker: TrackerChoice,
) -> int:
    """Run the app on one clip (video and store) or on a project; its farewell (what stays stale) is printed."""
    caps = detect()  # before the app owns the terminal (docs/architecture.md, "Terminal facts")
    renderer, note = caps.renderer_choice(render)
    app = Sam2TuiApp(
        video,
        store,
        project=project,
        tracker_factory=tracker.factory,
        model=spec,
        render=renderer,
        caps=caps,
        render_note=note,
        cpu_note=cpu_note(spec) if tracker.runs_sam2 else "",
        settings=settings,
    )
    code = app.run()
    if app.farewell:
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            print(app.farewell)
    return code or 0
