"""Bounded retries with exponential backoff and jitter, as an HTTP transport wrapper.

Retries 429 (honouring `Retry-After`), 500/502/503/504, connection errors and timeouts.
Never retries 4xx answers such as 400/401/403/404: retrying would not change them.
Bounded twice: by `attempts` and by `max_total_seconds` for the whole request.
Works for `httpx` (our own client) and `httpx2` (the openai SDK's), which share an API.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from agentbox.config import RetryConfig

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry one request: at most `attempts` tries within `max_total_seconds`,
    waiting `backoff(n)` between them.
    """

    attempts: int = 4
    max_total_seconds: float = 60.0
    initial_delay: float = 1.0
    max_delay: float = 20.0

    @classmethod
    def from_config(cls, config: RetryConfig) -> RetryPolicy:
        return cls(config.attempts, config.max_total_seconds, config.initial_delay, config.max_delay)

    def backoff(self, retry_number: int) -> float:
        """Exponential backoff with 'equal jitter': half fixed, half random, so retries spread out."""
        ceiling = min(self.max_delay, self.initial_delay * (2**retry_number))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class Backoff:
    """Stateful exponential backoff with equal jitter, for reconnect loops: `next()`, `reset()`."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._policy = RetryPolicy(initial_delay=initial, max_delay=maximum)
        self.attempt = 0

    def next(self) -> float:
        delay = self._policy.backoff(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _RetryingTransport:
    """Shared logic; concrete classes below bind it to httpx or httpx2 base transports."""

    _errors: tuple[type[BaseException], ...] = ()

    def __init__(self, inner: Any, policy: RetryPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: Any) -> Any:
        policy = self._policy
        deadline = time.monotonic() + policy.max_total_seconds
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            _cap_timeouts(request, remaining)
            try:
                response = await self._inner.handle_async_request(request)
            except self._errors as exc:
                delay = policy.backoff(attempt - 1)
                if attempt >= policy.attempts or time.monotonic() + delay >= deadline:
                    raise
                log.warning(
                    "model API %s %s failed (%s); retry %d in %.1fs",
                    request.method,
                    request.url.path,
                    type(exc).__name__,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            if response.status_code not in RETRY_STATUSES:
                return response
            hinted = parse_retry_after(response.headers.get("retry-after"))
            delay = hinted if hinted is not None else policy.backoff(attempt - 1)
            if attempt >= policy.attempts or time.monotonic() + delay >= deadline:
                return response
            await response.aclose()
            log.warning(
                "model API %s %s answered %d; retry %d in %.1fs",
                request.method,
                request.url.path,
                response.status_code,
                attempt,
                delay,
            )
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _cap_timeouts(request: Any, remaining: float) -> None:
    """Never let one attempt outlive the whole request's time budget."""
    timeouts = request.extensions.get("timeout")
    if not isinstance(timeouts, dict):
        return
    remaining = max(remaining, 0.1)
    request.extensions["timeout"] = {
        key: (remaining if value is None else min(value, remaining)) for key, value in timeouts.items()
    }


class HttpxRetryTransport(_RetryingTransport, httpx.AsyncBaseTransport):
    """An `httpx` transport that retries what `RETRY_STATUSES` and transport errors allow, within its `RetryPolicy`."""

    _errors = (httpx.TransportError,)


def httpx2_retry_transport(inner: Any, policy: RetryPolicy) -> Any:
    """A retrying transport for the openai SDK's HTTP library (imported lazily: it is heavy-ish)."""
    import httpx2

    class Httpx2RetryTransport(_RetryingTransport, httpx2.AsyncBaseTransport):
        _errors = (httpx2.TransportError,)

    return Httpx2RetryTransport(inner, policy)
