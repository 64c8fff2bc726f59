"""The service's watchdog: its grading processes die with it, even after `kill -9`.

`dlcourse serve` starts this process in a session of its own, with a pipe as its stdin, and
writes the process id of each grading process it starts (`+PID`) or closes (`-PID`). When the
pipe ends, the service is gone, however it ended. Then the watchdog kills the process group of
each grading process still listed (a grading process leads its own session, and its sandboxed
kernels die with it), and exits. So an orphan never goes on grading a job that the restarted
service, or another one, grades again.

Why not PR_SET_PDEATHSIG: it would have to be set inside the autograde engine's own
`WorkerProcess`, and it fires when the *thread* that started the child ends, not the process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path


def _is_grading_process(pid: int) -> bool:
    """Still the grading process we were told of (not a new process with a reused id)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dlcourse.grader.worker" in cmdline and os.getpgid(pid) == pid


def main() -> int:
    pids: set[int] = set()
    for line in sys.stdin:
        line = line.strip()
        with contextlib.suppress(ValueError):
            if line.startswith("+"):
                pids.add(int(line[1:]))
            elif line.startswith("-"):
                pids.discard(int(line[1:]))
    for pid in pids:  # the service is gone
        with contextlib.suppress(OSError):
            if _is_grading_process(pid):
                os.killpg(pid, signal.SIGKILL)
    return 0


class Watchdog:
    """The service's end of the pipe."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "dlcourse.classroom.serve.watchdog"],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)

    def _say(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.write(text.encode() + b"\n")
            self.proc.stdin.flush()

    def watch(self, pid: int) -> None:
        self._say(f"+{pid}")

    def forget(self, pid: int) -> None:
        self._say(f"-{pid}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
