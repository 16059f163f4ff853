"""`sam2tui track VIDEO --prompts FILE`: track without a terminal UI, save into the session, export.

`sam2tui track SESSION --model NAME` re-tracks a session with its own prompts on another model (draft with
tiny in the app, finalise with large): the model is part of what was tracked, so it starts over, and every
stored result records the model that made it. `sam2tui track DIR ...` does the same for every clip of a
project folder (batch.py), one after another or as Ray tasks (`--ray`, on_ray.py).

Running the same command again continues where the last run stopped (clip.py says how). Exit status: 0
done, 2 bad input, 1 the engine failed, 130 interrupted (what was tracked is saved).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from tqdm import tqdm

from sam2tui.engine.checkpoints import resolve_checkpoint
from sam2tui.engine.device import resolve_device
from sam2tui.engine.options import add_model_arguments, chosen_tracker, cpu_note
from sam2tui.errors import InputError, PromptsError
from sam2tui.export import parse_export_target
from sam2tui.session.project import is_clip
from sam2tui.session.store import SESSION_SUFFIX, SessionStore
from sam2tui.track.batch import run_batch
from sam2tui.track.clip import ReadPrompts, prepare_clip, track_clip, track_settings
from sam2tui.track.prelabels import add_prelabel_arguments, prelabels_from_args
from sam2tui.track.prompts_file import load_prompts
from sam2tui.values import Direction


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "video",
        type=Path,
        help="video file or folder of frames; a session file (.sam2tui): re-track it with its own "
        "prompts; or a project folder: each of its clips",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--prompts", type=Path, metavar="FILE", help="prompts JSON (see the README)")
    add_prelabel_arguments(parser, source)
    add_model_arguments(parser)
    parser.add_argument(
        "--direction",
        choices=[d.value for d in Direction],
        default="both",
        help="from the first prompted frame (backward: from the last one); default both",
    )
    parser.add_argument(
        "--frames",
        metavar="A:B",
        help="track only frames A to B-1 (0-based; A or B may be left out)",
    )
    parser.add_argument(
        "--session", type=Path, metavar="FILE", help="session file (default: <video>.sam2tui)"
    )
    parser.add_argument(
        "--export", action="append", default=[], metavar="FORMAT:PATH", help="export when done (repeatable)"
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="with a project folder: one Ray task per clip on the cluster at ADDRESS (HOST:PORT of "
        '`ray start --head`); alone: on a Ray started here (needs `pip install "sam2tui[ray]"`)',
    )


def run_track(args: argparse.Namespace) -> int:
    if args.video.is_dir() and not is_clip(args.video):
        return run_batch(args)
    if args.ray:
        raise InputError(args.video, "--ray goes with a project folder (a folder of clips)")
    targets = [parse_export_target(text) for text in args.export]
    tracker = chosen_tracker()
    settings = track_settings(args, tracker)
    session, video_path = _target(args)
    if args.prompts and (args.keyframes or args.min_score is not None):
        raise PromptsError(args.prompts, "--keyframes and --min-score go with --prompts-from")
    read: ReadPrompts | None = None
    if args.prompts:
        read = partial(load_prompts, args.prompts)
    elif args.prompts_from:
        read = partial(prelabels_from_args, args)
    job = prepare_clip(video_path, session, settings, read)
    if tracker.runs_sam2:
        resolve_checkpoint(settings.spec, download=True)  # downloads here, with its own progress bar
    if job.todo == 0:
        print("sam2tui: nothing to track: these frames are done for these prompts", file=sys.stderr)
    elif tracker.runs_sam2 and resolve_device(settings.spec.device).type == "cpu":
        print(f"sam2tui: {cpu_note(settings.spec)}", file=sys.stderr)
    with tqdm(
        total=job.todo,
        unit="frame",
        desc="tracking",
        file=sys.stderr,
        dynamic_ncols=True,
        disable=not job.todo,
    ) as bar:
        track_clip(job, settings, bar, targets)
    print(f"sam2tui: session {job.session}", file=sys.stderr)
    return 0


def _target(args: argparse.Namespace) -> tuple[Path | None, Path]:
    """(session or None for the default one, video): a session file given instead of a video is re-tracked
    with its own prompts, in their order (drafted with one model, finalised with another)."""
    if args.video.suffix != SESSION_SUFFIX:
        if not (args.prompts or args.prompts_from):
            raise InputError(
                args.video, "give --prompts FILE or --prompts-from FORMAT:PATH (or a session file)"
            )
        return args.session, args.video
    if args.prompts or args.prompts_from or args.session:
        raise InputError(args.video, "a session is re-tracked with its own prompts: no --prompts, --session")
    with SessionStore.open_snapshot(args.video) as snapshot:  # only to find its video
        return args.video, Path(snapshot.fingerprint.path)
