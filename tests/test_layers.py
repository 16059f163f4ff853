"""The layers only look down (docs/architecture.md, "Layers"): checked on the imports each module really makes."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = [
    "sam2tui.masks",
    "sam2tui.video",
    "sam2tui.session.store",
    "sam2tui.session.history",
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
