"""Pacing writes to Graph's write budget (3,000 writes per 150 s per app and tenant): a token bucket
shared by every sender of a run."""

from __future__ import annotations

import asyncio
import time


class Budget:
    """A token bucket of writes: ``writes`` per ``window`` seconds, as Graph's write quota.

    ``None`` writes means no pacing (a local tenant without simulated throttling). A 429 pauses
    every sender until its ``Retry-After`` and empties the bucket: another client may be using
    the same budget.
    """

    def __init__(self, writes: int | None, window: float, *, margin: float = 0.98, spent: int = 0):
        self.unlimited = writes is None
        self.capacity = (writes or 1) * margin
        self.rate = self.capacity / window
        self._tokens = max(0.0, self.capacity - spent)  # writes an earlier run made inside this window
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        if self.unlimited:
            await self._wait_pause()
            return
        async with self._lock:
            while True:
                await self._wait_pause()
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= n:
                    self._tokens -= n
                    return
                await asyncio.sleep((n - self._tokens) / self.rate)

    async def _wait_pause(self) -> None:
        while (delay := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)

    def throttled(self, retry_after: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
        self._tokens = 0.0
