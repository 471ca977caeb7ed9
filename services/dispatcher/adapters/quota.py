"""Each mailbox's Gmail quota, spent before each call so that we run at the quota, not over it.

Gmail counts quota units per user over a rolling minute (messages.send costs 100, messages.list
5; 15,000 a minute by default). The budget keeps what each sender spent in the last 60 seconds
and waits until a call fits. It is per process: with several dispatcher processes give each its
share (GMAIL_QUOTA_UNITS_PER_MINUTE), and a 429 still slows the mailbox down for all of them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

# Gmail counts a call when it arrives, a little after we spend it: keeping each spend a second
# longer than the minute keeps us under the quota at the window's edge too.
WINDOW_SECONDS = 61.0


class SenderQuota:
    def __init__(self, units_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = units_per_minute
        self._clock = clock
        self._spent: dict[str, deque[tuple[float, int]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _used(self, sender: str, now: float) -> int:
        log = self._spent.setdefault(sender, deque())
        while log and log[0][0] <= now - WINDOW_SECONDS:
            log.popleft()
        return sum(units for _, units in log)

    async def spend(self, sender: str, units: int) -> None:
        """Wait until `units` fit in the sender's rolling minute, then record them."""
        if units > self._limit:
            raise ValueError(f"a call of {units} units can never fit a {self._limit} budget")
        lock = self._locks.setdefault(sender, asyncio.Lock())
        async with lock:  # first come, first served per mailbox
            while True:
                now = self._clock()
                if self._used(sender, now) + units <= self._limit:
                    self._spent[sender].append((now, units))
                    return
                oldest = self._spent[sender][0][0]
                await asyncio.sleep(max(oldest + WINDOW_SECONDS - now, 0.01))


class NoQuota:
    """For senders without a provider quota (the local .eml outbox)."""

    async def spend(self, sender: str, units: int) -> None:
        return None
