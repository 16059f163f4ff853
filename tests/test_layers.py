"""The layers only look down (docs/architecture.md, "Layers"): checked on the imports each module really makes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PURE = [
    "sam2tui.values",
    "sam2tui.masks",
    "sam2tui.video",
    "sam2tui.session.store",
    "sam2tui.session.history",
    "sam2tui.session.lanes",
    "sam2tui.session.review",
    "sam2tui.session.spans",
    "sam2tui.session.states",
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


def test_the_ui_never_names_sam2s_tracker() -> None:
    """The UI runs any Tracker: engine.options.chosen_tracker says which one and whether it is SAM 2, so no
    module of tui/ names SAM 2's tracker or tests a factory's identity."""
    sam2_names = {"sam2tui.engine.sam2_tracker", "sam2tui.engine.options.sam2_tracker"}
    choosers = sorted(
        str(path.relative_to(TUI)) for path in TUI.rglob("*.py") if imported_names(path) & sam2_names
    )
    assert choosers == []
    assert not [path for path in TUI.rglob("*.py") if " is sam2_tracker" in path.read_text()]


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


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at module level or in functions, except those under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    """sam2tui module -> the sam2tui modules it imports (a package stands for its __init__).

    `from sam2tui.x import name` is module sam2tui.x.name when that is a module, else sam2tui.x. Importing
    sam2tui.a.b also runs its parent packages' __init__ first: an edge to each that imports anything (most
    are docstrings) and that is not the importer's own package (which already runs).
    """
    files = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    trees = {module: ast.parse(path.read_text(), str(path)) for module, path in files.items()}
    statements = {module: _imports(tree) for module, tree in trees.items()}
    importing_inits = {
        module
        for module, path in files.items()
        if path.name == "__init__.py"
        and any(not (isinstance(s, ast.ImportFrom) and s.module == "__future__") for s in statements[module])
    }
    graph: dict[str, set[str]] = {}
    for module, found in statements.items():
        package_name = module if files[module].name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for statement in found:
            if isinstance(statement, ast.Import):
                targets.update(alias.name for alias in statement.names)
                continue
            base = statement.module or ""
            if statement.level:  # relative: from the importer's package, one level up per extra dot
                anchor = package_name.split(".")[: len(package_name.split(".")) - statement.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in statement.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base)
        edges: set[str] = set()
        for target in targets:
            if target.split(".")[0] != package.name:
                continue
            edges.add(target)
            names = target.split(".")
            for end in range(1, len(names)):
                parent = ".".join(names[:end])
                own = module == parent or module.startswith(parent + ".")
                if parent in importing_inits and not own:
                    edges.add(parent)
        edges.discard(module)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle `[a, b, ..., a]` in `graph`, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(sorted(graph[start]))]
        while stack:
            target = next(stack[-1], None)
            if target is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and target in graph:
                path.append(target)
                on_path.add(target)
                stack.append(iter(sorted(graph[target])))
    return None


def test_no_import_cycles_in_sam2tui() -> None:
    graph = import_graph(Path(__file__).resolve().parents[1] / "sam2tui")
    assert "sam2tui.tui.widgets.frame_canvas" in graph  # the walk found the modules
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# Each room of sam2tui and the rooms it may import (docs/architecture.md, "Layers"). cli.py and doctor.py
# sit above everything and dispatch to the subcommands.
ROOMS = {
    "values": set(),
    "errors": set(),
    "masks": {"values"},
    "video": {"values", "errors"},
    "session": {"values", "errors", "masks", "video"},
    "engine": {"values", "errors", "masks", "video"},
    "export": {"values", "errors", "masks", "video", "session"},
    "track": {"values", "errors", "masks", "video", "session", "engine", "export"},
    "tui": {"values", "errors", "masks", "video", "session", "engine", "export"},
}


def room(module: str) -> str:
    """The room of a module: sam2tui.session.store -> session, sam2tui.values -> values."""
    return module.split(".")[1] if module.count(".") else "sam2tui"


def test_layers_only_look_down() -> None:
    graph = import_graph(Path(__file__).resolve().parents[1] / "sam2tui")
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if room(module) in ROOMS
        for target in targets
        if room(target) != room(module) and room(target) not in ROOMS[room(module)] and target != "sam2tui"
    )
    assert upward == []
    assert (
        "sam2tui.values" in graph and not graph["sam2tui.values"]
    )  # the ground floor imports nothing of ours
