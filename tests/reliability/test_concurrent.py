"""Two sam2tui processes on one session: the second is refused with one line naming the first one's PID
(exit 2), whatever the command; a lock left by a killed process is taken over; racing openers never both
win."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sam2tui.errors import SessionError
from sam2tui.session.store import SessionStore
from sam2tui.values import Prompt
from sam2tui.video import VideoSource
from tests.fixtures_engine import clip_frames, write_jpeg_folder
from tests.reliability.helpers import (
    REPO,
    child_env,
    disc_results,
    lock_holder,
    one_error_line,
    pid_alive,
    run,
    sam2tui_argv,
    wait_for,
)

HOLD = """
import sys, time
from pathlib import Path
from sam2tui.session.store import SessionStore
store = SessionStore.open(Path(sys.argv[1]))
print("holding", flush=True)
time.sleep(120)
"""


@pytest.fixture
def clip_and_session(tmp_path: Path) -> tuple[Path, Path]:
    clip = write_jpeg_folder(tmp_path / "clip", clip_frames(4))
    session = tmp_path / "clip.sam2tui"
    with VideoSource.open(clip) as video, SessionStore.open(session, video.fingerprint()) as store:
        store.add_object("square")
        store.add_prompt(Prompt.rectangle(0, 1, (20, 40, 60, 80)))
        store.put_results(disc_results(range(4), 1, 160, 120))
    (tmp_path / "prompts.json").write_text(
        json.dumps({"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [20, 40, 60, 80]}]}]})
    )
    return clip, session


def hold(session: Path) -> subprocess.Popen[str]:
    """Another process that has the session open (until it is killed)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(session)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


@pytest.fixture
def holder(clip_and_session: tuple[Path, Path]) -> Iterator[subprocess.Popen[str]]:
    process = hold(clip_and_session[1])
    yield process
    process.kill()
    process.wait(timeout=10)


def commands(tmp_path: Path, clip: Path, session: Path) -> dict[str, list[str]]:
    dummy = tmp_path / "unused.pt"
    dummy.write_bytes(b"")
    return {
        "export": sam2tui_argv("export", session, "--format", "coco", "--out", tmp_path / "out.json"),
        "track": sam2tui_argv(
            "track", clip, "--prompts", tmp_path / "prompts.json", "--session", session, "--checkpoint", dummy
        ),
        "annotate": sam2tui_argv(clip, "--session", session, "--render", "halfblock"),
    }


@pytest.mark.parametrize("command", ["track", "annotate"])
def test_second_writer_is_refused_with_the_pid_of_the_first(
    tmp_path: Path, clip_and_session: tuple[Path, Path], holder: subprocess.Popen[str], command: str
) -> None:
    clip, session = clip_and_session
    before = session.read_bytes()
    done = run(commands(tmp_path, clip, session)[command], timeout=120)
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert f"in use by PID {holder.pid}" in line and str(session) in line, line
    assert holder.poll() is None and lock_holder(session) == holder.pid
    assert session.read_bytes() == before  # the refused process did not touch the file
    assert not (tmp_path / "out.json").exists()


def test_export_reads_a_snapshot_while_another_process_holds_the_session(
    tmp_path: Path, clip_and_session: tuple[Path, Path], holder: subprocess.Popen[str]
) -> None:
    """Only writers take the lock: `sam2tui export` works beside the open app and leaves its lock alone."""
    clip, session = clip_and_session
    before = session.read_bytes()
    done = run(commands(tmp_path, clip, session)["export"], timeout=120)
    assert done.returncode == 0, done.stderr
    coco = json.loads((tmp_path / "out.json").read_text())
    assert len(coco["annotations"]) == 4
    assert holder.poll() is None and lock_holder(session) == holder.pid
    assert session.read_bytes() == before


WRITER = """
import sys
from pathlib import Path
from sam2tui.session.store import SessionStore
from sam2tui.values import Prompt
with SessionStore.open(Path(sys.argv[1])) as store:
    obj_id = store.objects()[0].obj_id
    print("writing", flush=True)
    for i in range(300):  # one transaction each, as the app's clicks and commits are
        store.add_prompt(Prompt.click(1, obj_id, i % 50, 5))
        store.put_results(store.results(frame=2))
"""


def test_a_snapshot_stays_consistent_while_the_writer_commits(clip_and_session: tuple[Path, Path]) -> None:
    _, session = clip_and_session
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(session)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
        with SessionStore.open_snapshot(session) as snapshot:
            first, seq, prompts = snapshot.results(), snapshot.edit_seq(), snapshot.prompts()
            time.sleep(0.5)  # the writer goes on committing meanwhile
            assert (snapshot.results(), snapshot.edit_seq(), snapshot.prompts()) == (first, seq, prompts)
            with pytest.raises(SessionError, match="read-only"):
                snapshot.put_results(first)
    finally:
        assert writer.wait(timeout=60) == 0
    with SessionStore.open_snapshot(session) as later:
        assert later.edit_seq() > seq and len(later.prompts()) > len(prompts)


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path, clip_and_session: tuple[Path, Path]) -> None:
    clip, session = clip_and_session
    holder = hold(session)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert lock_holder(session) == holder.pid and not pid_alive(holder.pid)  # the stale lock file stays
    done = run(commands(tmp_path, clip, session)["export"])
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out.json").read_text())["annotations"]
    with SessionStore.open(session) as store:
        assert lock_holder(session) == os.getpid()
        assert len(store.results()) == 4
    assert lock_holder(session) is None  # released on close


@pytest.mark.parametrize("content", ["1\n", "garbage", "", "99999999\n"])
def test_lock_file_without_a_live_lock_is_taken_over(
    clip_and_session: tuple[Path, Path], content: str
) -> None:
    """A PID in the file means nothing without the flock (PID 1 is alive, yet holds no lock on it)."""
    _, session = clip_and_session
    session.with_name(session.name + ".lock").write_text(content)
    with SessionStore.open(session) as store:
        assert lock_holder(session) == os.getpid()
        assert len(store.results()) == 4


RACE = """
import sys, time
from pathlib import Path
from sam2tui.errors import SessionInUseError
from sam2tui.session.store import SessionStore
start = float(sys.argv[2])
while time.time() < start:
    pass
try:
    store = SessionStore.open(Path(sys.argv[1]))
except SessionInUseError as error:
    print("refused", error)
else:
    store.put_results(store.results())
    time.sleep(1.5)
    store.close()
    print("opened")
"""


def test_racing_openers_one_wins_the_others_are_refused(clip_and_session: tuple[Path, Path]) -> None:
    _, session = clip_and_session
    start = time.time() + 3.0  # after every child has imported sam2tui
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(session), str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(6)
    ]
    outcomes = [racer.communicate(timeout=60) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), outcomes
    said = [out.split()[0] for out, _ in outcomes]
    assert said.count("opened") == 1, outcomes
    assert said.count("refused") == 5 and all(
        "in use by PID" in out for out, _ in outcomes if "refused" in out
    )
    wait_for(lambda: lock_holder(session) is None, "the winner to release the lock", 10)
    with SessionStore.open(session) as store:
        assert len(store.results()) == 4
