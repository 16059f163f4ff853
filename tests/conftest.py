"""Fixtures every test shares: a hermetic user environment, the location of the real clips, a tmux server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tmux_driver import Tmux

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def hermetic_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the user's config, data and checkpoint cache (harlequin's habit)."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("SAM2TUI_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("SAM2TUI_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("SAM2TUI_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("SAM2TUI_CACHE_DIR", str(home / "cache"))
    monkeypatch.delenv("SAM2TUI_RENDER", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data with the real third-party clips; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A tmux server of the test's own, killed at the end."""
    server = Tmux()
    yield server
    server.kill_server()
