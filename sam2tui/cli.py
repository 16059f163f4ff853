"""Command line entry point: `sam2tui VIDEO` (annotate), `track`, `export`, `models`, `doctor`.

Each subcommand lives in the module that owns its work; this file only parses and dispatches, and
imports those modules lazily so that `sam2tui --help` answers without loading torch or Textual.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import platformdirs

from sam2tui import __version__
from sam2tui.errors import Sam2TuiError


@dataclass(frozen=True)
class Subcommand:
    help: str
    module: str  # defines add_<name>_arguments(parser) and run_<name>(args) -> int
    name: str

    def functions(
        self,
    ) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
        module = importlib.import_module(self.module)
        return getattr(module, f"add_{self.name}_arguments"), getattr(module, f"run_{self.name}")


SUBCOMMANDS: dict[str, Subcommand] = {
    "annotate": Subcommand("open the terminal app on a video (the default)", "sam2tui.tui.app", "annotate"),
    "track": Subcommand(
        "track objects headlessly: a video, a session or a folder of clips", "sam2tui.track.cli", "track"
    ),
    "export": Subcommand(
        "write a session's or a project's labels as COCO, MOT, YOLO, DAVIS, YouTube-VIS, SA-V",
        "sam2tui.export.cli",
        "export",
    ),
    "models": Subcommand("list or download SAM 2 checkpoints", "sam2tui.engine.checkpoints", "models"),
    "doctor": Subcommand(
        "check this machine and terminal, and name the fix for what fails", "sam2tui.doctor", "doctor"
    ),
}

USAGE = """sam2tui VIDEO [options]            label a video in the terminal
       sam2tui DIR [options]              a project: a folder of clips, one row per clip
       sam2tui track VIDEO --prompts FILE [options]
       sam2tui track DIR [--model NAME] [--ray [ADDRESS]]
       sam2tui export SESSION|DIR --format F --out PATH
       sam2tui models [download NAME]
       sam2tui doctor"""


def build_parser(name: str) -> tuple[argparse.ArgumentParser, Callable[[argparse.Namespace], int]]:
    sub = SUBCOMMANDS[name]
    prog = "sam2tui" if name == "annotate" else f"sam2tui {name}"
    parser = OneLineParser(prog=prog, description=sub.help)
    add_arguments, run = sub.functions()
    add_arguments(parser)
    return parser, run


def print_overview() -> None:
    print(f"sam2tui {__version__}: label videos for object tracking with SAM 2, in the terminal.\n")
    print("usage: " + USAGE + "\n")
    for name, sub in SUBCOMMANDS.items():
        print(f"  {name:<9} {sub.help}")
    print("\n`sam2tui COMMAND --help` describes each command's options.")


def log_path() -> Path:
    """sam2tui.log in the user state directory ($SAM2TUI_STATE_DIR overrides it)."""
    override = os.environ.get("SAM2TUI_STATE_DIR")
    folder = Path(override).expanduser() if override else Path(platformdirs.user_state_dir("sam2tui"))
    return folder / "sam2tui.log"


def configure_logging() -> None:
    """Send log records (engine failures with their tracebacks, a lost terminal) to the log file.

    Never to stderr: the user sees one line per problem, the log keeps the details. Logging must not
    itself fail a run (a read-only home, a full disk), hence the NullHandler fallback.
    """
    logging.raiseExceptions = False
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    try:
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    root.addHandler(handler)


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments are one line, like every other error of the tool (usage stays on --help)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]  # "" for the app, "track" for `sam2tui track`
        self.exit(2, f"sam2tui: {command + ': ' if command else ''}{message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print_overview()
        return 0 if args else 2
    if args[0] == "--version":
        print(f"sam2tui {__version__}")
        return 0
    configure_logging()
    name = args[0] if args[0] in SUBCOMMANDS else "annotate"
    if name == args[0]:
        args = args[1:]
    try:
        parser, run = build_parser(name)
        return run(parser.parse_args(args))
    except Sam2TuiError as error:
        print(f"sam2tui: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("sam2tui: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
