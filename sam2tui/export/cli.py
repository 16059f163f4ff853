"""`sam2tui export SESSION --format F --out PATH [--frames A:B] [--objects 1,2] [--every K] [--include-stale]
[--video PATH]`."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from sam2tui.errors import ExportError
from sam2tui.export import FORMATS, REGISTRY, ExportOptions, FormatProgress, export_to_folder
from sam2tui.session.store import SessionStore
from sam2tui.video import VideoSource, parse_frame_range


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", help="the session file (VIDEO.sam2tui)")
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


def run_export(args: argparse.Namespace) -> int:
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


def _progress() -> FormatProgress | None:
    """Progress on stderr, where a person watches it; nothing otherwise."""
    if not sys.stderr.isatty():
        return None

    def show(fmt: str, done: int, total: int) -> None:
        if done == total or done % max(1, total // 100) == 0:
            end = "\n" if done == total else ""
            print(f"\r{fmt}: {done}/{total} frames", end=end, file=sys.stderr, flush=True)

    return show
