"""The table of every bound action (help screen) and the command palette over the same table.

Both read the annotation screen's live bindings (keymap overrides applied), so neither can drift from
what the keys really do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen


@dataclass(frozen=True)
class BoundAction:
    """One action with every key bound to it."""

    keys: tuple[str, ...]  # as displayed, e.g. ("→", "l")
    description: str  # short (the footer's)
    detail: str  # long (the binding's tooltip, else the description)
    action: str
    node: DOMNode
    binding_id: str | None
    group: str  # where it is bound: "app", "annotate", "canvas", ...

    @property
    def key_text(self) -> str:
        return ", ".join(self.keys)


def _bindings(screen: Screen[Any], every: bool) -> Iterator[tuple[DOMNode, Binding]]:
    if not every:
        for active in screen.active_bindings.values():
            yield active.node, active.binding
        return
    # The whole chain (focused widget, its ancestors, the screen, the app) with the keymap applied, including
    # what check_action hides now (the canvas's pointer-mode keys) and keys another binding shadows.
    for node, bindings in screen._modal_binding_chain:
        for _key, binding in bindings:
            yield node, binding


def bound_actions(screen: Screen[Any], every: bool = False) -> list[BoundAction]:
    """Every described binding active on `screen` (its focused widget, the screen, the app), a row per action.

    `every`: also the bindings that are inactive at the moment (for the help screen).
    """
    app = screen.app
    rows: dict[tuple[int, str], BoundAction] = {}
    for node, binding in _bindings(screen, every):
        if not binding.description:
            continue
        key = (id(node), binding.action)
        shown = app.get_key_display(binding)
        row = rows.get(key)
        if row is None:
            group = (binding.id or "").split(".")[0] or type(node).__name__.lower()
            detail = binding.tooltip or binding.description
            rows[key] = BoundAction(
                (shown,), binding.description, detail, binding.action, node, binding.id, group
            )
        else:  # another key for the same action (e.g. Textual's own ctrl+q next to our q)
            keys = row.keys if shown in row.keys else (*row.keys, shown)
            rows[key] = dataclasses.replace(row, keys=keys, binding_id=row.binding_id or binding.id)
    return list(rows.values())


def _annotate_screen(screen: Screen[Any]) -> Screen[Any]:
    """The screen whose actions the palette offers: the one under the palette's own modal screens."""
    for candidate in reversed(screen.app.screen_stack):
        if not candidate.is_modal:
            return candidate
    return screen


class ActionCommands(Provider):
    """Offers every bound action of the annotation screen, named by its description, with its keys."""

    def _actions(self) -> Iterator[tuple[str, BoundAction]]:
        for row in bound_actions(_annotate_screen(self.screen)):
            yield f"{row.detail} ({row.key_text})", row

    async def discover(self) -> Hits:
        for title, row in self._actions():
            yield DiscoveryHit(
                title, partial(self.app.run_action, row.action, row.node), help=row.binding_id or ""
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, row in self._actions():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, row.action, row.node))
