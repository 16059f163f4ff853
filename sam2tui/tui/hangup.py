"""The terminal goes (SSH drops: SIGHUP) or a kill comes (SIGTERM): quit as `q` does, and never outlive it.

The app quits on its event loop, through asyncio's signal handler. Two things kept it from ever getting
there, both seen when the tmux tests hung up a pane under a running app (the process stayed, orphaned,
holding the session's lock until `kill -9`):
- A hung-up terminal fails every write with EIO. Textual's writer thread dies on the first one, and once
  its queue is full (30 writes) the UI thread blocks for good on the next. The SIGCONT that the kernel
  sends after a hangup makes Textual resume application mode, which writes a whole screen. So the first
  thing a SIGHUP does, on the main thread before any other Python code runs, is point the terminal's file
  descriptors at /dev/null: every later write succeeds, to nowhere.
- A write lost before that (a writer that died first) still wedges the UI thread. A watchdog thread then
  checks that the event loop still answers; after `deadline` seconds without an answer it logs why and
  exits the process with status 1. The session commits each prompt and each finished frame as it comes
  (docs/architecture.md), so that keeps what a crash keeps; the kernel drops the session's flock with the
  process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

QUIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM)
UI_DEADLINE = 10.0  # seconds the UI may not answer, after a quit signal, before the process exits


class HangupGuard:
    """Calls `on_signal(sig)` on `loop` for SIGHUP and SIGTERM, and makes sure the process ends after one."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_signal: Callable[[signal.Signals], object],
        *,
        deadline: float = UI_DEADLINE,
        exit_process: Callable[[int], object] = os._exit,
        terminal_fds: list[int] | None = None,
    ) -> None:
        self._loop = loop
        self._on_signal = on_signal
        self._deadline = deadline
        self._exit_process = exit_process
        # Found now: once the terminal has hung up, isatty() is false on it.
        self._terminal_fds = (
            [fd for fd in (0, 1, 2) if os.isatty(fd)] if terminal_fds is None else terminal_fds
        )
        self._received: signal.Signals | None = None
        self._wake = threading.Event()

    def install(self) -> bool:
        """Register the handlers and start the watchdog; False (nothing done) off the main thread."""
        for sig in QUIT_SIGNALS:
            try:
                self._loop.add_signal_handler(sig, self._on_signal, sig)
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
                return False
            # asyncio's Python-level handler only makes the signal wake the loop: run the urgent part there too,
            # at once on the main thread, which works while the loop is blocked.
            signal.signal(sig, self._chain(signal.getsignal(sig)))
        threading.Thread(target=self.watch, name="hangup-watchdog", daemon=True).start()
        return True

    def received(self, sig: signal.Signals) -> None:
        """What a quit signal does at once: let go of a terminal that hung up, and wake the watchdog."""
        if self._received is not None:  # a second signal (possibly interrupting this very call): done once
            return
        self._received = sig
        if sig == signal.SIGHUP:
            self._let_go_of_terminal()
        self._wake.set()

    def _chain(self, previous: object) -> Callable[[int, FrameType | None], None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            if callable(previous):
                previous(signum, frame)
            self.received(signal.Signals(signum))

        return handler

    def _let_go_of_terminal(self) -> None:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in self._terminal_fds:
                os.dup2(devnull, fd)
        finally:
            os.close(devnull)

    def watch(self) -> None:
        """The watchdog (`install` runs it on its own thread): idle until a quit signal, then the exit if
        the loop stops answering; it returns once the loop is closed."""
        while not self._wake.wait(1.0):  # idle: a look once a second whether the app has finished
            if self._loop.is_closed():
                return
        while not self._loop.is_closed():
            answered = threading.Event()
            try:
                self._loop.call_soon_threadsafe(answered.set)
            except RuntimeError:  # closed meanwhile: the app has finished
                return
            if not answered.wait(self._deadline) and not self._loop.is_closed():
                name = self._received.name if self._received is not None else "a quit signal"
                log.error(
                    "%s: the app has not answered for %.0f s since; exiting (the session has every committed edit)",
                    name,
                    self._deadline,
                )
                for handler in logging.getLogger().handlers:
                    handler.flush()
                self._exit_process(1)
                return
            time.sleep(0.5)
