"""Small clips for tests, from scripts/make_sample_clip.py (scripts/ is not a package, so load it by path).

from clipgen import make_clip
frames = make_clip(tmp_path / "clip.mp4", frames=12, size=(96, 64), gop=4)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_sample_clip.py"
_spec = importlib.util.spec_from_file_location("make_sample_clip", _SCRIPT)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

make_clip = _module.make_clip
write_clip = _module.write_clip
pattern_frames = _module.pattern_frames

__all__ = ["make_clip", "pattern_frames", "write_clip"]
