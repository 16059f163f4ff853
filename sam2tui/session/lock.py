"""One process at a time per session: `<session>.lock` holds the owner's PID and an flock.

The kernel drops an flock when its process dies, so a lock file left behind by a crash is simply
locked again; the PID in it only makes the "in use" message useful.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from sam2tui.errors import SessionError, SessionInUseError


def lock_path_of(session_path: Path) -> Path:
    return session_path.with_name(session_path.name + ".lock")


class SessionLock:
    """An exclusive lock on a session file, held until `release()` (or the process's death)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, session_path: Path) -> SessionLock:
        """Lock `session_path`; SessionInUseError names the holder's PID when another process has it."""
        path = lock_path_of(session_path)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                raise SessionError(session_path, f"cannot create {path.name}: {error.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_pid(fd)
                os.close(fd)
                who = f"PID {holder}" if holder else "another process"
                raise SessionInUseError(session_path, f"in use by {who} (another sam2tui)") from None
            except OSError as error:
                os.close(fd)
                raise SessionError(session_path, f"cannot lock {path.name}: {error.strerror}") from None
            # A releasing owner unlinks the file while holding it: make sure we locked the file at `path` now.
            if _same_file(fd, path):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink before closing, so that nobody can lock this file in between (see acquire's check). A file
        # that cannot be removed (the folder turned read-only, a share went away) is left behind: closing
        # drops the flock all the same, and the next owner takes the file over.
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _holder_pid(fd: int, patience: float = 0.2) -> int | None:
    """The PID in a held lock file; the holder writes it just after locking, so wait for it a moment."""
    deadline = time.monotonic() + patience
    while (pid := _read_pid(fd)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return pid


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (on_disk.st_dev, on_disk.st_ino)
