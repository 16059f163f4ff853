"""`sam2tui VIDEO`: open (or resume) the session beside the video and run the annotation app.

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
from pathlib import Path
from typing import ClassVar

import yaml
from textual import work
from textual.app import App
from textual.binding import Binding, BindingsMap, BindingType
from textual.command import Provider

from sam2tui.engine.options import (
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
from sam2tui.session.review import THRESHOLDS_KEY, save_thresholds, thresholds_from
from sam2tui.session.store import SessionStore, default_session_path
from sam2tui.tui.commands import ActionCommands
from sam2tui.tui.controller import AnnotationController
from sam2tui.tui.messages import EngineEvent
from sam2tui.tui.screens.annotate import AnnotateScreen
from sam2tui.tui.screens.export import ExportScreen
from sam2tui.tui.screens.help import HelpScreen
from sam2tui.tui.settings import RENDER_MODES, Settings
from sam2tui.tui.termcaps import RENDER_ENV, TermCaps, detect
from sam2tui.tui.widgets.frame_canvas import FrameCanvas
from sam2tui.video import VideoSource

log = logging.getLogger(__name__)
STOP_TIMEOUT = 60.0  # seconds to wait for the frame in flight when quitting


class Sam2TuiApp(App[int]):
    """The annotation app for one opened video and session. The caller opens and closes both."""

    CSS_PATH = "sam2tui.tcss"
    TITLE = "sam2tui"
    # Only sam2tui's actions: Textual's system commands (theme, screenshot, maximize, keys) mean nothing here.
    COMMANDS: ClassVar[set[type[Provider]]] = {ActionCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
    ]

    def __init__(
        self,
        video: VideoSource,
        store: SessionStore,
        *,
        tracker_factory: TrackerFactory,
        model: ModelSpec = ModelSpec(),
        render: str = "halfblock",
        caps: TermCaps | None = None,
        render_note: str = "",
        cpu_note: str = "",
        settings: Settings | None = None,
    ) -> None:
        """`cpu_note`: what to tell the user when the model runs on the CPU (for SAM 2: the speed to expect;
        "" for a tracker that is not SAM 2)."""
        super().__init__()
        self.video = video
        self.store = store
        self.settings = settings or Settings()
        self.model_spec = model
        self.engine = EngineWorker(tracker_factory, store, self._engine_event)
        self.controller = AnnotationController(
            store,
            History(store),
            len(video),
            self.engine,
            thresholds=thresholds_from(store),
            propagation_window=self.settings.propagation_window,
            palette=self.settings.palette,
            cpu_note=cpu_note,
            rename_key=self.settings.keys.get("annotate.rename_object", "R").split(",")[0],
            alert=lambda message: self.notify(message, severity="error", timeout=10),
        )
        self.controller.note_render_mode(render_note)
        self.annotate = AnnotateScreen(  # made here so that engine events can be posted to it
            self.controller, video, store, render, caps, mask_opacity=self.settings.mask_opacity
        )
        self._quitting = False
        self.farewell = ""  # the line printed once the app has left the terminal ("" : none)
        self.set_keymap(dict(self.settings.keys))

    def on_mount(self) -> None:
        self.install_screen(self.annotate, "annotate")
        self.push_screen("annotate")
        self.engine.start()
        self.engine.submit(OpenVideo(self.video.path))
        self.engine.submit(LoadModel(self.model_spec))
        prompts = tuple(self.store.frame_prompts())
        if prompts:  # a resumed session: rebuild the tracker's memory of the prompts
            self.engine.submit(Replay(prompts))
        self.call_after_refresh(freeze_heap)
        self._check_keymap()
        self._quit_on_hangup()

    def _quit_on_hangup(self) -> None:
        """SSH dropped (SIGHUP) or a kill (SIGTERM): save and quit as `q` does, instead of dying mid-frame."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):  # not the main thread
                loop.add_signal_handler(sig, self._terminal_gone, sig)

    def _terminal_gone(self, sig: signal.Signals) -> None:
        log.warning("%s: the terminal is gone; saving and quitting", sig.name)
        self.call_later(self.action_quit)

    def _check_keymap(self) -> None:
        """Name the ids in settings.toml [keys] that no binding has (Textual ignores them silently)."""
        known = {
            binding.id
            for owner in (Sam2TuiApp, AnnotateScreen, FrameCanvas)
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
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.annotate))

    async def action_quit(self) -> None:
        """Cancel propagation, let the engine commit its last frame, then leave (every edit is saved); what
        is left stale is said in one line (`farewell`) once the terminal is back."""
        if self._quitting:
            return
        if any(isinstance(screen, ExportScreen) and screen.running for screen in self.screen_stack):
            self.notify("an export is running: quit when it is done", severity="warning")
            return
        self._quitting = True
        self.annotate.note_zoom()
        self.farewell = self.controller.quit()
        self.annotate.sync()
        # While the model is still loading (or downloading) there is nothing to commit: do not wait for it.
        self._stop_engine(STOP_TIMEOUT if self.controller.model.ready else 1.0)

    @work(thread=True, group="quit")
    def _stop_engine(self, timeout: float) -> None:
        self.engine.stop(timeout)
        self.call_from_thread(self.exit, 0)


def freeze_heap() -> None:
    """Exempt what exists after start-up (Textual's, torch's modules) from garbage collection.

    A full collection walks every tracked object: ~150 ms on the UI thread here (measured), a visible stall
    whenever it runs; with the start-up heap frozen, collections only walk what was made since.
    """
    gc.collect()
    gc.freeze()


# ---- the command line ----


def add_annotate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="a video file or a folder of .jpg/.png frames")
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
            caps = detect()  # before the app owns the terminal (docs/architecture.md, "Terminal facts")
            renderer, note = caps.renderer_choice(render)
            app = Sam2TuiApp(
                video,
                store,
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
