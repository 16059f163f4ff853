"""`python -m tests.reliability.hangup_wrapper RC_FILE -- COMMAND...`: a login shell's part when SSH drops.

Run as the first process of a tmux pane, it starts COMMAND in the same terminal, passes a SIGHUP on to it (as
bash does to its jobs when the terminal hangs up), waits for it, and writes `<exit status> <child pid>` to
RC_FILE (a negative status: killed by that signal). The terminal may be gone by then, so nothing is printed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    rc_file, separator, *command = argv
    assert separator == "--" and command, "usage: hangup_wrapper RC_FILE -- COMMAND..."
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: object) -> None:
        for child in children:
            child.send_signal(signal.SIGHUP)

    # A Python handler (not SIG_IGN, which children would inherit): forward the hangup, keep waiting.
    signal.signal(signal.SIGHUP, forward)
    child = subprocess.Popen(command)
    children.append(child)
    status = child.wait()
    Path(rc_file).write_text(f"{status} {child.pid}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
