"""The SAM 2 model registry, the checkpoint cache, and checked, resumable downloads.

A checkpoint is `{"model": state_dict}` (what Meta publishes). Downloads go to `<name>.part` in the cache
and are renamed only after the size matches the server's Content-Length and `torch.load(weights_only=True)`
finds a "model" entry; an interrupted download resumes with an HTTP Range request.

Environment: `SAM2TUI_CACHE_DIR` replaces the cache directory; `SAM2TUI_CHECKPOINT_URL_BASE` replaces the
download host (plain http is accepted only there, for tests and local mirrors).
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from tqdm import tqdm

from sam2tui.engine.tracker import ModelSpec, ProgressFn
from sam2tui.errors import CheckpointError

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "sam2.1-tiny"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelInfo:
    name: str
    config: str  # a config packaged with sam2, e.g. "configs/sam2.1/sam2.1_hiera_t.yaml"
    filename: str
    url: str
    hf_id: str
    size_bytes: int  # approximate (within ~1 MB); the download checks the server's Content-Length


def _registry() -> dict[str, ModelInfo]:
    sizes = {"tiny": 156_000_000, "small": 184_000_000, "base-plus": 324_000_000, "large": 898_000_000}
    letters = {"tiny": "t", "small": "s", "base-plus": "b+", "large": "l"}
    releases = {
        "sam2.1": (
            "https://dl.fbaipublicfiles.com/segment_anything_2/092824",
            "configs/sam2.1/sam2.1_hiera_",
        ),
        "sam2": ("https://dl.fbaipublicfiles.com/segment_anything_2/072824", "configs/sam2/sam2_hiera_"),
    }
    models = {}
    for family, (url_base, config_prefix) in releases.items():
        for size, letter in letters.items():
            filename = f"{family}_hiera_{size.replace('-', '_')}.pt"
            models[f"{family}-{size}"] = ModelInfo(
                name=f"{family}-{size}",
                config=f"{config_prefix}{letter}.yaml",
                filename=filename,
                url=f"{url_base}/{filename}",
                hf_id=f"facebook/{family}-hiera-{size}",
                size_bytes=sizes[size],
            )
    return models


MODELS: dict[str, ModelInfo] = _registry()


def model_info(name: str) -> ModelInfo:
    try:
        return MODELS[name]
    except KeyError:
        raise CheckpointError(name, f"unknown model; choose one of {', '.join(MODELS)}") from None


def cache_dir() -> Path:
    override = os.environ.get("SAM2TUI_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("sam2tui")) / "checkpoints"


def cached_path(name: str) -> Path:
    return cache_dir() / model_info(name).filename


def download_url(info: ModelInfo) -> str:
    base = os.environ.get("SAM2TUI_CHECKPOINT_URL_BASE")
    return f"{base.rstrip('/')}/{info.filename}" if base else info.url


def resolve_checkpoint(
    spec: ModelSpec, *, download: bool, progress: ProgressFn | None = None
) -> tuple[str, Path]:
    """The sam2 config name and the checkpoint file for `spec`, downloading it when allowed."""
    info = model_info(spec.name)
    if spec.checkpoint is not None:
        path = Path(spec.checkpoint).expanduser()
        if not path.is_file():
            raise CheckpointError(path, "checkpoint file not found")
        return info.config, path
    path = cache_dir() / info.filename
    if path.is_file():
        return info.config, path
    if not download:
        raise CheckpointError(
            path,
            f"checkpoint of {info.name} is not cached; download {download_url(info)} and place it here, "
            "or pass --checkpoint FILE",
        )
    return info.config, fetch(spec.name, progress)


def fetch(name: str, progress: ProgressFn | None = None) -> Path:
    """Download a registry model into the cache (resuming a partial file); returns the checked file."""
    info = model_info(name)
    url = download_url(info)
    if not url.startswith("https://") and not os.environ.get("SAM2TUI_CHECKPOINT_URL_BASE"):
        raise CheckpointError(url, "refusing to download a checkpoint over plain http")
    target = cache_dir() / info.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        _transfer(url, part, info.filename, progress)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise CheckpointError(
            target, f"cannot download {url} ({reason}); download it by hand and place it here"
        ) from None
    try:
        verify_checkpoint(part)
    except CheckpointError as error:
        part.unlink(missing_ok=True)
        raise CheckpointError(target, f"downloaded file is not a checkpoint ({error.problem})") from None
    os.replace(part, target)
    return target


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same scheme and host: a checkpoint comes from the host configured."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.hostname) != (new.scheme, new.hostname):
            raise urllib.error.URLError(f"refusing a redirect from {old.hostname} to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameHostRedirects)


def _transfer(url: str, part: Path, label: str, progress: ProgressFn | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = _OPENER.open(request, timeout=60)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not have:  # 416: the part file is already complete (or bigger)
            raise
        return
    with response:
        if response.status == 200:
            have = 0  # the server ignored the Range header: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(part, "ab" if have else "wb") as out, _meter(label, have, total, progress) as meter:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                meter(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise OSError(f"transfer stopped at {size} of {total} bytes; run again to resume")


class _meter:
    """Reports bytes received: to `progress` when given, else as a tqdm bar on stderr."""

    def __init__(self, label: str, have: int, total: int | None, progress: ProgressFn | None) -> None:
        self._label, self._done, self._total, self._progress = label, have, total, progress
        self._bar: Any = None
        if progress is None:
            self._bar = tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label,
                file=sys.stderr,
            )

    def __enter__(self) -> Callable[[int], None]:
        return self._update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def _update(self, n: int) -> None:
        self._done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._progress is not None:
            fraction = self._done / self._total if self._total else None
            self._progress(f"downloading {self._label}", fraction)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's state dict; CheckpointError when the file is truncated, corrupt or not a checkpoint."""
    import torch  # here, not at the top: the app must draw its first frame before torch has loaded

    try:
        try:
            # mmap: the weights are read once, into the model, instead of being held twice.
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)  # a legacy (non-zip) file
    except FileNotFoundError:
        raise CheckpointError(path, "checkpoint file not found") from None
    except Exception as error:  # torch raises many types for damaged archives
        summary = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(path, f"not a readable checkpoint, truncated or corrupt ({summary})") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise CheckpointError(path, 'not a SAM 2 checkpoint (no "model" state dict)')
    state = data["model"]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(path, 'not a SAM 2 checkpoint ("model" holds more than named tensors)')
    return state


def verify_checkpoint(path: Path) -> None:
    """Raise CheckpointError unless `path` loads as a `{"model": state_dict}` checkpoint."""
    load_state_dict(path)


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load a checkpoint into `model` with strict keys; a mismatch becomes one summarising line."""
    state = load_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or reshaped:
        raise CheckpointError(
            path,
            f"checkpoint is for another model ({len(missing)} missing, {len(unexpected)} unexpected keys, "
            f"{len(reshaped)} of another shape); pick the matching --model",
        )
    model.load_state_dict(state, strict=True)


def models_table() -> list[dict[str, Any]]:
    """One row per registry model: name, approximate size, whether it is cached, and the cache path."""
    rows = []
    for info in MODELS.values():
        path = cache_dir() / info.filename
        rows.append(
            {
                "name": info.name,
                "size_mb": round(info.size_bytes / 1e6),
                "cached": path.is_file(),
                "path": str(path),
                "default": info.name == DEFAULT_MODEL,
            }
        )
    return rows


def add_models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", nargs="?", choices=("list", "download"), default="list", help="list (default) or download"
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"models to download (default {DEFAULT_MODEL})"
    )


def run_models(args: argparse.Namespace) -> int:
    if args.action == "download":
        for name in args.names or [DEFAULT_MODEL]:
            _, path = resolve_checkpoint(ModelSpec(name=name), download=True)
            print(f"{name}: {path}")
        return 0
    if args.names:
        raise CheckpointError(args.names[0], "unexpected argument; use `sam2tui models download NAME`")
    print(f"{'model':<17}{'size':>8}  {'cached':<7}path")
    for row in models_table():
        mark = "*" if row["default"] else " "
        cached = "yes" if row["cached"] else "no"
        print(f"{row['name'] + mark:<17}{row['size_mb']:>5} MB  {cached:<7}{row['path']}")
    print(f"* default. Cache: {cache_dir()} (set SAM2TUI_CACHE_DIR to move it)")
    return 0
