"""Per-session lanes: turns of one session run strictly in arrival order, sessions run concurrently.

One `asyncio.Lock` per busy session on the shared event loop; asyncio locks are FIFO,
so waiters are served in the order they arrived. Idle lanes are dropped so a gateway
that has seen thousands of chats holds nothing for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Lanes:
    """One FIFO lock per busy session: `async with lanes.hold(key)` runs a session's turns one at a time, in
    arrival order, while other sessions run concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:
                del self._waiting[key]
                self._locks.pop(key, None)

    def busy(self, key: str) -> bool:
        lock = self._locks.get(key)
        return bool(lock and lock.locked())

    def queued(self, key: str) -> int:
        """Turns waiting behind the running one."""
        return max(0, self._waiting.get(key, 0) - (1 if self.busy(key) else 0))

    @property
    def busy_count(self) -> int:
        return sum(1 for lock in self._locks.values() if lock.locked())
