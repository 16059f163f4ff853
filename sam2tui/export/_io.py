"""Atomic writes for exports: a file or a folder appears whole, or the old one stays as it was.

Files are written to a hidden temporary name beside the target, then `os.replace`d over it. Folders are
filled under a hidden temporary name, then swapped in; an existing folder is only ever replaced when it is
empty or an earlier sam2tui export (it holds `MARKER`), so `--out ~/datasets` cannot wipe a user's files.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from sam2tui.errors import ExportError
from sam2tui.session.project import EXPORT_MARKER

MARKER = EXPORT_MARKER
"""Written into every exported folder; it allows a later export to replace that folder."""


@contextmanager
def replacing_file(path: Path) -> Iterator[TextIO]:
    """A text file to write that replaces `path` atomically when the block ends without error."""
    _check_target(path, folder=False)
    temp = _temp_name(path, "tmp")
    try:
        with _open_new(temp) as handle:
            yield handle
        os.replace(temp, path)
    except OSError as error:
        _discard(temp)
        raise _write_error(path, error) from error
    except BaseException:
        _discard(temp)
        raise


@contextmanager
def replacing_folder(path: Path, description: str) -> Iterator[Path]:
    """A new empty folder to fill; it replaces `path` when the block ends without error.

    `description` goes into the marker file (what was exported, from where).
    """
    _check_target(path, folder=True)
    temp = _temp_name(path, "tmp")
    try:
        os.mkdir(temp)
        yield temp
        (temp / MARKER).write_text(description + "\n", encoding="utf-8")
        _swap_in(temp, path)
    except OSError as error:
        shutil.rmtree(temp, ignore_errors=True)
        raise _write_error(path, error) from error
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _check_target(path: Path, *, folder: bool) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(path, error) from error
    if folder:
        if path.exists() and not path.is_dir():
            raise ExportError(path, "exists and is not a folder; this format writes a folder")
        if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
            raise ExportError(
                path, "folder is not empty and is not an earlier sam2tui export; choose another"
            )
    elif path.is_dir():
        raise ExportError(path, "is a folder; this format writes a file")


def _swap_in(temp: Path, path: Path) -> None:
    """Rename `temp` to `path`; an existing `path` is deleted once `temp` is in place.

    Where the system can, the two folders trade places in one step, so a crash at any moment leaves the old
    export or the new one at `path`. Elsewhere the old one is moved aside first (a crash between the two
    renames leaves it under a hidden `.old` name beside `path`).
    """
    if not path.exists():
        os.rename(temp, path)
        return
    if _exchange(temp, path):
        shutil.rmtree(temp, ignore_errors=True)  # `temp` now holds the old export
        return
    old = _temp_name(path, "old")
    os.rename(path, old)
    try:
        os.rename(temp, path)
    except OSError:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """Linux's renameat2(2) from the C library; None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths; False where the system or the file system cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _discard(temp: Path) -> None:
    """Remove a temporary file if it can be; the error that brought us here is the one to report."""
    with contextlib.suppress(OSError):
        temp.unlink(missing_ok=True)


def _temp_name(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{kind}")


def _open_new(path: Path) -> TextIO:
    # os.open with 0o666 honours the umask, as a plain open() of the target would (mkstemp gives 0600).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    return os.fdopen(fd, "w", encoding="utf-8", newline="\n")


def _write_error(path: Path, error: OSError) -> ExportError:
    return ExportError(path, f"cannot write ({error.strerror or error})")


def write_json(path: Path, document: dict[str, Any]) -> list[Path]:
    """Write a JSON export (COCO, YouTube-VIS) compactly and atomically; returns the paths written."""
    with replacing_file(path) as handle:
        json.dump(document, handle, separators=(",", ":"))
    return [path]
