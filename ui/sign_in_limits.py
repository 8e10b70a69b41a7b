"""A failure budget for the sign-in: growing delays per client, then a lock-out that says how long to wait.

Each client (by IP address) gets a few free attempts; after that every further failure locks it
out for twice as long, up to a cap. A global budget locks every client out for a while when
many addresses guess at once. A correct password does not get in during a lock-out.

Example:
    >>> limits = SignInLimits(per_client=3)
    >>> [limits.failed("10.0.0.1") for _ in range(3)][-1] > 0, limits.wait_s("10.0.0.1") > 0
    (True, True)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable


@dataclass(slots=True)
class _Budget:
    failures: deque = field(default_factory=deque)  # monotonic times of recent failures
    locked_until: float = 0.0
    lockouts: int = 0


class SignInLimits:
    """Thread-safe counts of failed sign-ins, per client and over all clients."""

    def __init__(self, *, per_client: int = 5, overall: int = 30, window_s: float = 15 * 60,
                 lock_s: float = 30.0, max_lock_s: float = 15 * 60, max_delay_s: float = 4.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.overall, self.window_s = per_client, overall, window_s
        self.lock_s, self.max_lock_s, self.max_delay_s = lock_s, max_lock_s, max_delay_s
        self.clock = clock
        self._clients: dict[str, _Budget] = {}
        self._all = _Budget()
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """Seconds this client must wait before it may try again (0 when it may try now)."""
        now = self.clock()
        with self._lock:
            mine = self._clients.get(client)
            return max(0.0, self._all.locked_until - now, (mine.locked_until - now) if mine else 0.0)

    def failed(self, client: str) -> float:
        """Record a failure; returns the delay to hold this answer back by (it grows with each failure)."""
        now = self.clock()
        with self._lock:
            mine = self._clients.setdefault(client, _Budget())
            recent = self._count(mine, now, self.per_client)
            self._count(self._all, now, self.overall)
        return min(self.max_delay_s, 0.25 * 2 ** (recent - 1))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def _count(self, budget: _Budget, now: float, allowed: int) -> int:
        """Add a failure; lock out once `allowed` fall in the window. Returns the failures in the window."""
        budget.failures.append(now)
        while budget.failures and now - budget.failures[0] > self.window_s:
            budget.failures.popleft()
        recent = len(budget.failures)
        if recent >= allowed:
            budget.lockouts += 1
            budget.locked_until = now + min(self.max_lock_s, self.lock_s * 2 ** (budget.lockouts - 1))
            budget.failures.clear()  # the next lock-out needs a fresh run of failures, and lasts twice as long
        return recent


def wait_text(seconds: float) -> str:
    """'42 seconds' or '3 minutes', rounded up, for the lock-out message."""
    seconds = max(1, int(seconds + 0.999))
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"
