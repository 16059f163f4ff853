"""User-facing errors: each carries one line that names the file and the problem.

The CLI prints `str(error)` on stderr and exits with status 2; no traceback reaches the user.
"""

from __future__ import annotations

from pathlib import Path


class Sam2TuiError(Exception):
    """An error the user can act on; its message is one line."""

    exit_code = 2


class InputError(Sam2TuiError):
    """A file given by the user cannot be used: `InputError(path, "problem")` -> "path: problem"."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class VideoError(InputError):
    """The video (file or frame folder) cannot be opened or decoded."""


class SessionError(InputError):
    """The session file is corrupt, foreign, from another video, or in use."""


class SessionInUseError(SessionError):
    """Another live process holds the session's lock."""


class ExportError(InputError):
    """An export target cannot be written."""


class PromptsError(InputError):
    """The prompts file of `track` is malformed."""


class CheckpointError(InputError):
    """A checkpoint is missing, truncated or of another model."""


class EngineError(Sam2TuiError):
    """The model failed (out of memory, bad device, ...); what was stored is intact."""
