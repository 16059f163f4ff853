"""A fake terminal on a pty: runs any command, answers its queries, types keys and mouse, counts bytes.

It plays what the terminal emulator does for a TUI under test:
- window size in cells and pixels (TIOCSWINSZ), so `CSI 16 t` and ioctl agree;
- replies to DA1 (`CSI c`, with attribute 4 when it has Sixel), the kitty graphics query, `CSI 14/16/18 t`,
  cursor position (`CSI 6 n`) and DECRQM (`CSI ? mode $ p`: 2026 synchronized output, optionally 2048
  in-band resize, after which Textual reports the mouse in pixels); every reply can be delayed to play a
  slow SSH link;
- keys and SGR mouse reports (cells, or pixels once the app switched to pixel mouse);
- every byte the app writes, with the time it arrived, split into screen updates (synchronized-output
  frames) and replayed onto a text screen (`ScreenText`) to read what the app shows.

    with PtyTerminal([sys.executable, "-m", "myapp"], TerminalProfile(cols=160, rows=48)) as term:
        term.wait_quiet()
        start = term.mark()
        term.key("right")
        term.wait_quiet()
        print(term.bytes_since(start))
"""

from __future__ import annotations

import bisect
import fcntl
import itertools
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KEYS = {
    "right": b"\x1b[C",
    "left": b"\x1b[D",
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "enter": b"\r",
    "escape": b"\x1b",
    "ctrl+q": b"\x11",
    "ctrl+c": b"\x03",
    "space": b" ",
    "tab": b"\t",
    "home": b"\x1b[H",
    "end": b"\x1b[F",
}

_QUERY = re.compile(
    rb"\x1b\[0?c"  # DA1
    rb"|\x1b_G([^\x1b]*)\x1b\\"  # kitty graphics command (only a=q is answered)
    rb"|\x1b\[(14|16|18)t"  # window / cell / text-area size
    rb"|\x1b\[6n"  # cursor position
    rb"|\x1b\[\?(\d+)\$p"  # DECRQM
    rb"|\x1b\[\?2048h"  # in-band resize switched on
)
_TAIL = 128  # bytes kept between reads so a query split across reads is still seen
SYNC_START = b"\x1b[?2026h"  # a synchronized update (one screen refresh of a Textual app) begins
SYNC_END = b"\x1b[?2026l"  # and ends
BURST_GAP = 0.005  # seconds without bytes that end an unsynchronized update
# What a text screen skips or obeys: CSI (cursor moves, colours, modes), DCS (Sixel), APC (kitty), OSC,
# other escapes (ESC 7 saves the cursor, ESC ( B picks a character set, ...); and runs of text.
_ESCAPE = re.compile(
    r"\x1b(?:\[([0-?]*)[ -/]*([@-~])|P.*?\x1b\\|_.*?\x1b\\|\].*?(?:\x07|\x1b\\)|[ -/]*[0-~])", re.S
)


@dataclass(frozen=True)
class TerminalProfile:
    """What the fake terminal is: size, abilities and how slowly it answers."""

    cols: int = 160
    rows: int = 48
    cell: tuple[int, int] = (10, 20)  # pixels per cell (width, height)
    sixel: bool = False
    kitty: bool = False
    reply_delay: float = 0.0  # seconds before each reply (a slow link)
    pixel_mouse: bool = False  # offer in-band resize (2048): Textual then reports the mouse in pixels
    synchronized_output: bool = True  # answer DECRQM 2026 as supported (updates arrive framed)
    silent: bool = False  # answers nothing (a terminal that ignores queries, or a link that lost them)

    @property
    def da1(self) -> bytes:
        return b"\x1b[?62;" + (b"4;" if self.sixel else b"") + b"22c"

    @property
    def pixel_size(self) -> tuple[int, int]:
        return self.cols * self.cell[0], self.rows * self.cell[1]


def _winsize(profile: TerminalProfile) -> bytes:
    width, height = profile.pixel_size
    return struct.pack("HHHH", profile.rows, profile.cols, width, height)


class PtyTerminal:
    """Runs `argv` on a new pty and plays its terminal from a reader thread."""

    def __init__(
        self,
        argv: Sequence[str],
        profile: TerminalProfile = TerminalProfile(),
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        keep_output: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.profile = profile
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("TERM", "xterm-256color")
        self.cwd = cwd
        self.keep_output = keep_output
        self.output = bytearray()  # everything written, when keep_output
        self.chunks: list[tuple[float, int]] = []  # (arrival time, size) of every read
        self.total = 0
        self.queries: list[bytes] = []
        self._pending: list[tuple[float, bytes]] = []  # replies due at a time
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._pixel_mouse_on = False
        self._screen = ScreenText(profile.cols, profile.rows)
        self._screen_fed = 0  # bytes of output replayed onto _screen
        self._proc: subprocess.Popen[bytes] | None = None
        self.started: float | None = None  # monotonic time just before the process was spawned
        self._master = -1
        self._thread: threading.Thread | None = None

    # -- life -------------------------------------------------------------------------------------------------

    def start(self) -> PtyTerminal:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, _winsize(self.profile))
        self._master = master
        self.started = time.monotonic()
        self._proc = subprocess.Popen(
            self.argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # the pty is its controlling terminal
        )
        os.close(slave)
        self._thread = threading.Thread(target=self._pump, name="pty-terminal", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 3.0) -> int | None:
        """Ask the app to quit (ctrl+q), then terminate it; returns its exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                self.key("ctrl+q")
                proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        os.close(self._master)
        self._proc = None
        return proc.returncode

    def __enter__(self) -> PtyTerminal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    # -- the terminal's side ----------------------------------------------------------------------------------

    def _pump(self) -> None:
        tail = b""
        while not self._stop.is_set():
            self._send_due()
            timeout = 0.02 if self._pending else 0.05
            try:
                readable, _, _ = select.select([self._master], [], [], timeout)
            except (OSError, ValueError):
                return
            if not readable:
                continue
            try:
                chunk = os.read(self._master, 1 << 16)
            except OSError:  # the child closed the pty
                return
            if not chunk:
                return
            now = time.monotonic()
            with self._lock:
                self.chunks.append((now, len(chunk)))
                self.total += len(chunk)
                if self.keep_output:
                    self.output += chunk
            tail = self._answer(tail + chunk, now)

    def _answer(self, data: bytes, now: float) -> bytes:
        last_end = 0
        for match in _QUERY.finditer(data):
            last_end = match.end()
            reply = b"" if self.profile.silent else self._reply(match)
            self.queries.append(match.group(0)[:64])
            if reply:
                self._pending.append((now + self.profile.reply_delay, reply))
        return data[max(last_end, len(data) - _TAIL) :]

    def _reply(self, match: re.Match[bytes]) -> bytes:
        p = self.profile
        text = match.group(0)
        if text.startswith(b"\x1b_G"):
            params = match.group(1) or b""
            if b"a=q" not in params.split(b";")[0].split(b","):
                return b""
            image_id = re.search(rb"(?:^|,)i=(\d+)", params)
            if not p.kitty or image_id is None:
                return b""
            return b"\x1b_Gi=" + image_id.group(1) + b";OK\x1b\\"
        if text.endswith(b"c"):
            return p.da1
        if match.group(2) == b"16":
            return f"\x1b[6;{p.cell[1]};{p.cell[0]}t".encode()
        if match.group(2) == b"14":
            width, height = p.pixel_size
            return f"\x1b[4;{height};{width}t".encode()
        if match.group(2) == b"18":
            return f"\x1b[8;{p.rows};{p.cols}t".encode()
        if text == b"\x1b[6n":
            return b"\x1b[1;1R"
        if match.group(3) is not None:
            mode = int(match.group(3))
            supported = (mode == 2026 and p.synchronized_output) or (mode == 2048 and p.pixel_mouse)
            return f"\x1b[?{mode};{2 if supported else 0}$y".encode()
        if text == b"\x1b[?2048h" and p.pixel_mouse:
            self._pixel_mouse_on = True
            width, height = p.pixel_size
            return f"\x1b[48;{p.rows};{p.cols};{height};{width}t".encode()
        return b""

    def _send_due(self) -> None:
        if not self._pending:
            return
        now = time.monotonic()
        due = [reply for at, reply in self._pending if at <= now]
        if due:
            self._pending = [(at, reply) for at, reply in self._pending if at > now]
            self.write(b"".join(due))

    # -- the user's side --------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        with self._write_lock:
            os.write(self._master, data)

    def key(self, name: str) -> float:
        """Type a key (a name from KEYS or literal text); returns when it was sent."""
        self.write(KEYS.get(name, name.encode()))
        return time.monotonic()

    def mouse(
        self, col: float, row: float, button: int = 0, press: bool = True, motion: bool = False
    ) -> None:
        """An SGR mouse report at 0-based cell (col, row); fractions count once the app uses pixel mouse.

        `button`: 0 left, 1 middle, 2 right, 64/65 wheel up/down.
        """
        if self._pixel_mouse_on:
            x, y = round(col * self.profile.cell[0]), round(row * self.profile.cell[1])
        else:
            x, y = int(col), int(row)
        code = button + (32 if motion else 0)
        self.write(f"\x1b[<{code};{x + 1};{y + 1}{'M' if press else 'm'}".encode())

    def click(self, col: float, row: float, button: int = 0) -> None:
        self.mouse(col, row, button, press=True)
        self.mouse(col, row, button, press=False)

    # -- measuring --------------------------------------------------------------------------------------------

    def mark(self) -> int:
        """The number of chunks read so far (a point to measure from)."""
        with self._lock:
            return len(self.chunks)

    def bytes_since(self, mark: int) -> int:
        with self._lock:
            return sum(size for _, size in self.chunks[mark:])

    def last_byte_time(self) -> float | None:
        with self._lock:
            return self.chunks[-1][0] if self.chunks else None

    def wait_quiet(self, quiet: float = 0.3, timeout: float = 20.0, after: int | None = None) -> float | None:
        """Wait until nothing arrived for `quiet` seconds (and something arrived after chunk `after`).

        Returns the time the last byte arrived, or None on timeout.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(min(quiet / 4, 0.05))
            with self._lock:
                if after is not None and len(self.chunks) <= after:
                    continue
                last = self.chunks[-1][0] if self.chunks else None
            if last is not None and time.monotonic() - last >= quiet:
                return last
            if self.returncode is not None:
                return last
        return None

    def arrival_of(self, mark: int, pattern: bytes) -> float | None:
        """When the first `pattern` after chunk `mark` had fully arrived (needs keep_output)."""
        found = self.output_since(mark).find(pattern)
        if found < 0:
            return None
        needed = found + len(pattern)
        with self._lock:
            for at, size in self.chunks[mark:]:
                needed -= size
                if needed <= 0:
                    return at
        return None

    def updates_since(self, mark: int) -> list[tuple[float, bytes]]:
        """The screen updates after chunk `mark`, each with the time its last byte arrived (needs keep_output).

        An update is a synchronized-output frame; output outside them (an app writes so until the
        terminal has said it supports synchronized output) is cut where the bytes paused for BURST_GAP.
        A synchronized update still arriving is left out.
        """
        with self._lock:
            chunks = self.chunks[mark:]
            skip = sum(size for _, size in self.chunks[:mark])
            data = bytes(self.output[skip:])
        times = [at for at, _ in chunks]
        ends = list(itertools.accumulate(size for _, size in chunks))  # end offset of each chunk in data

        def arrival(end: int) -> float:
            """When byte `end - 1` arrived."""
            return times[bisect.bisect_left(ends, end)]

        updates: list[tuple[float, bytes]] = []
        pos = 0
        while pos < len(data):
            begin = data.find(SYNC_START, pos)
            stop = len(data) if begin < 0 else begin
            # Unsynchronized output up to `stop`: one update per burst of chunks.
            while pos < stop:
                index = bisect.bisect_right(ends, pos)  # the chunk holding byte pos
                while ends[index] < stop and times[index + 1] - times[index] < BURST_GAP:
                    index += 1
                cut = min(ends[index], stop)
                updates.append((arrival(cut), data[pos:cut]))
                pos = cut
            if begin < 0:
                break
            end = data.find(SYNC_END, begin)
            if end < 0:
                break
            end += len(SYNC_END)
            updates.append((arrival(end), data[begin:end]))
            pos = end
        return updates

    def screen(self) -> ScreenText:
        """The text screen after every complete update so far (needs keep_output; one caller at a time)."""
        with self._lock:
            data = bytes(self.output[self._screen_fed :])
        end = data.rfind(SYNC_END)
        if end >= 0:
            end += len(SYNC_END)
            self._screen.feed(data[:end])
            self._screen_fed += end
        return self._screen

    def wait_for_text(self, text: str, timeout: float = 20.0) -> bool:
        """Wait until some line of the screen contains `text`; False on timeout or when the app ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.screen().find(text) is not None:
                return True
            if self.returncode is not None:
                return False
            time.sleep(0.05)
        return False

    def output_since(self, mark: int, until: float | None = None) -> bytes:
        """The bytes after chunk `mark`, up to those that arrived at time `until` (needs keep_output)."""
        with self._lock:
            skip = sum(size for _, size in self.chunks[:mark])
            end = skip + sum(size for at, size in self.chunks[mark:] if until is None or at <= until)
            return bytes(self.output[skip:end])


class ScreenText:
    """The text a terminal shows after the app's output: cursor moves and printed characters only.

    Colours, modes and graphics (Sixel, kitty) are skipped: enough to read a status bar or spot a dialog.
    """

    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.cells = [[" "] * cols for _ in range(rows)]
        self.x = self.y = 0

    def feed(self, data: bytes) -> ScreenText:
        text = data.decode("utf-8", "replace")
        pos = 0
        for match in _ESCAPE.finditer(text):
            self._print(text[pos : match.start()])
            pos = match.end()
            if match.group(2) == "H":  # cursor position, 1-based "row;col"
                row, _, col = match.group(1).partition(";")
                self.y = min(self.rows - 1, max(0, int(row or 1) - 1))
                self.x = min(self.cols - 1, max(0, int(col or 1) - 1))
        self._print(text[pos:])
        return self

    def _print(self, text: str) -> None:
        for char in text:
            if char == "\r":
                self.x = 0
            elif char == "\n":
                self.y = min(self.rows - 1, self.y + 1)
            elif char >= " ":
                if self.x < self.cols:
                    self.cells[self.y][self.x] = char
                self.x += 2 if unicodedata.east_asian_width(char) in "WF" else 1

    def line(self, row: int) -> str:
        return "".join(self.cells[row]).rstrip()

    def lines(self) -> list[str]:
        return [self.line(row) for row in range(self.rows)]

    def find(self, text: str) -> int | None:
        """The first row that contains `text`, or None."""
        return next((row for row in range(self.rows) if text in self.line(row)), None)
