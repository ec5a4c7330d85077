"""Reply delivery: send now, or keep the reply in the outbox and retry until the platform takes it.

`DeliveryService.send` hands a reply to its channel's connector at once, unless that chat
already has replies waiting (a later reply never overtakes an earlier one) or the platform is
known to be down. What the platform does not take (5xx, no connection, connector restarting)
goes to the `outbox` table, and a background task retries it with backoff per channel, the
oldest reply of each chat first, until it is delivered or older than `gateway.outbox_max_age`
(then it is marked expired and logged as an error, never dropped silently). The outbox
survives restarts. A message the platform rejects as such (chat gone, bot blocked, invalid
request) is not retried: it would be rejected again and hold up the chat's later replies.

Exactly once: claim (status `sending`) → send → mark delivered. The one window left is a crash
after the platform accepted a reply and before SQLite recorded it: that reply is sent again
on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Literal

from agentbox.messages import Address, Connector, ConnectorError, Outbound
from agentbox.retry import Backoff
from agentbox.store import Store
from agentbox.store.outbox import NewEntry, OutboxEntry
from agentbox.tasks import TaskSet

log = logging.getLogger(__name__)

Outcome = Literal["sent", "queued", "rejected"]
Attempt = Literal["done", "retry", "skipped"]  # done: delivered or given up
ConnectorNow = Callable[[str], Connector]
"""The channel's running connector; raises ConnectorError when there is none right now."""


class DeliveryService:
    """Sends replies and owns the outbox: started before the connectors, stopped after the last turn."""

    retry_initial = 2.0
    retry_max = 60.0
    stop_timeout = 10.0

    def __init__(
        self,
        store: Store,
        connector_now: ConnectorNow,
        *,
        max_age: float,
        retry_initial: float = retry_initial,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retry_initial = retry_initial
        self._store = store
        self._connector_now = connector_now
        self.max_age = max_age
        self._clock = clock
        self._wake = asyncio.Event()
        self._backoff: dict[str, Backoff] = {}
        self._retry_at: dict[str, float] = {}  # channel → when the platform is tried again
        self._tasks = TaskSet("outbox", log)
        self._stopping = False

    # -- sending -------------------------------------------------------------------------
    async def send(
        self,
        address: Address,
        outbound: Outbound,
        *,
        answers: Sequence[int] = (),
        settle: str = "done",
        note: str | None = None,
        session_key: str | None = None,
        message_id: str | None = None,
    ) -> Outcome:
        """Deliver `outbound`; its inbox rows (`answers`) get `settle` once it is out.

        "queued": the reply waits in the outbox (durably) and goes out when the platform is
        back. "rejected": the platform refused this message; its rows are marked failed.
        Raises only when the store itself fails.
        """
        entry = NewEntry(address, outbound, tuple(answers), settle, note, session_key, message_id)
        channel = address.channel
        if self._retry_at.get(channel, 0.0) > self._clock():
            await self._queue(entry, f"{channel} is unavailable; retrying")
            return "queued"
        if await self._store.outbox.has_waiting(channel, address.chat_id):
            await self._queue(entry, "earlier replies to this chat are still waiting")
            return "queued"
        try:
            await self._connector_now(channel).send(address, outbound)
        except Exception as exc:
            if rejected(exc):
                await self._reject(entry, exc)
                return "rejected"
            self._postpone(channel)
            await self._queue(entry, _reason(exc))
            return "queued"
        await self._settle(list(entry.inbox_ids), settle, note)
        return "sent"

    def channel_ready(self, channel: str) -> None:
        """A connector (re)started: try its waiting replies now instead of after the backoff."""
        self._retry_at.pop(channel, None)
        self._backoff.pop(channel, None)
        self._wake.set()

    async def backlog(self) -> dict[str, object]:
        """For /status: how many replies wait, the oldest one's age, per channel."""
        backlog = await self._store.outbox.backlog()
        oldest = None if backlog.oldest_at is None else round(self._clock() - backlog.oldest_at, 1)
        return {"waiting": backlog.count, "oldest_age_s": oldest, "by_channel": backlog.by_channel or {}}

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Recover what the last run left, then deliver in the background. Call before the connectors start."""
        await self._recover()
        self._stopping = False
        self._tasks.spawn(self._run(), name="outbox delivery")

    async def stop(self) -> None:
        """Let an attempt in flight finish (briefly), then stop; waiting replies stay in the outbox."""
        self._stopping = True
        self._wake.set()
        await self._tasks.aclose(grace=self.stop_timeout)

    async def _recover(self) -> None:
        outbox, inbox = self._store.outbox, self._store.inbox
        if released := await outbox.release_claims():
            log.warning("outbox: %d reply(ies) were being sent when the last run ended; sending again", released)
        for entry in await outbox.waiting():
            # A crash between queueing a reply and marking its rows: hold them, don't answer twice.
            await inbox.await_delivery(entry.inbox_ids, entry.id)
        for row_id, entry in await outbox.unsettled():
            status = entry.settle if entry.status == "delivered" else "failed"
            await self._settle([row_id], status, entry.note if status != "failed" else entry.error)
        backlog = await outbox.backlog()
        if backlog.count:
            log.info("outbox: %d reply(ies) from the last run wait for delivery", backlog.count)

    # -- the background loop -------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                delay = await self._deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # never stop delivering; nothing is in flight between passes
                log.exception("outbox: delivery pass failed; trying again in %.0fs", self.retry_max)
                with contextlib.suppress(Exception):
                    await self._store.outbox.release_claims()
                delay = self.retry_max
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), None if math.isinf(delay) else delay)

    async def _deliver_due(self) -> float:
        """One pass over the waiting replies; returns seconds until something is due (inf: nothing waits)."""
        now = self._clock()
        due_at = math.inf
        heads: dict[tuple[str, str], OutboxEntry] = {}
        for entry in await self._store.outbox.waiting():
            if now - entry.created_at >= self.max_age:
                await self._expire(entry)
                continue
            due_at = min(due_at, entry.created_at + self.max_age)
            heads.setdefault((entry.address.channel, entry.address.chat_id), entry)
        progressed = False
        for entry in heads.values():
            if self._stopping:
                break
            retry_at = self._retry_at.get(entry.address.channel, 0.0)
            if retry_at > now:
                due_at = min(due_at, retry_at)
                continue
            attempt = await self._attempt(entry)
            if attempt == "done":
                progressed = True  # the chat's next reply, if any, can go now
            elif attempt == "retry":
                due_at = min(due_at, self._retry_at[entry.address.channel])
        return 0.0 if progressed else max(0.0, due_at - self._clock())

    async def _attempt(self, entry: OutboxEntry) -> Attempt:
        """Try one waiting reply: delivered or rejected ("done"), or to be tried again ("retry")."""
        outbox, channel = self._store.outbox, entry.address.channel
        if not await outbox.claim(entry.id):
            return "skipped"
        try:
            await self._connector_now(channel).send(entry.address, entry.outbound)
        except Exception as exc:
            if rejected(exc):
                await outbox.give_up(entry.id, "failed", _reason(exc))
                await self._reject(entry, exc)
                return "done"
            first_failure = channel not in self._backoff
            retry_at = self._postpone(channel)
            await outbox.retry_later(entry.id, _reason(exc), retry_at)
            await outbox.postpone_channel(channel, retry_at)
            level = logging.WARNING if first_failure else logging.DEBUG  # one line per outage, not per retry
            log.log(
                level,
                "outbox: %s still failing (%s); next try in %.0fs",
                channel,
                _reason(exc),
                retry_at - self._clock(),
            )
            return "retry"
        await outbox.mark_delivered(entry.id)
        await self._settle(entry.inbox_ids, entry.settle, entry.note)
        self._backoff.pop(channel, None)
        log.info(
            "delivered the waiting reply to %s chat %s after %s (%d attempt(s))",
            channel,
            entry.address.chat_id,
            _age(self._clock() - entry.created_at),
            entry.attempts + 1,
            extra=_context(entry.session_key, entry.message_id),
        )
        return "done"

    # -- helpers -------------------------------------------------------------------------
    def _postpone(self, channel: str) -> float:
        backoff = self._backoff.setdefault(channel, Backoff(self.retry_initial, self.retry_max))
        retry_at = self._clock() + backoff.next()
        self._retry_at[channel] = retry_at
        return retry_at

    async def _queue(self, entry: NewEntry, reason: str) -> None:
        channel = entry.address.channel
        entry_id = await self._store.outbox.add(entry, error=reason, next_try_at=self._retry_at.get(channel))
        if entry.inbox_ids:
            await self._store.inbox.await_delivery(list(entry.inbox_ids), entry_id)
        log.warning(
            "reply to %s chat %s not sent yet (%s): kept in the outbox and retried for up to %s",
            channel,
            entry.address.chat_id,
            reason,
            _age(self.max_age),
            extra=_context(entry.session_key, entry.message_id),
        )
        self._wake.set()

    async def _reject(self, entry: NewEntry | OutboxEntry, exc: BaseException) -> None:
        # The turn stays in the session's history; only this delivery failed.
        log.error(
            "reply to %s chat %s could not be sent: %s",
            entry.address.channel,
            entry.address.chat_id,
            _reason(exc),
            extra=_context(entry.session_key, entry.message_id),
        )
        await self._settle(list(entry.inbox_ids), "failed", f"send failed: {_reason(exc)}")

    async def _expire(self, entry: OutboxEntry) -> None:
        reason = f"not delivered within {_age(self.max_age)} (last error: {entry.error or 'none'})"
        await self._store.outbox.give_up(entry.id, "expired", reason)
        await self._settle(entry.inbox_ids, "failed", f"undelivered: {reason}")
        log.error(
            "gave up on the reply to %s chat %s: %s; it is kept in the session's history",
            entry.address.channel,
            entry.address.chat_id,
            reason,
            extra=_context(entry.session_key, entry.message_id),
        )

    async def _settle(self, row_ids: list[int], status: str, note: str | None) -> None:
        if not row_ids:
            return
        if status == "done":
            await self._store.inbox.mark_replied(row_ids)
        else:
            await self._store.inbox.finish(row_ids, status, note)


def rejected(exc: BaseException) -> bool:
    """The platform refused this message itself, or it cannot be sent at all: retrying will not help.

    Only a `ConnectorError` not marked `rejected` (platform down, 5xx, no connection, connector
    not running) is worth retrying; anything else (an unreadable attachment, a bug) is final.
    """
    return not isinstance(exc, ConnectorError) or exc.rejected


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _context(session_key: str | None, message_id: str | None) -> dict[str, str | None]:
    return {"session": session_key, "message_id": message_id}


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
