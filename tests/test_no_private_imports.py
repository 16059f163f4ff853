"""No module of sam2tui imports a private module of another package (`from X._y import`, `import X._y`).

A private module can change in any release (textual-image's `_sixel` pinned the project to an old version),
so such imports are found by reading every module's syntax tree, imports inside functions included.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sam2tui"


def private_imports(source: str) -> list[str]:
    """The third-party modules with a private part ("textual_image._sixel") that `source` imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top, *rest = name.split(".")
            if top == "sam2tui" or top in sys.stdlib_module_names:
                continue
            if any(part.startswith("_") for part in rest):
                found.append(name)
    return found


def test_the_check_finds_both_forms_and_ignores_our_own_and_the_stdlib() -> None:
    source = (
        "import numpy\nfrom textual_image._sixel import image_to_sixels\n"
        "def f():\n    import PIL._imaging\n"
        "from sam2tui.tui import _private\nimport concurrent.futures._base\nfrom . import _relative\n"
    )
    assert private_imports(source) == ["textual_image._sixel", "PIL._imaging"]


def test_no_module_imports_a_private_module_of_another_package() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    offenders = {
        str(path.relative_to(PACKAGE.parent)): found
        for path in modules
        if (found := private_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
