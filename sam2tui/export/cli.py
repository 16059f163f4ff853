"""`sam2tui export SESSION --format F --out PATH [--frames A:B] [--objects 1,2] [--every K] [--include-stale]
[--video PATH]`, and `sam2tui export DIR ...` for a project's dataset (export/dataset.py)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from sam2tui.errors import ExportError
from sam2tui.export import FORMATS, REGISTRY, ExportOptions, FormatProgress, export_to_folder
from sam2tui.export._selection import describe_models
from sam2tui.export.dataset import ClipProgress, export_dataset
from sam2tui.session.project import ProjectSettings
from sam2tui.session.store import SessionStore
from sam2tui.video import VideoSource, parse_frame_range


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "session", help="the session file (VIDEO.sam2tui), or a project folder of clips (one dataset of all)"
    )
    parser.add_argument(
        "--format",
        "-f",
        action="append",
        required=True,
        choices=FORMATS,
        metavar="FORMAT",
        help=f"{', '.join(FORMATS)}; repeat it to write several (then --out is a folder holding one of each)",
    )
    parser.add_argument("--out", "-o", required=True, help="the file (coco, ytvis) or folder to write")
    parser.add_argument(
        "--frames", metavar="A:B", help="only frames A to B-1 (0-based; A or B may be left out)"
    )
    parser.add_argument("--objects", metavar="ID,ID", help="only these object ids, e.g. 1,3")
    parser.add_argument("--every", metavar="K", type=int, default=1, help="only every K-th frame (default 1)")
    parser.add_argument(
        "--include-stale",
        action="store_true",
        help="also write frames tracked from prompts that changed since (refused by default)",
    )
    parser.add_argument(
        "--video",
        metavar="PATH",
        help="the video, where it is not where the session says (yolo writes frames)",
    )
    parser.add_argument(
        "--split",
        metavar="TRAIN,VAL,TEST",
        help="a project's yolo split ratios by clip, e.g. 0.8,0.2,0.0 (default: the project file's)",
    )
    parser.add_argument(
        "--split-seed",
        metavar="N",
        type=int,
        help="the seed of a project's split (default: the project file's)",
    )


def run_export(args: argparse.Namespace) -> int:
    if Path(args.session).is_dir():
        return run_dataset_export(args)
    return run_session_export(args)


def run_dataset_export(args: argparse.Namespace) -> int:
    """Every clip of the project folder in one dataset per format; exit 2 when a clip failed."""
    for option in ("frames", "objects", "video"):
        if getattr(args, option) is not None:
            raise ExportError(args.session, f"--{option} chooses within one clip; export that clip's session")
    formats = list(dict.fromkeys(args.format))
    ratios = parse_split(args.split)
    options = ExportOptions(every=args.every, include_stale=args.include_stale)
    failed: dict[str, str] = {}
    for fmt in formats:
        out = Path(args.out) / REGISTRY[fmt].default_name if len(formats) > 1 else Path(args.out)
        started = time.perf_counter()
        report = export_dataset(
            Path(args.session),
            fmt,
            out,
            options=options,
            split_seed=args.split_seed,
            split_ratios=ratios,
            progress=_clip_progress(fmt),
        )
        failed.update((clip.name, clip.message) for clip in report.failed)
        for clip in report.clips:
            if clip.status not in ("exported", "failed"):
                print(f"{fmt}: skipped {clip.name} ({clip.status})")
        splits = Counter(clip.split for clip in report.exported if clip.split)
        by_split = f", {', '.join(f'{n} {s}' for s, n in splits.items())}" if splits else ""
        frames = sum(clip.frames for clip in report.exported)
        print(
            f"{fmt}: wrote {out} ({len(report.exported)} clips{by_split}, {frames} frames, "
            f"{describe_models(report.models)}) in {time.perf_counter() - started:.1f} s"
        )
    for name, message in failed.items():
        print(f"sam2tui: export: {name} failed: {message}", file=sys.stderr)
    return 2 if failed else 0


def parse_split(text: str | None) -> tuple[float, float, float] | None:
    """ "0.8,0.2,0.0" -> (0.8, 0.2, 0.0); None -> None (the project file's)."""
    if text is None:
        return None
    try:
        ratios = tuple(float(part) for part in text.split(","))
        ProjectSettings(split_ratios=ratios)  # type: ignore[arg-type]
    except ValueError as error:
        raise ExportError(
            f"--split {text}", f"expected train,val,test ratios, e.g. 0.8,0.2,0.0 ({error})"
        ) from None
    return ratios  # type: ignore[return-value]


def run_session_export(args: argparse.Namespace) -> int:
    if args.split is not None or args.split_seed is not None:
        raise ExportError(args.session, "--split and --split-seed split a project's clips; give its folder")
    formats = list(dict.fromkeys(args.format))
    obj_ids = parse_objects(args.objects)
    with ExitStack() as stack:
        # A snapshot, not the writer's lock: exporting while the app has the session open is fine.
        store = stack.enter_context(SessionStore.open_snapshot(Path(args.session)))
        frames = parse_frame_range(args.frames, store.fingerprint.frame_count)
        options = ExportOptions(
            frames=frames, obj_ids=obj_ids, every=args.every, include_stale=args.include_stale
        )
        video = None
        if any(REGISTRY[fmt].needs_video for fmt in formats):
            video = stack.enter_context(_open_video(args.video, store))
        exported = export_to_folder(
            store,
            formats,
            Path(args.out),
            video=video,
            options=options,
            progress=_progress(),
            into_folder=len(formats) > 1,
        )
        for done in exported:
            files = f"{len(done.paths)} file{'s' if len(done.paths) != 1 else ''}"
            stale = f", {done.stale} stale frame{'s' if done.stale != 1 else ''}" if done.stale else ""
            print(f"{done.fmt}: wrote {done.target} ({files}{stale})")
    return 0


def parse_objects(text: str | None) -> frozenset[int] | None:
    """ "1,3" -> {1, 3}. None -> None (all objects)."""
    if text is None:
        return None
    try:
        ids = frozenset(int(part) for part in text.split(","))
    except ValueError:
        raise ExportError(f"--objects {text}", "expected object ids separated by commas, e.g. 1,3") from None
    return ids


def _open_video(path: str | None, store: SessionStore) -> VideoSource:
    """The video given, or the session's own; it must be the session's video (same frames)."""
    if path is None and not Path(store.fingerprint.path).exists():
        raise ExportError(
            store.fingerprint.path, "the session's video is missing; give its new place with --video"
        )
    video = VideoSource.open(path or store.fingerprint.path)
    if video.fingerprint().digest != store.fingerprint.digest:
        video.close()
        raise ExportError(
            video.path,
            f"is not the session's video: {video.fingerprint().describe()}, the session has "
            f"{store.fingerprint.describe()}",
        )
    return video


def _clip_progress(fmt: str) -> ClipProgress | None:
    """Clips read, on stderr, where a person watches it; nothing otherwise."""
    if not sys.stderr.isatty():
        return None

    def show(name: str, done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{fmt}: read {done}/{total} clips ({name})\033[K", end=end, file=sys.stderr, flush=True)

    return show


def _progress() -> FormatProgress | None:
    """Progress on stderr, where a person watches it; nothing otherwise."""
    if not sys.stderr.isatty():
        return None

    def show(fmt: str, done: int, total: int) -> None:
        if done == total or done % max(1, total // 100) == 0:
            end = "\n" if done == total else ""
            print(f"\r{fmt}: {done}/{total} frames", end=end, file=sys.stderr, flush=True)

    return show
