"""sam2tui: label videos for object tracking with SAM 2, in the terminal."""

__version__ = "0.1.0"
