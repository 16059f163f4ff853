"""Fixtures of the reliability tests (the shared helpers are in helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.helpers import Tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A tmux server of the test's own, killed at the end."""
    server = Tmux()
    yield server
    server.kill_server()
