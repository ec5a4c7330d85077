"""Spending caps: a `TurnRunner` guard that refuses turns once today's recorded spend reaches a cap.

Caps (`[limits]`): `usd_per_day` for all senders together and `usd_per_sender_per_day` for each
sender (channel + sender id), per UTC day, counted from the `usd` every turn recorded (see
`agentbox.turn.pricing`). A refused turn makes no model call and is recorded as `capped`.
A turn that starts under the cap may finish over it; the next one is refused.
`tokens_per_turn` is enforced inside the run by pydantic-ai's `UsageLimits`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agentbox.config import LimitsConfig
from agentbox.turn.usage import next_reset, spent_since, top_senders, utc_day_start

if TYPE_CHECKING:
    from agentbox.store import Store
    from agentbox.turn.runner import TurnRequest

log = logging.getLogger(__name__)

TOTAL_REFUSAL = "I've reached today's spending limit set by the owner; I'll be back after 00:00 UTC."
SENDER_REFUSAL = "You've reached your daily spending limit set by the owner; I'll answer you again after 00:00 UTC."

Clock = Callable[[], float]


@dataclass(slots=True)
class CapsStatus:
    """Today's spend against the caps, for `agentbox usage` and the gateway's /status."""

    day: str
    spent_usd: float
    usd_per_day: float | None
    usd_per_sender_per_day: float | None
    tokens_per_turn: int | None
    total_reached: bool
    resets_at: str
    senders: list[dict[str, Any]] = field(default_factory=list)  # top spenders today, with `capped`

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class SpendingCaps:
    """`await caps(request)` → refusal sentence or None. Cheap: one indexed query per cap."""

    def __init__(self, limits: LimitsConfig, store: Store, *, clock: Clock = time.time) -> None:
        self.limits = limits
        self.store = store
        self.clock = clock

    async def __call__(self, request: TurnRequest) -> str | None:
        if self.limits.usd_per_day is None and self.limits.usd_per_sender_per_day is None:
            return None
        since = utc_day_start(self.clock())
        conn = self.store.conn
        if self.limits.usd_per_day is not None:
            spent = await spent_since(conn, since)
            if spent >= self.limits.usd_per_day:
                log.warning(
                    "daily cap reached: $%.4f of $%.2f; refusing turn",
                    spent,
                    self.limits.usd_per_day,
                    extra={"session": request.session_key},
                )
                return TOTAL_REFUSAL
        if self.limits.usd_per_sender_per_day is not None and request.sender_id is not None:
            spent = await spent_since(conn, since, channel=request.channel, sender_id=request.sender_id)
            if spent >= self.limits.usd_per_sender_per_day:
                log.warning(
                    "sender cap reached for %s:%s: $%.4f of $%.2f; refusing turn",
                    request.channel,
                    request.sender_id,
                    spent,
                    self.limits.usd_per_sender_per_day,
                    extra={"session": request.session_key},
                )
                return SENDER_REFUSAL
        return None

    async def status(self) -> CapsStatus:
        return await caps_status(self.limits, self.store, now=self.clock())


async def caps_status(limits: LimitsConfig, store: Store, *, now: float | None = None) -> CapsStatus:
    now = time.time() if now is None else now
    since = utc_day_start(now)
    spent = await spent_since(store.conn, since)
    per_sender = limits.usd_per_sender_per_day
    senders = [
        {"channel": ch, "sender_id": sid, "usd": round(usd, 6), "capped": per_sender is not None and usd >= per_sender}
        for ch, sid, usd in await top_senders(store.conn, since)
    ]
    return CapsStatus(
        day=datetime.fromtimestamp(since, UTC).date().isoformat(),
        spent_usd=round(spent, 6),
        usd_per_day=limits.usd_per_day,
        usd_per_sender_per_day=per_sender,
        tokens_per_turn=limits.tokens_per_turn,
        total_reached=limits.usd_per_day is not None and spent >= limits.usd_per_day,
        resets_at=next_reset(now).isoformat(),
        senders=senders,
    )
