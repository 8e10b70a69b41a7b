"""`sentinel worker --processes N`: N worker processes on one queue, each with its own models.

Processes, not threads: detection and pose hold the GIL between their native calls, and a
crashed or killed process loses only its own chunk (its lease expires and another takes it).
Each child dies with the pool (Linux parent-death signal), so killing the pool never leaves a
child renewing a lease that nobody watches.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

CLI = Path(__file__).resolve().parents[1] / "cli.py"
PR_SET_PDEATHSIG = 1
RESTART_DELAY_S = 2.0


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the pool process dies, however it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: children then outlive a killed pool until their job ends
        pass


def _start() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CLI), "worker", "--processes", "1"], preexec_fn=_die_with_parent)


def run_pool(processes: int) -> int:
    """Run `processes` single workers until SIGTERM or SIGINT; a child that dies is started again."""
    stopping = False

    def stop(*_) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = [_start() for _ in range(processes)]
    log.info("worker pool: %d processes (%s)", processes, ", ".join(str(c.pid) for c in children))
    try:
        while not stopping:
            for i, child in enumerate(children):
                if child.poll() is not None and not stopping:
                    log.warning("worker process %d exited with %s; starting another", child.pid, child.returncode)
                    time.sleep(RESTART_DELAY_S)
                    children[i] = _start()
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()  # each finishes the job it holds, as a single worker does on SIGTERM
        for child in children:
            try:
                child.wait(600)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0
