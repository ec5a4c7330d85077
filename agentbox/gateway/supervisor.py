"""Keeps one connector running: start, watch, restart with backoff; never lets it take the gateway down.

A fatal `ConnectorError` (bad or missing token) is reported once and not retried: retrying
cannot fix a token, and a tight loop would only hammer the platform. Anything else is
retried with exponential backoff (with jitter) and shows as "degraded: …" in /status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from agentbox.messages import Connector, ConnectorError, Deliver

log = logging.getLogger(__name__)

ConnectorFactory = Callable[[], Connector]
OnReady = Callable[["ConnectorSlot"], Awaitable[None]]


class ConnectorSlot:
    """One configured channel: its current connector object and the state /status shows."""

    initial_backoff = 1.0
    max_backoff = 60.0
    start_timeout = 120.0
    watch_interval = 1.0

    def __init__(self, name: str, factory: ConnectorFactory) -> None:
        self.name = name
        self._factory = factory
        self.connector: Connector | None = None
        self.ready = asyncio.Event()  # set while the connector is started (cleared during restarts)
        self.restarts = 0
        self._override: str | None = "starting"  # the supervisor's own view, when it knows better
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def state(self) -> str:
        if self._override is not None:
            return self._override
        return str(getattr(self.connector, "state", "ready"))

    async def run(self, deliver: Deliver, on_ready: OnReady) -> None:
        """Supervise until `stop()`; returns early only when the connector cannot work (fatal)."""
        delay = self.initial_backoff
        while not self._stopping:
            try:
                if self.connector is None:
                    self.connector = self._factory()
                await asyncio.wait_for(self.connector.start(deliver), self.start_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                fatal = (isinstance(exc, ConnectorError) and exc.fatal) or _is_config_error(exc)
                await self._discard()
                if fatal:
                    self._override = f"failed: {exc}"
                    log.error("connector %s failed and will not be retried: %s", self.name, exc)
                    return
                reason = str(exc) or type(exc).__name__
                self._override = f"degraded: {reason} (retrying in {delay:.0f}s)"
                log.warning("connector %s could not start: %s; retrying in %.0fs", self.name, reason, delay)
                await self._sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.max_backoff)
                continue
            self._override = None
            self.ready.set()
            if self.state == "ready":
                log.info("connector %s ready", self.name)
            else:  # e.g. Telegram unreachable at start: the connector keeps retrying on its own
                log.warning("connector %s started but %s", self.name, self.state)
            try:
                await on_ready(self)
            except Exception:
                log.exception("connector %s: on-ready hook failed", self.name)
            failed = await self._watch()
            if failed and not self._stopping:
                self.restarts += 1
                log.warning("connector %s %s; restarting in %.0fs", self.name, failed, delay)
                self.ready.clear()
                await self._discard()
                self._override = f"degraded: {failed.removeprefix('failed: ')} (restarting)"
                await self._sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            else:
                delay = self.initial_backoff

    async def _watch(self) -> str | None:
        """Wait while the connector runs; return its state once it reports itself failed."""
        while not self._stopping:
            state = self.state
            if state.startswith("failed"):
                return state
            await self._sleep(self.watch_interval)
        return None

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    async def _discard(self) -> None:
        connector, self.connector = self.connector, None
        if connector is not None:
            with contextlib.suppress(Exception):
                await connector.stop()

    async def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self.ready.clear()
        await self._discard()
        if not self._override or not self._override.startswith("failed"):
            self._override = "stopped"


def _is_config_error(exc: BaseException) -> bool:
    from agentbox.config import ConfigError

    return isinstance(exc, ConfigError)
