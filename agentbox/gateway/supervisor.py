"""Keeps one connector running: start, watch, restart with backoff; never lets it take the gateway down.

A fatal `ConnectorError` (bad or missing token) is reported once and not retried: retrying
cannot fix a token, and a tight loop would only hammer the platform. Anything else is
retried with exponential backoff (with jitter) and shows as "degraded: …" in /status.
While a connector runs, the supervisor waits on its status (`ConnectorStatus.wait_for`) and
restarts it the moment it reports itself FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from agentbox.messages import Connector, ConnectorError, ConnectorState, ConnectorStatus, Deliver
from agentbox.retry import Backoff

log = logging.getLogger(__name__)

ConnectorFactory = Callable[[], Connector]
OnReady = Callable[["ConnectorSlot"], Awaitable[None]]


class ConnectorSlot:
    """One configured channel: its current connector object and the state /status shows."""

    initial_backoff = 1.0
    max_backoff = 60.0
    start_timeout = 120.0

    def __init__(self, name: str, factory: ConnectorFactory) -> None:
        self.name = name
        self._factory = factory
        self.connector: Connector | None = None
        self.ready = asyncio.Event()  # set while the connector is started (cleared during restarts)
        self.restarts = 0
        self._own = ConnectorStatus(ConnectorState.STARTING)  # the supervisor's view, when it knows better
        self._deferring = False  # while the connector runs, its own status is the slot's
        self._stopping = False
        self._stopped = asyncio.Event()

    @property
    def status(self) -> ConnectorStatus:
        if self._deferring and self.connector is not None:
            return self.connector.status
        return self._own

    @property
    def state(self) -> str:
        """What /status shows: "starting", "ready", "degraded: …", "failed: …" or "stopped"."""
        return str(self.status)

    async def run(self, deliver: Deliver, on_ready: OnReady) -> None:
        """Supervise until `stop()`; returns early only when the connector cannot work (fatal)."""
        backoff = Backoff(self.initial_backoff, self.max_backoff)
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
                    self._show(ConnectorState.FAILED, str(exc))
                    log.error("connector %s failed and will not be retried: %s", self.name, exc)
                    return
                reason, delay = str(exc) or type(exc).__name__, backoff.next()
                self._show(ConnectorState.DEGRADED, f"{reason} (retrying in {delay:.0f}s)")
                log.warning("connector %s could not start: %s; retrying in %.0fs", self.name, reason, delay)
                await self._sleep(delay)
                continue
            connector = self.connector
            self._deferring = True
            self.ready.set()
            if connector.status.state is ConnectorState.READY:
                log.info("connector %s ready", self.name)
            else:  # e.g. Telegram unreachable at start: the connector keeps retrying on its own
                log.warning("connector %s started but %s", self.name, connector.status)
            try:
                await on_ready(self)
            except Exception:
                log.exception("connector %s: on-ready hook failed", self.name)
            failure = await self._watch(connector)
            if failure is not None and not self._stopping:
                self.restarts += 1
                delay = backoff.next()
                log.warning("connector %s failed: %s; restarting in %.0fs", self.name, failure, delay)
                self.ready.clear()
                self._show(ConnectorState.DEGRADED, f"{failure} (restarting)")
                await self._discard()
                await self._sleep(delay)
            else:
                backoff.reset()

    async def _watch(self, connector: Connector) -> str | None:
        """Wait while the connector runs; its failure reason once it reports FAILED, None on stop."""
        failed = asyncio.ensure_future(connector.status.wait_for(ConnectorState.FAILED))
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({failed, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (failed, stopped):
                waiter.cancel()
            await asyncio.gather(failed, stopped, return_exceptions=True)
        return None if self._stopping else connector.status.reason

    def _show(self, state: ConnectorState, reason: str = "") -> None:
        self._deferring = False
        self._own.set(state, reason)

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
        keep_failure = not self._deferring and self._own.state is ConnectorState.FAILED
        await self._discard()
        if not keep_failure:
            self._show(ConnectorState.STOPPED)


def _is_config_error(exc: BaseException) -> bool:
    from agentbox.config import ConfigError

    return isinstance(exc, ConfigError)
