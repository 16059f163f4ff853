"""sam2tui: label videos for object tracking with SAM 2, in the terminal."""

import sys

if sys.version_info < (3, 10):  # noqa: UP036  (pip refuses older Pythons; a copied checkout may not)
    raise SystemExit(
        f"sam2tui needs Python 3.10 or newer; this is {sys.version.split()[0]} ({sys.executable})"
    )

__version__ = "0.1.0"
