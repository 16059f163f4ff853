"""A project: a folder of clips (video files or frame folders), one session per clip, and a project file.

The project file (`PROJECT_FILE` in the folder, JSON) holds what the clips share: the class list (the
same list a single session has; a clip's session gets it when it is opened) and how dataset exports split
clips into train / val / test (a seed and the ratios). Sessions stay one per clip, beside it, as for a
single video, so a clip of a project opens and exports alone exactly as it would outside one.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from sam2tui.errors import InputError, Sam2TuiError
from sam2tui.session.review import flags, thresholds_from
from sam2tui.session.states import count_states, label_states
from sam2tui.session.store import SESSION_SUFFIX, SessionStore, default_session_path, user_data_dir
from sam2tui.values import LabelState
from sam2tui.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoSource

PROJECT_FILE = "sam2tui-project.json"
EXPORT_MARKER = ".sam2tui-export"
"""Written into every folder an export writes (export/_io.py); such a folder is never taken for a clip."""
SPLITS = ("train", "val", "test")
DEFAULT_RATIOS = (0.8, 0.2, 0.0)


def is_clip(path: Path) -> bool:
    """A video file sam2tui reads, or a folder holding .jpg/.png frames directly (hidden entries aside)."""
    if path.name.startswith("."):
        return False
    if path.is_file():
        return path.suffix.lower() in VIDEO_SUFFIXES
    if path.is_dir():
        return any(
            child.suffix.lower() in IMAGE_SUFFIXES and not child.name.startswith(".") and child.is_file()
            for child in path.iterdir()
        )
    return False


def find_clips(folder: Path) -> list[Path]:
    """The clips directly inside `folder`, sorted by name; InputError when it is not a folder or holds none.

    Only the folder's own entries count: an export folder of PNG masks nested deeper is never taken for
    a clip, and neither is a folder that an earlier sam2tui export wrote (it holds that export's marker).
    """
    if not folder.is_dir():
        raise InputError(folder, "not a folder")
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as error:
        raise InputError(folder, f"cannot list it: {error.strerror or error}") from None
    clips = [p for p in entries if is_clip(p) and not (p / EXPORT_MARKER).exists()]
    if not clips:
        kinds = " ".join(sorted(VIDEO_SUFFIXES))
        raise InputError(
            folder, f"no clips in this folder (video files {kinds}, or folders of .jpg/.png frames)"
        )
    return clips


@dataclass(frozen=True)
class ProjectSettings:
    """What a project's clips share."""

    classes: list[str] = field(default_factory=list)
    split_seed: int = 0
    split_ratios: tuple[float, float, float] = DEFAULT_RATIOS  # train, val, test
    exported: dict[str, str] = field(default_factory=dict)  # clip name -> when a dataset export last wrote it

    def __post_init__(self) -> None:
        if len(self.split_ratios) != len(SPLITS) or any(r < 0 for r in self.split_ratios):
            raise ValueError(
                f"split ratios must be three numbers >= 0 (train, val, test): {self.split_ratios}"
            )
        if not sum(self.split_ratios) > 0:
            raise ValueError("split ratios must not all be 0")


def project_file(folder: Path) -> Path:
    return folder / PROJECT_FILE


def load_settings(folder: Path) -> ProjectSettings:
    """The project file's settings; the defaults when the folder has none; InputError when it is damaged."""
    path = project_file(folder)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ProjectSettings()
    except OSError as error:
        raise InputError(path, f"cannot read it: {error.strerror or error}") from None
    try:
        document = json.loads(text)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        classes = document.get("classes", [])
        if not isinstance(classes, list) or not all(isinstance(name, str) and name for name in classes):
            raise ValueError("`classes` must be a list of names")
        split = document.get("split", {})
        ratios = split.get("ratios", list(DEFAULT_RATIOS))
        if not isinstance(ratios, list) or not all(isinstance(r, (int, float)) for r in ratios):
            raise ValueError("`split.ratios` must be a list of numbers")
        seed = split.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError("`split.seed` must be a whole number")
        exported = document.get("exported", {})
        if not isinstance(exported, dict) or not all(isinstance(v, str) for v in exported.values()):
            raise ValueError("`exported` must map clip names to times")
        return ProjectSettings(
            list(dict.fromkeys(classes)),
            seed,
            tuple(float(r) for r in ratios),  # type: ignore[arg-type]
            dict(exported),
        )
    except (ValueError, AttributeError, TypeError) as error:
        raise InputError(path, f"not a sam2tui project file: {error}") from None


def save_settings(folder: Path, settings: ProjectSettings) -> None:
    """Write the project file atomically (a crash leaves the old one or the new one, never half of one)."""
    path = project_file(folder)
    document = {
        "classes": settings.classes,
        "split": {"seed": settings.split_seed, "ratios": list(settings.split_ratios)},
        "exported": settings.exported,
    }
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2)
                out.write("\n")
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as error:
        raise InputError(path, f"cannot write it: {error.strerror or error}") from None


def add_classes(folder: Path, names: Sequence[str]) -> ProjectSettings:
    """Append classes to the project's list (the ones it has keep their place) and save it."""
    settings = load_settings(folder)
    merged = list(dict.fromkeys([*settings.classes, *names]))
    if merged != settings.classes:
        settings = replace(settings, classes=merged)
        save_settings(folder, settings)
    return settings


def record_export(folder: Path, clips: Sequence[str], when: datetime) -> None:
    """Note in the project file that a dataset export wrote these clips (the project screen shows it)."""
    settings = load_settings(folder)
    stamp = when.astimezone(timezone.utc).isoformat(timespec="seconds")
    save_settings(folder, replace(settings, exported={**settings.exported, **dict.fromkeys(clips, stamp)}))


def split_clips(names: Sequence[str], seed: int, ratios: tuple[float, float, float]) -> dict[str, str]:
    """Each clip's split (train / val / test): whole clips, never frames of one clip in two splits.

    The names are shuffled by `seed` (the same names and seed give the same split on every machine) and
    cut by the ratios, rounded; a split with a ratio above 0 gets at least one clip while another split
    has more than one, so a small project still has a val set.
    """
    order = sorted(names)
    random.Random(seed).shuffle(order)
    total = sum(ratios)
    counts = [round(len(order) * r / total) for r in ratios]
    counts[0] = len(order) - sum(counts[1:])  # rounding's leftovers go to train
    for index, ratio in enumerate(ratios):
        while ratio > 0 and counts[index] == 0 and max(counts) > 1:
            counts[counts.index(max(counts))] -= 1
            counts[index] += 1
    while counts[0] < 0:  # more rounded up than there are clips: take them back from the last splits
        donor = max(range(1, len(counts)), key=lambda i: counts[i])
        counts[donor] -= 1
        counts[0] += 1
    split: dict[str, str] = {}
    start = 0
    for name, count in zip(SPLITS, counts, strict=True):
        split.update(dict.fromkeys(order[start : start + count], name))
        start += count
    return split


def find_session(clip: Path) -> Path | None:
    """The clip's session file, where `default_session_path` puts it; None when the clip has none yet.

    The session beside the clip is found without reading the video; the one in the user data folder
    (for a clip in an unwritable folder) is named by the video's digest, so the clip is opened only when
    that folder holds sessions.
    VideoError when it must be and cannot.
    """
    beside = clip.with_name(clip.name + SESSION_SUFFIX)
    if beside.exists():
        return beside
    fallbacks = user_data_dir() / "sessions"
    if not fallbacks.is_dir() or not any(fallbacks.glob(f"*{SESSION_SUFFIX}")):
        return None
    with VideoSource.open(clip) as video:
        path = default_session_path(video.path, video.fingerprint())
    return path if path.exists() else None


LAST_EXPORT_KEY = "last_export"
"""The session setting where an export from the app notes when it ran (ISO 8601, UTC)."""


@dataclass(frozen=True)
class ClipSummary:
    """One row of the project screen: a clip's session as it is now (`started` False: no session yet)."""

    name: str
    started: bool = False
    frames: int = 0
    objects: int = 0
    labelled: int = 0  # (frame, object) pairs prompted or tracked and current
    stale: int = 0
    flagged: int = 0  # lost or doubtful runs (the review's flags)
    absent: int = 0
    models: dict[str, int] = field(default_factory=dict)  # model -> non-empty masks it made
    exported: str = ""  # when it was last exported (ISO 8601), "" never
    error: str = ""  # why the session could not be read


def summarize_clip(clip: Path, exported: str = "") -> ClipSummary:
    """The clip's counts, read from a snapshot of its session (never its writer's lock: the clip may be
    open elsewhere). `exported` is the project file's note of its last dataset export."""
    try:
        session = find_session(clip)
        if session is None:
            return ClipSummary(clip.name, exported=exported)
        with SessionStore.open_snapshot(session) as store:
            frame_count = store.fingerprint.frame_count
            counts = count_states(label_states(store, frame_count))
            thresholds = thresholds_from(store)
            objects = store.objects()
            flagged = sum(
                len(flags(store.results_by_frame(obj.obj_id), frame_count, thresholds, obj.obj_id))
                for obj in objects
            )
            models = Counter(r.model for r in store.results() if not r.is_empty)
            in_session = str(store.setting(LAST_EXPORT_KEY, "") or "")
    except Sam2TuiError as error:
        return ClipSummary(clip.name, started=True, error=str(error), exported=exported)
    return ClipSummary(
        clip.name,
        started=True,
        frames=frame_count,
        objects=len(objects),
        labelled=counts[LabelState.PROMPTED] + counts[LabelState.CURRENT],
        stale=counts[LabelState.STALE],
        flagged=flagged,
        absent=counts[LabelState.ABSENT],
        models=dict(models),
        exported=max(exported, in_session),  # ISO 8601 in UTC: the later one sorts last
    )
