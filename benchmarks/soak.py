"""A long session: 10,000 frame steps and 1,000 prompt edits in the app (Pilot, scripted tracker).

    python -m benchmarks.soak [--quick]        # prints the rows
    python -m benchmarks soak                  # as rows of the benchmarks table

What must stay flat from start to end: resident memory, open file descriptors, and the time a frame step
takes (until the canvas has taken the new frame: decode and overlay; the terminal write follows): the median of the last 1,000 steps against the first 1,000.
Keys are posted to the app as the terminal driver posts them. The clip is a 300-frame PNG folder (160x80) with object 1 propagated over it, so every step draws a mask.
Edits, one every 10 steps, cycle through a positive click, a negative click, undo and clearing the frame.
`quick=True` does 10x fewer of everything.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the scripted tracker and the test clip live in tests/

from textual import events  # noqa: E402

from sam2tui.session.store import SessionStore  # noqa: E402
from sam2tui.tui.app import Sam2TuiApp  # noqa: E402
from sam2tui.video import VideoSource  # noqa: E402
from tests.fixtures_tui import WIDE_CLIP, write_clip_folder  # noqa: E402
from tests.scripted_tracker import ScriptedTracker  # noqa: E402

FRAMES = 300
SIZE = (100, 32)
EDIT_EVERY = 10
STEP_TIMEOUT = 10.0  # seconds; a step that takes longer is a hang
RSS_SLACK_MIB = 50.0
FD_SLACK = 2
SLOWDOWN = 1.2  # the last steps may take at most this many times the first ones


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _soak(folder: Path, steps: int, window: int) -> dict[str, Any]:
    clip = write_clip_folder(folder / "clip", count=FRAMES, size=WIDE_CLIP)
    video = VideoSource.open(clip)
    store = SessionStore.open(folder / "clip.sam2tui", video.fingerprint())
    tracker = ScriptedTracker()
    app = Sam2TuiApp(video, store, tracker_factory=lambda spec, progress: tracker)
    try:
        async with app.run_test(size=SIZE) as pilot:
            ctl, canvas = app.controller, app.annotate.canvas

            async def until(condition: Any, what: str) -> None:
                deadline = time.monotonic() + STEP_TIMEOUT
                while not condition():
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"soak: timed out waiting for {what}")
                    await asyncio.sleep(0.001)

            await until(lambda: ctl.model.ready and canvas.frame_index == 0, "the model")
            await pilot.click(canvas, offset=(30, 12))
            await until(lambda: ctl.result(0, 1) is not None, "the first mask")
            await pilot.press("p")
            await until(lambda: not ctl.busy and len(store.results_by_frame(1)) == FRAMES, "the propagation")
            gc.collect()
            start_rss, start_fds = rss_mib(), open_fds()
            times: list[float] = []
            cpu: list[float] = []  # process CPU time: less sensitive than wall time to other load
            edits = 0
            forward = True
            for step in range(steps):
                if step % EDIT_EVERY == EDIT_EVERY - 1:
                    await _edit(pilot, canvas, edits)
                    edits += 1
                    await until(lambda: not app.engine.busy, "the engine after an edit")
                frame = ctl.view.frame
                if frame in (0, FRAMES - 1):
                    forward = frame == 0
                target = frame + (1 if forward else -1)
                began, began_cpu = time.perf_counter(), time.process_time()
                # The key goes in as the terminal driver posts it (Pilot.press would also wait for the whole
                # process to be idle, which measures the machine's load rather than the app).
                app.post_message(events.Key("right" if forward else "left", None))
                await until(lambda t=target: canvas.frame_index == t, f"frame {target}")
                times.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
            gc.collect()
            await pilot.pause(0.2)
            return {
                "start_rss": start_rss,
                "end_rss": rss_mib(),
                "start_fds": start_fds,
                "end_fds": open_fds(),
                "first_ms": statistics.median(times[:window]) * 1000,
                "last_ms": statistics.median(times[-window:]) * 1000,
                "first_cpu_ms": statistics.median(cpu[:window]) * 1000,
                "last_cpu_ms": statistics.median(cpu[-window:]) * 1000,
                "pending": len(ctl.pending),
                "steps": steps,
                "edits": edits,
                "prompts": len(store.prompts()),
            }
    finally:
        app.engine.stop(10)
        store.close()
        video.close()


async def _edit(pilot: Any, canvas: Any, count: int) -> None:
    kind = count % 4
    x, y = 20 + (count * 7) % 40, 8 + (count * 3) % 8
    if kind == 0:
        await pilot.click(canvas, offset=(x, y))
    elif kind == 1:
        await pilot.click(canvas, offset=(x, y), button=3)
    elif kind == 2:
        await pilot.press("u")
    else:
        await pilot.press("c")


def measure(quick: bool = False) -> list[dict[str, Any]]:
    steps = 1_000 if quick else 10_000
    window = steps // 10
    with tempfile.TemporaryDirectory(prefix="sam2tui-soak-") as folder:
        got = asyncio.run(_soak(Path(folder), steps, window))
    note = (
        f"{got['steps']} steps, {got['edits']} prompt edits ({got['prompts']} prompts, "
        f"{got['pending']} pending corrections at the end), Pilot + scripted tracker"
    )
    rss_target = got["start_rss"] + RSS_SLACK_MIB
    return [
        {
            "benchmark": "soak",
            "metric": f"ms per frame step, last {window} vs first {window}",
            "ours": got["last_ms"],
            "baseline": got["first_ms"],
            "baseline_name": f"first {window} steps",
            "unit": "ms",
            "target": f"<= {SLOWDOWN}x first",
            "met": got["last_ms"] <= SLOWDOWN * got["first_ms"],
            "note": note,
        },
        {
            "benchmark": "soak",
            "metric": f"CPU ms per frame step, last {window} vs first {window}",
            "ours": got["last_cpu_ms"],
            "baseline": got["first_cpu_ms"],
            "baseline_name": f"first {window} steps",
            "unit": "ms",
            "target": f"<= {SLOWDOWN}x first",
            "met": got["last_cpu_ms"] <= SLOWDOWN * got["first_cpu_ms"],
            "note": note,
        },
        {
            "benchmark": "soak",
            "metric": "resident memory at end vs start",
            "ours": got["end_rss"],
            "baseline": got["start_rss"],
            "baseline_name": "after warm-up",
            "unit": "MiB",
            "target": f"<= start + {RSS_SLACK_MIB:.0f} MiB",
            "met": got["end_rss"] <= rss_target,
            "note": note,
        },
        {
            "benchmark": "soak",
            "metric": "open file descriptors at end vs start",
            "ours": float(got["end_fds"]),
            "baseline": float(got["start_fds"]),
            "baseline_name": "after warm-up",
            "unit": "fds",
            "target": f"<= start + {FD_SLACK}",
            "met": got["end_fds"] <= got["start_fds"] + FD_SLACK,
            "note": note,
        },
    ]


if __name__ == "__main__":
    for row in measure(quick="--quick" in sys.argv):
        print(row)
