"""The user's settings: one TOML file, read once at start.

Location: `$SAM2TUI_CONFIG_DIR/settings.toml`, else platformdirs' user_config_dir("sam2tui")/settings.toml.
A missing file means the defaults. Example::

    render = "auto"               # auto | halfblock | sixel | kitty
    propagation_window = 30       # frames that `f` / `F` track
    mask_opacity = 0.45           # of mask fills, 0 (outline only) to 1
    palette = ["#e69f00", "#56b4e9"]   # colours of new objects, in order

    [review]                      # defaults for new sessions (a session keeps its own)
    low_score = 2.0
    area_jump = 0.5
    min_iou = 0.5
    max_parts = 3

    [keys]                        # binding id = "key[,key...]"  (`?` lists the ids)
    "annotate.propagate" = "p"
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from sam2tui.errors import InputError
from sam2tui.tui.compose import FILL_ALPHA
from sam2tui.values import PALETTE, Color, ReviewThresholds

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

RENDER_MODES = ("auto", "halfblock", "octant", "sextant", "sixel", "kitty")
_HEX_COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")


class SettingsError(InputError):
    """The settings file exists but cannot be used."""


def config_dir() -> Path:
    """Where settings.toml lives; `SAM2TUI_CONFIG_DIR` overrides the platform default."""
    override = os.environ.get("SAM2TUI_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("sam2tui"))


def settings_path() -> Path:
    return config_dir() / "settings.toml"


@dataclass(frozen=True)
class Settings:
    render: str = "auto"
    propagation_window: int = 30
    mask_opacity: float = FILL_ALPHA
    palette: tuple[Color, ...] = PALETTE
    review: ReviewThresholds = field(default_factory=ReviewThresholds)
    keys: Mapping[str, str] = field(default_factory=dict)  # binding id -> comma-separated keys

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read the settings file (default location when `path` is None); defaults when it is missing."""
        path = settings_path() if path is None else path
        if not path.is_file():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(path, f"cannot read settings ({error})") from error
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path) -> Settings:
        known = {"render", "propagation_window", "mask_opacity", "palette", "review", "keys"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingsError(path, f"unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
        defaults = cls()
        render = data.get("render", defaults.render)
        if render not in RENDER_MODES:
            raise SettingsError(path, f"render must be one of {', '.join(RENDER_MODES)}, not {render!r}")
        window = data.get("propagation_window", defaults.propagation_window)
        if not isinstance(window, int) or window < 1:
            raise SettingsError(path, f"propagation_window must be a positive integer, not {window!r}")
        opacity = data.get("mask_opacity", defaults.mask_opacity)
        if isinstance(opacity, bool) or not isinstance(opacity, (int, float)) or not 0 <= opacity <= 1:
            raise SettingsError(path, f"mask_opacity must be a number from 0 to 1, not {opacity!r}")
        return cls(
            render=render,
            propagation_window=window,
            mask_opacity=float(opacity),
            palette=_palette(data.get("palette"), path) or defaults.palette,
            review=_review(data.get("review", {}), path),
            keys=_keys(data.get("keys", {}), path),
        )


def _palette(value: Any, path: Path) -> tuple[Color, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise SettingsError(path, "palette must be a non-empty list of colours like '#e69f00'")
    colours = []
    for item in value:
        match = _HEX_COLOUR.match(item) if isinstance(item, str) else None
        if match is None:
            raise SettingsError(path, f"palette colour {item!r} is not like '#e69f00'")
        number = int(match.group(1), 16)
        colours.append(((number >> 16) & 255, (number >> 8) & 255, number & 255))
    return tuple(colours)


def _review(value: Any, path: Path) -> ReviewThresholds:
    if not isinstance(value, dict):
        raise SettingsError(path, "[review] must be a table")
    defaults = ReviewThresholds()
    fields = {"low_score": float, "area_jump": float, "min_iou": float, "max_parts": int}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise SettingsError(path, f"unknown review setting {unknown[0]!r} (known: {', '.join(fields)})")
    chosen: dict[str, Any] = {}
    for name, kind in fields.items():
        item = value.get(name, getattr(defaults, name))
        if (
            isinstance(item, bool)
            or not isinstance(item, (int, float))
            or (kind is int and item != int(item))
        ):
            raise SettingsError(path, f"review.{name} must be a number, not {item!r}")
        chosen[name] = kind(item)
    return ReviewThresholds(**chosen)


def _keys(value: Any, path: Path) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
        raise SettingsError(path, '[keys] must map binding ids to key names, e.g. "annotate.propagate" = "p"')
    return dict(value)
