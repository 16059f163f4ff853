"""Run every benchmark and rewrite the results table in benchmarks/README.md.

Each benchmark module exposes `measure(quick: bool = False) -> list[dict]` whose rows carry:
benchmark, metric, ours, baseline, baseline_name, unit, target, met, note; optionally ratio (when it is
not ours/baseline, e.g. a median of paired ratios). `met` is True, False, None (no target) or a word such as
"too noisy". A figure that claims "faster" or "smaller" is a ratio against a baseline measured in the same run.

    python -m benchmarks                 # all, then rewrite benchmarks/README.md
    python -m benchmarks terminal engine_speed --quick --no-write
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODULES = (
    "terminal",
    "engine_speed",
    "host_ceiling",
    "engine_memory",
    "video_access",
    "export_speed",
    "soak",
)
BEGIN = "<!-- results:begin -->"
END = "<!-- results:end -->"


def versions() -> str:
    found = []
    for name in ("torch", "sam2", "textual", "textual-image", "numpy", "opencv-python-headless", "av"):
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| benchmark | metric | ours | baseline | ratio | unit | target | met | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        baseline = row.get("baseline")
        ratio = row.get("ratio", row["ours"] / baseline if baseline else None)
        base = f"{fmt(baseline)} ({row['baseline_name']})" if baseline is not None else ""
        verdict = row.get("met")
        met = {True: "yes", False: "**no**", None: ""}.get(verdict, f"*{verdict}*")
        lines.append(
            f"| {row['benchmark']} | {row['metric']} | {fmt(row['ours'])} | {base} | {fmt(ratio)} "
            f"| {row.get('unit', '')} | {row.get('target', '')} | {met} | {row.get('note', '')} |"
        )
    return "\n".join(lines)


def write_readme(body: str) -> None:
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "only", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(MODULES)} (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave README.md alone")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - set(MODULES))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    rows: list[dict[str, Any]] = []
    failed = []
    started = time.monotonic()
    for name in args.only or MODULES:
        print(f"== {name}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows.extend(module.measure(quick=args.quick))
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"   {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    header = (
        f"Run {dt.date.today().isoformat()} in {time.monotonic() - started:.0f} s on {machine()}.\n"
        f"Versions: {versions()}.\n" + (f"Failed to run: {', '.join(failed)}.\n" if failed else "")
    )
    body = f"{header}\n{table(rows)}"
    print(body)
    if not args.no_write:
        write_readme(body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
