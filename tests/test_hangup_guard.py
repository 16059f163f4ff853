"""HangupGuard on its own: a quit signal lets go of a hung-up terminal, and a UI that no longer answers
after one ends the process (the app's real hangups: tests/reliability/test_hangup.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from sam2tui.tui.hangup import HangupGuard


class LoopThread:
    """An event loop running on its own thread, as the app's runs on the main one."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def block(self, until: threading.Event) -> None:
        """Wedge the loop (as a write to a dead terminal's full queue does) until `until` is set."""
        self.loop.call_soon_threadsafe(until.wait)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    running = LoopThread()
    yield running
    if not running.loop.is_closed():
        running.close()


def watchdog_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "hangup-watchdog"]


def start_watchdog(guard: HangupGuard) -> threading.Thread:
    """The watchdog as `install` starts it (install itself needs the main thread's loop for the signals)."""
    thread = threading.Thread(target=guard.watch, name="hangup-watchdog", daemon=True)
    thread.start()
    return thread


def test_a_wedged_ui_after_a_quit_signal_ends_the_process(loop_thread: LoopThread) -> None:
    exits: list[int] = []
    guard = HangupGuard(loop_thread.loop, lambda sig: None, deadline=0.3, exit_process=exits.append)
    watchdog = start_watchdog(guard)
    release = threading.Event()
    loop_thread.block(release)
    guard.received(signal.SIGTERM)
    watchdog.join(5)
    release.set()
    assert exits == [1]


def test_a_ui_that_answers_is_left_to_quit_itself(loop_thread: LoopThread) -> None:
    exits: list[int] = []
    guard = HangupGuard(loop_thread.loop, lambda sig: None, deadline=0.3, exit_process=exits.append)
    watchdog = start_watchdog(guard)
    guard.received(signal.SIGTERM)
    time.sleep(1.5)  # several deadlines, the loop answering each time
    assert exits == [] and watchdog.is_alive()
    loop_thread.close()  # the app has finished
    watchdog.join(5)
    assert not watchdog.is_alive() and exits == []


def test_without_a_signal_the_watchdog_ends_with_the_loop(loop_thread: LoopThread) -> None:
    guard = HangupGuard(loop_thread.loop, lambda sig: None, exit_process=lambda code: None)
    watchdog = start_watchdog(guard)
    loop_thread.close()
    watchdog.join(5)
    assert not watchdog.is_alive()


def test_a_hangup_points_the_terminal_at_dev_null(loop_thread: LoopThread) -> None:
    controller, terminal = os.openpty()
    try:
        guard = HangupGuard(loop_thread.loop, lambda sig: None, terminal_fds=[terminal])
        guard.received(signal.SIGHUP)
        assert not os.isatty(terminal)
        os.close(controller)  # the terminal hangs up: a write to it would now fail with EIO
        controller = -1
        assert os.write(terminal, b"x" * 100_000) == 100_000  # to /dev/null: never fails, never blocks
        assert os.read(terminal, 10) == b""
    finally:
        for fd in (controller, terminal):
            if fd >= 0:
                os.close(fd)


def test_a_term_signal_leaves_the_terminal_alone(loop_thread: LoopThread) -> None:
    controller, terminal = os.openpty()
    try:
        guard = HangupGuard(loop_thread.loop, lambda sig: None, terminal_fds=[terminal])
        guard.received(signal.SIGTERM)
        guard.received(signal.SIGHUP)  # a second signal: the first one's handling stands
        assert os.isatty(terminal)  # the app quits normally and gives the terminal back as it was
    finally:
        os.close(controller)
        os.close(terminal)


def test_install_off_the_main_thread_does_nothing(loop_thread: LoopThread) -> None:
    guard = HangupGuard(loop_thread.loop, lambda sig: None)
    before = signal.getsignal(signal.SIGTERM), len(watchdog_threads())
    installed = asyncio.run_coroutine_threadsafe(_install(guard), loop_thread.loop).result(5)
    assert installed is False
    assert (signal.getsignal(signal.SIGTERM), len(watchdog_threads())) == before


async def _install(guard: HangupGuard) -> bool:
    return guard.install()
