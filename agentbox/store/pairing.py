"""Pairing requests, refused-request counters and approved senders (tables of migrations 1–3).

Plain storage only: code generation, expiry policy and limits live in `agentbox.gateway.access`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import aiosqlite

from agentbox.store.db import insert_capped, now, run


@dataclass(frozen=True, slots=True)
class PairingRequest:
    """An unknown sender's pending code (one row per channel and sender); kept past `expires_at` as its cooldown."""

    channel: str
    sender_id: str
    sender_name: str
    chat_id: str
    code: str
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class AllowedSender:
    """A sender the owner approved; `notified` once they were told, at `chat_id`."""

    channel: str
    sender_id: str
    sender_name: str
    chat_id: str
    approved_at: float
    notified: bool


def _request(row: aiosqlite.Row) -> PairingRequest:
    return PairingRequest(
        row["channel"],
        row["sender_id"],
        row["sender_name"],
        row["chat_id"],
        row["code"],
        row["created_at"],
        row["expires_at"],
    )


def _allowed(row: aiosqlite.Row) -> AllowedSender:
    return AllowedSender(
        row["channel"], row["sender_id"], row["sender_name"], row["chat_id"], row["approved_at"], bool(row["notified"])
    )


class PairingRepo:
    """The pairing tables: pending requests, refusal counters and approved senders (no policy here)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    # -- pending requests --------------------------------------------------------
    async def delete_expired(self, at: float | None = None, *, keep_for: float = 0.0) -> int:
        """Forget requests that expired more than `keep_for` seconds before `at` (the cooldown)."""
        cursor = await run(
            self._conn, "DELETE FROM pairing_requests WHERE expires_at <= ?", ((at or now()) - keep_for,)
        )
        return cursor.rowcount

    async def pending(self, channel: str | None = None, *, at: float | None = None) -> list[PairingRequest]:
        """Unexpired requests, oldest first."""
        sql = "SELECT * FROM pairing_requests WHERE expires_at > ?"
        args: list[object] = [at or now()]
        if channel:
            sql += " AND channel = ?"
            args.append(channel)
        async with self._conn.execute(sql + " ORDER BY created_at", args) as cursor:
            return [_request(row) for row in await cursor.fetchall()]

    async def pending_for(self, channel: str, sender_id: str) -> PairingRequest | None:
        """The sender's request, expired (cooling down) or not."""
        async with self._conn.execute(
            "SELECT * FROM pairing_requests WHERE channel = ? AND sender_id = ?", (channel, sender_id)
        ) as cursor:
            row = await cursor.fetchone()
        return _request(row) if row else None

    async def by_code(self, channel: str, code: str) -> PairingRequest | None:
        """The request with this code, expired or not (callers tell the two apart)."""
        async with self._conn.execute(
            "SELECT * FROM pairing_requests WHERE channel = ? AND code = ?", (channel, code)
        ) as cursor:
            row = await cursor.fetchone()
        return _request(row) if row else None

    async def add_request(self, request: PairingRequest, *, max_pending: int) -> bool:
        """Insert unless the sender has a row or `max_pending` unexpired requests exist on the channel."""
        return await insert_capped(
            self._conn, "pairing_requests", asdict(request), key="channel, sender_id", cap=max_pending
        )

    async def expire_request(self, channel: str, sender_id: str, at: float) -> bool:
        """End a pending code now; the row stays as the sender's cooldown (a denial)."""
        cursor = await run(
            self._conn,
            "UPDATE pairing_requests SET expires_at = ? WHERE channel = ? AND sender_id = ? AND expires_at > ?",
            (at, channel, sender_id, at),
        )
        return cursor.rowcount > 0

    async def delete_request(self, channel: str, sender_id: str) -> None:
        await run(self._conn, "DELETE FROM pairing_requests WHERE channel = ? AND sender_id = ?", (channel, sender_id))

    # -- refused requests --------------------------------------------------------
    async def count_refusal(self, channel: str, reason: str) -> None:
        """Only a counter: storing every stranger who writes would let anyone fill the database."""
        await run(
            self._conn,
            "INSERT INTO pairing_refusals(channel, reason, count, last_at) VALUES (?, ?, 1, ?)"
            " ON CONFLICT(channel, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
            (channel, reason, now()),
        )

    async def refusals(self, channel: str | None = None) -> dict[str, dict[str, int]]:
        """Refused requests so far: {channel: {reason: count}}."""
        sql, args = "SELECT channel, reason, count FROM pairing_refusals", tuple[str, ...]()
        if channel:
            sql, args = sql + " WHERE channel = ?", (channel,)
        counts: dict[str, dict[str, int]] = {}
        async with self._conn.execute(sql + " ORDER BY channel, reason", args) as cursor:
            for row in await cursor.fetchall():
                counts.setdefault(row["channel"], {})[row["reason"]] = int(row["count"])
        return counts

    # -- approved senders --------------------------------------------------------
    async def allow(self, channel: str, sender_id: str, *, sender_name: str = "", chat_id: str = "") -> None:
        await run(
            self._conn,
            "INSERT INTO allowed_senders(channel, sender_id, sender_name, chat_id, approved_at, notified)"
            " VALUES (?,?,?,?,?,0) ON CONFLICT(channel, sender_id) DO UPDATE SET"
            " sender_name = excluded.sender_name, chat_id = excluded.chat_id",
            (channel, sender_id, sender_name, chat_id, now()),
        )

    async def revoke(self, channel: str, sender_id: str) -> bool:
        cursor = await run(
            self._conn, "DELETE FROM allowed_senders WHERE channel = ? AND sender_id = ?", (channel, sender_id)
        )
        return cursor.rowcount > 0

    async def is_allowed(self, channel: str, sender_id: str) -> bool:
        return await self.approval(channel, sender_id) is not None

    async def approval(self, channel: str, sender_id: str) -> AllowedSender | None:
        async with self._conn.execute(
            "SELECT * FROM allowed_senders WHERE channel = ? AND sender_id = ?", (channel, sender_id)
        ) as cursor:
            row = await cursor.fetchone()
        return _allowed(row) if row else None

    async def allowed(self, channel: str | None = None) -> list[AllowedSender]:
        sql, args = "SELECT * FROM allowed_senders", tuple[str, ...]()
        if channel:
            sql, args = sql + " WHERE channel = ?", (channel,)
        async with self._conn.execute(sql + " ORDER BY approved_at", args) as cursor:
            return [_allowed(row) for row in await cursor.fetchall()]

    async def unnotified(self, channel: str | None = None) -> list[AllowedSender]:
        sql, args = "SELECT * FROM allowed_senders WHERE notified = 0 AND chat_id != ''", tuple[str, ...]()
        if channel:
            sql, args = sql + " AND channel = ?", (channel,)
        async with self._conn.execute(sql + " ORDER BY approved_at", args) as cursor:
            return [_allowed(row) for row in await cursor.fetchall()]

    async def claim_notice(self, channel: str, sender_id: str) -> bool:
        """Mark the "you're approved" notice as sent; True only for the one caller that flipped it."""
        cursor = await run(
            self._conn,
            "UPDATE allowed_senders SET notified = 1 WHERE channel = ? AND sender_id = ? AND notified = 0",
            (channel, sender_id),
        )
        return cursor.rowcount > 0
