"""`sam2tui track DIR ...`: the one-clip command over every clip of a project folder (session/project.py).

Each clip is prepared and tracked by the code that tracks a single clip (clip.py), one after another or as
Ray tasks (`--ray`, on_ray.py), under one progress bar over all their frames. One after another, the clips
share one tracker: the model loads once per command, not once per clip. Where the clips' prompts come
from: `--prompts-from FORMAT:FOLDER` with one entry per clip named after it (`<clip>.txt` for mot,
`<clip>.json` for coco, a `<clip>/` labels folder for yolo); without it, each clip's session is re-tracked
with its own prompts (drafted with a small model, finalised with a large one). Pre-labels' class names
join the project's class list (the project file). Clips with nothing to track
from (no pre-labels, no session) are listed and skipped; a clip that fails (it does not open, its
pre-labels do not fit it) is listed at the end and the others go on: exit 2 (1 when only the model failed).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from tqdm import tqdm

from sam2tui.engine.checkpoints import resolve_checkpoint
from sam2tui.engine.device import resolve_device
from sam2tui.engine.options import chosen_tracker, cpu_note
from sam2tui.engine.tracker import ModelSpec, ProgressFn, Tracker
from sam2tui.engine.worker import TrackerFactory
from sam2tui.errors import InputError, PromptsError, Sam2TuiError
from sam2tui.session.project import add_classes, find_clips
from sam2tui.track.clip import (
    ClipJob,
    Interrupted,
    ReadPrompts,
    SkippedClip,
    TrackSettings,
    prepare_clip,
    track_clip,
    track_settings,
)
from sam2tui.track.prelabels import parse_prelabels_source, prelabels_from_args

# The entry of the --prompts-from folder that holds a clip's pre-labels, after the clip's name.
PRELABEL_ENTRY = {"mot": "{}.txt", "coco": "{}.json", "yolo": "{}"}


@dataclass
class BatchReport:
    """What became of each clip; `failed` holds (clip, one-line problem, exit status)."""

    tracked: list[Path] = field(default_factory=list)
    done: list[Path] = field(default_factory=list)  # nothing left to track for these prompts
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str, int]] = field(default_factory=list)

    def fail(self, clip: Path, error: Sam2TuiError) -> None:
        self.failed.append((clip, str(error), error.exit_code))

    def print(self) -> None:
        counts = f"{len(self.tracked)} clips tracked, {len(self.done)} done already"
        if self.skipped:
            names = ", ".join(f"{clip.name} ({why})" for clip, why in self.skipped)
            counts += f", {len(self.skipped)} skipped: {names}"
        print(f"sam2tui: {counts}", file=sys.stderr)
        for clip, problem, _ in self.failed:
            print(f"sam2tui: failed: {clip.name}: {problem}", file=sys.stderr)

    def exit_status(self) -> int:
        if self.failed:
            return max(status for _, _, status in self.failed)
        return 0 if self.tracked or self.done else 2


class KeptTracker:
    """A tracker factory for clips tracked one after another: it builds the tracker once and gives every
    clip that same one. Each clip's engine worker starts it on its own video (`Tracker.start` forgets the
    last clip) and closes it at the end, which releases the video, not the model."""

    def __init__(self, factory: TrackerFactory) -> None:
        self._factory = factory
        self._built: tuple[ModelSpec, Tracker] | None = None

    def __call__(self, spec: ModelSpec, progress: ProgressFn) -> Tracker:
        if self._built is None or self._built[0] != spec:
            self._built = (spec, self._factory(spec, progress))
        return self._built[1]


def run_batch(args: argparse.Namespace) -> int:
    folder: Path = args.video
    for flag, given in (("--prompts", args.prompts), ("--session", args.session), ("--export", args.export)):
        if given:
            raise InputError(
                folder,
                f"{flag} names one clip's file: with a project folder, give --prompts-from "
                "FORMAT:FOLDER (one entry per clip) or nothing (each clip's session), and export with "
                "`sam2tui export`",
            )
    clips = find_clips(folder)
    tracker = chosen_tracker()
    settings = track_settings(args, tracker, check_device=not args.ray)
    prompts_for = clip_prompts(args)
    if args.ray:  # connect before anything is touched: a cluster that does not answer changes nothing
        from sam2tui.track.on_ray import RayBatch

        ray_batch = RayBatch.connect(args.ray)
    report = BatchReport()
    jobs = [job for clip in clips if (job := _prepare(clip, settings, prompts_for, report)) is not None]
    if args.prompts_from:  # the pre-labels' class names join the project's class list
        add_classes(folder, [name for job in jobs for name in job.classes])
    if tracker.runs_sam2 and jobs and not args.ray:
        resolve_checkpoint(settings.spec, download=True)  # downloads here, with its own progress bar
        if resolve_device(settings.spec.device).type == "cpu":
            print(f"sam2tui: {cpu_note(settings.spec)}", file=sys.stderr)
    total = sum(job.todo for job in jobs)
    desc = f"tracking {len(jobs)} clip{'s' * (len(jobs) != 1)}"
    interrupted: Interrupted | None = None
    with tqdm(
        total=total, unit="frame", desc=desc, file=sys.stderr, dynamic_ncols=True, disable=not jobs
    ) as bar:
        if args.ray:
            for job, error in ray_batch.track(jobs, settings, bar):
                if error is None:
                    report.tracked.append(job.video)
                else:
                    report.fail(job.video, error)
        else:
            serial = dataclasses.replace(settings, factory=KeptTracker(settings.factory))
            for job in jobs:
                try:
                    track_clip(job, serial, bar)
                    report.tracked.append(job.video)
                except Interrupted as stop:
                    interrupted = stop
                    break
                except Sam2TuiError as error:
                    report.fail(job.video, error)
    report.print()
    if interrupted is not None:
        raise interrupted
    return report.exit_status()


def clip_prompts(args: argparse.Namespace) -> Callable[[Path], ReadPrompts | None]:
    """For each clip, the reader of its pre-labels; None: the clip's session is re-tracked as it is."""
    if not args.prompts_from:
        return lambda clip: None
    fmt, source = parse_prelabels_source(args.prompts_from)
    if not source.is_dir():
        example = PRELABEL_ENTRY[fmt].format("<clip>")
        raise PromptsError(
            source, f"with a project folder, --prompts-from names a folder with one {example} per clip"
        )

    def for_clip(clip: Path) -> ReadPrompts:
        entry = source / PRELABEL_ENTRY[fmt].format(clip.name if clip.is_dir() else clip.stem)
        if not entry.exists():
            raise SkippedClip(clip, f"no {entry.name} in {source}")
        return partial(
            prelabels_from_args, argparse.Namespace(**{**vars(args), "prompts_from": f"{fmt}:{entry}"})
        )

    return for_clip


def _prepare(
    clip: Path,
    settings: TrackSettings,
    prompts_for: Callable[[Path], ReadPrompts | None],
    report: BatchReport,
) -> ClipJob | None:
    """The clip's job when it has frames left to track; otherwise None, with the reason in `report`."""
    try:
        read = prompts_for(clip)
        job = prepare_clip(clip, None, settings, read, need_session=read is None)
    except SkippedClip as skip:
        report.skipped.append((clip, skip.problem))
        return None
    except Sam2TuiError as error:
        report.fail(clip, error)
        return None
    if job.todo == 0:
        report.done.append(clip)
        return None
    return job
