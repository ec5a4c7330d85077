"""A token bucket: `rate` requests per minute on average, bursts up to `rate`."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `per_minute` requests a minute; `take()` says whether one more may go now, `retry_after()` when."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0  # tokens per second
        self._tokens = self._capacity
        self._clock = clock
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now

    def take(self) -> bool:
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def retry_after(self) -> float:
        """Seconds until one request is allowed again."""
        self._refill()
        return max(0.0, (1 - self._tokens) / self._rate)
