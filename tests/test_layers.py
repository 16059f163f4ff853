"""The layers only look down (docs/architecture.md, "Layers"): checked on the imports each module really makes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PURE = [
    "sam2tui.masks",
    "sam2tui.video",
    "sam2tui.session.store",
    "sam2tui.session.history",
    "sam2tui.session.lanes",
    "sam2tui.session.review",
    "sam2tui.session.spans",
    "sam2tui.export",
    "sam2tui.export.cli",
]
ENGINE = [
    "sam2tui.engine.tracker",
    "sam2tui.engine.worker",
    "sam2tui.engine.sam2_tracker",
]


def imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("module", PURE)
def test_pure_layers_import_neither_torch_nor_textual(module: str) -> None:
    assert not top_level(imported_after(module)) & {"torch", "textual", "sam2"}


@pytest.mark.parametrize("module", ENGINE)
def test_engine_never_imports_textual(module: str) -> None:
    assert "textual" not in top_level(imported_after(module))


TUI = Path(__file__).resolve().parents[1] / "sam2tui" / "tui"


def test_the_controller_knows_only_the_engines_interface() -> None:
    engine_modules = {
        name for name in imported_after("sam2tui.tui.controller") if name.startswith("sam2tui.engine")
    }
    assert engine_modules == {"sam2tui.engine", "sam2tui.engine.tracker"}


def imported_names(path: Path) -> set[str]:
    """The modules a source file imports, and module.name for each name it imports from one."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_only_the_apps_wiring_chooses_sam2() -> None:
    """The UI runs any Tracker: only app.py (building the app from the command line) names SAM 2's."""
    sam2_names = {"sam2tui.engine.sam2_tracker", "sam2tui.engine.options.sam2_tracker"}
    choosers = sorted(
        str(path.relative_to(TUI)) for path in TUI.rglob("*.py") if imported_names(path) & sam2_names
    )
    assert choosers == ["app.py"]


def test_only_sam2_tracker_imports_sam2() -> None:
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "sam2tui"
    importers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if any(
            line.lstrip().startswith(("import sam2\n", "from sam2.", "import sam2."))
            for line in path.read_text().splitlines(keepends=True)
        )
    )
    assert importers == ["engine/sam2_tracker.py"]
