"""The README's examples run: each command in a ```console block is executed and its output checked.

The convention (docs/contributing.md, "README examples"):

- A ```console block holds lines `$ command` each followed by its expected output. A command line ending in
  a backslash continues on the next line.
- Expected output lines must appear in the command's output (stdout and stderr together) as a run of
  consecutive lines; whitespace runs count as one space and blank lines are ignored. A line `...` stands for
  any number of lines, and `...` inside a line for any text. A last line `[exit N]` expects exit status N
  (default 0).
- `$ # not run by tests: <reason>` before a command skips it (downloads, the interactive app).
- ```sh blocks are never run (`make demo`, `make test`, installs).

Commands run with bash in the repository root, the venv's bin folder first on PATH (so `sam2tui` is this
checkout's console script), COLUMNS=80, and the hermetic SAM2TUI_* folders of tests/conftest.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
COMMAND_TIMEOUT = 120  # seconds per command
NOT_RUN = re.compile(r"^#\s*not run by tests\s*:\s*\S")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
EXIT_LINE = re.compile(r"^\[exit (\d+)\]$")
ELLIPSIS = "..."


@dataclass
class Example:
    """One `$ command` of a console block with the output the README shows for it."""

    line: int  # 1-based line of the command in the README
    command: str
    expected: list[str] = field(default_factory=list)
    exit_status: int = 0
    skip_reason: str | None = None

    @property
    def id(self) -> str:
        text = re.sub(r"\s+", " ", self.command).strip()
        return f"L{self.line}: {text[:60]}"


def fenced_blocks(markdown: str) -> list[tuple[str, int, list[str]]]:
    """(language, 1-based line of the first content line, lines) of every fenced code block."""
    blocks: list[tuple[str, int, list[str]]] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opener = FENCE.match(lines[i])
        if opener is None:
            i += 1
            continue
        fence, indent = opener["fence"], opener["indent"]
        language = opener["info"].split()[0].lower() if opener["info"].strip() else ""
        start = i + 1
        i = start
        while i < len(lines) and not lines[i].strip().startswith(fence):
            i += 1
        # A block inside a list item is indented like its fence: drop that indent.
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[start:i]]
        blocks.append((language, start + 1, body))
        i += 1
    return blocks


def console_examples(markdown: str) -> list[Example]:
    """Every `$ command` in the ```console blocks of `markdown`, in order."""
    examples: list[Example] = []
    for language, first_line, lines in fenced_blocks(markdown):
        if language != "console":
            continue
        current: Example | None = None
        skip: str | None = None
        continuing = False
        for offset, raw in enumerate(lines):
            text = raw.rstrip()
            if continuing and current is not None:
                current.command += "\n" + text
                continuing = text.endswith("\\")
                continue
            if text.startswith("$"):
                command = text[1:].strip()
                if NOT_RUN.match(command):
                    skip = command.split(":", 1)[1].strip()
                    current = None
                    continue
                current = Example(first_line + offset, command, skip_reason=skip)
                examples.append(current)
                skip = None
                continuing = command.endswith("\\")
            elif current is not None:
                found = EXIT_LINE.match(text.strip())
                if found:
                    current.exit_status = int(found[1])
                else:
                    current.expected.append(text)
    return examples


def normalise(line: str) -> str:
    return " ".join(line.split())


def line_pattern(expected: str) -> re.Pattern[str]:
    """A normalised expected line as a pattern over a normalised output line (`...` matches any text)."""
    parts = [re.escape(part) for part in normalise(expected).split(ELLIPSIS)]
    return re.compile(".*".join(parts))


def output_matches(expected: list[str], output: str) -> bool:
    """Whether the expected lines appear in `output` as the README convention says (see the docstring)."""
    actual = [normalise(line) for line in output.splitlines() if line.strip()]
    wanted = [normalise(line) for line in expected if line.strip()]
    runs: list[list[re.Pattern[str]]] = [[]]
    for line in wanted:
        if line == ELLIPSIS:
            runs.append([])
        else:
            runs[-1].append(line_pattern(line))
    position = 0
    for run in runs:
        if not run:
            continue
        found = _find_run(run, actual, position)
        if found is None:
            return False
        position = found + len(run)
    return True


def _find_run(run: list[re.Pattern[str]], actual: list[str], start: int) -> int | None:
    for first in range(start, len(actual) - len(run) + 1):
        if all(pattern.fullmatch(actual[first + k]) for k, pattern in enumerate(run)):
            return first
    return None


def _readme_examples() -> list[object]:
    if not README.is_file():
        return [pytest.param(None, id="README.md is missing")]
    examples = console_examples(README.read_text(encoding="utf-8"))
    if not examples:
        return [pytest.param(None, id="no console blocks")]
    return [
        pytest.param(
            example,
            id=example.id,
            marks=pytest.mark.skip(reason=example.skip_reason) if example.skip_reason else (),
        )
        for example in examples
    ]


def command_environment() -> dict[str, str]:
    """os.environ (already hermetic: conftest's autouse fixture) with the venv first on PATH."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["COLUMNS"] = "80"
    env["NO_COLOR"] = "1"
    env.pop("SAM2TUI_TEST_TRACKER", None)
    return env


@pytest.mark.parametrize("example", _readme_examples())
def test_readme_command(example: Example | None) -> None:
    if example is None:
        pytest.fail(
            "README.md has no ```console block with a `$ command`: show at least one command that runs "
            "offline (e.g. `sam2tui --help`) with its output; see docs/contributing.md, 'README examples'"
        )
    script = Path(sys.executable).parent / "sam2tui"
    if "sam2tui" in example.command and not script.exists():
        pytest.fail(f"{script} is missing: install the package into the venv (make install)")
    try:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", example.command],
            cwd=REPO,
            env=command_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"README.md line {example.line}: `{example.command}` ran over {COMMAND_TIMEOUT} s")
    where = f"README.md line {example.line}: `{example.command}`"
    assert done.returncode == example.exit_status, (
        f"{where} exited with {done.returncode}, the README expects {example.exit_status}; output:\n"
        f"{done.stdout}"
    )
    assert output_matches(example.expected, done.stdout), (
        f"{where}: its output no longer matches the README.\n--- README shows:\n"
        + "\n".join(example.expected)
        + f"\n--- actual output:\n{done.stdout}"
    )


def test_readme_leads_with_make_demo_and_make_test() -> None:
    head = README.read_text(encoding="utf-8").splitlines()[:20]
    text = "\n".join(head)
    missing = [command for command in ("make demo", "make test") if command not in text]
    assert not missing, f"README.md's first 20 lines must show {' and '.join(missing)}"


# ---- the convention itself ----

SAMPLE = """\
Intro.

```console
$ echo hello
hello
$ # not run by tests: needs the network
$ curl https://example.org
<html>
$ printf 'a\\n\\nb  c\\nd\\n' \\
    | cat
a
b c
...
[exit 0]
```

```sh
make demo
```
"""


def test_console_examples_are_parsed_with_their_output_and_markers() -> None:
    examples = console_examples(SAMPLE)
    assert [e.command for e in examples] == [
        "echo hello",
        "curl https://example.org",
        "printf 'a\\n\\nb  c\\nd\\n' \\\n    | cat",
    ]
    assert [e.line for e in examples] == [4, 7, 9]
    assert examples[0].expected == ["hello"] and examples[0].skip_reason is None
    assert examples[1].skip_reason == "needs the network"
    assert examples[2].expected == ["a", "b c", "..."] and examples[2].exit_status == 0
    assert examples[0].id == "L4: echo hello"


def test_sh_blocks_and_plain_fences_are_not_examples() -> None:
    assert console_examples("```sh\n$ make test\n```\n```\n$ ls\n```\n") == []


def test_blocks_in_list_items_are_dedented() -> None:
    (example,) = console_examples("- Try:\n\n  ```console\n  $ echo hi\n  hi\n  ```\n")
    assert (example.command, example.expected, example.line) == ("echo hi", ["hi"], 4)


def test_exit_line_sets_the_expected_status() -> None:
    (example,) = console_examples("```console\n$ false\n[exit 1]\n```\n")
    assert example.exit_status == 1 and example.expected == []


@pytest.mark.parametrize(
    ("expected", "output", "matches"),
    [
        (["b c"], "a\nb    c\nd\n", True),  # whitespace runs are one space
        (["a", "b"], "a\n\nb\n", True),  # blank lines are ignored
        (["a", "c"], "a\nb\nc\n", False),  # consecutive unless `...` is between
        (["a", "...", "c"], "a\nb\nc\n", True),
        (["c", "...", "a"], "a\nb\nc\n", False),  # in order
        (["Cache: ... (set X)"], "Cache: /tmp/q (set X)\n", True),  # `...` inside a line
        (["Cache: ..."], "Cach: /tmp\n", False),
        ([], "anything\n", True),
        (["b"], "abc\n", False),  # whole lines, not substrings
    ],
)
def test_output_matching(expected: list[str], output: str, matches: bool) -> None:
    assert output_matches(expected, output) is matches
