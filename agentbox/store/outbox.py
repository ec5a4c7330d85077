"""The outbox: replies the platform did not take at once, kept until they are delivered or too old.

Row life: pending → sending (claimed for one attempt) → delivered, or back to pending (retry
later), or failed (the platform rejected the message itself), or expired (older than the
max age). A row a crash left `sending` is put back to `pending` on the next start: the platform
may have taken it just before the crash, the one window in which a reply can go out twice.
Attachments are stored as references (a local path, a media hash or a URL), never as bytes
in the row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from agentbox.messages import Address, Mention, Outbound
from agentbox.store.attachments import attachment_from_ref, attachment_ref
from agentbox.store.db import now, run
from agentbox.store.jobs import address_from_json, address_to_json
from agentbox.store.sessions import MediaRepo

WAITING = ("pending", "sending")
FINAL = ("delivered", "failed", "expired")


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One reply waiting for its platform, and the inbox rows to settle once it is delivered."""

    id: int
    address: Address
    outbound: Outbound
    inbox_ids: list[int]
    settle: str  # the inbox rows' status once delivered: done | ignored
    note: str | None
    session_key: str | None
    message_id: str | None
    status: str
    attempts: int
    next_try_at: float
    created_at: float
    error: str | None


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits in the outbox: how many replies, since when, per channel."""

    count: int = 0
    oldest_at: float | None = None
    by_channel: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What to queue: the reply, where it goes, and what it answers."""

    address: Address
    outbound: Outbound
    inbox_ids: tuple[int, ...] = ()
    settle: str = "done"
    note: str | None = None
    session_key: str | None = None
    message_id: str | None = None


class OutboxRepo:
    """The `outbox` table: replies waiting for their platform, claimed one attempt at a time, until
    delivered, rejected (failed) or expired. Attachments are kept as references, never as bytes.
    """

    def __init__(self, conn: aiosqlite.Connection, media: MediaRepo) -> None:
        self._conn = conn
        self._media = media

    async def add(self, entry: NewEntry, *, error: str | None = None, next_try_at: float | None = None) -> int:
        refs = [
            await attachment_ref(self._media, item, keep_bytes_with_path=False) for item in entry.outbound.attachments
        ]
        ts = now()
        cursor = await run(
            self._conn,
            "INSERT INTO outbox(channel, chat_id, address, text, attachments, inbox_ids, settle, note, session_key,"
            " message_id, next_try_at, created_at, error, mention) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                entry.address.channel,
                entry.address.chat_id,
                address_to_json(entry.address),
                entry.outbound.text,
                json.dumps(refs, ensure_ascii=False),
                json.dumps(list(entry.inbox_ids)),
                entry.settle,
                entry.note,
                entry.session_key,
                entry.message_id,
                ts if next_try_at is None else next_try_at,
                ts,
                error,
                _mention_json(entry.outbound.mention),
            ),
        )
        return int(cursor.lastrowid or 0)

    async def has_waiting(self, channel: str, chat_id: str) -> bool:
        """Does this chat have replies queued? A new reply must then queue behind them."""
        async with self._conn.execute(
            "SELECT 1 FROM outbox WHERE status IN (?, ?) AND channel = ? AND chat_id = ? LIMIT 1",
            (*WAITING, channel, chat_id),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def waiting(self) -> list[OutboxEntry]:
        """Every reply not yet delivered or given up, oldest first."""
        async with self._conn.execute("SELECT * FROM outbox WHERE status IN (?, ?) ORDER BY id", WAITING) as cursor:
            rows = await cursor.fetchall()
        return [await self._entry(row) for row in rows]

    async def get(self, entry_id: int) -> OutboxEntry | None:
        async with self._conn.execute("SELECT * FROM outbox WHERE id = ?", (entry_id,)) as cursor:
            row = await cursor.fetchone()
        return await self._entry(row) if row else None

    async def has_message(self, message_id: str) -> bool:
        """Was a reply for `message_id` queued (whatever became of it)? Lets a crashed sender not queue it twice."""
        async with self._conn.execute("SELECT 1 FROM outbox WHERE message_id = ? LIMIT 1", (message_id,)) as cursor:
            return await cursor.fetchone() is not None

    async def claim(self, entry_id: int) -> bool:
        """Take a pending reply for one attempt; False when it is no longer pending."""
        cursor = await run(
            self._conn,
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
            (entry_id,),
        )
        return cursor.rowcount == 1

    async def mark_delivered(self, entry_id: int) -> None:
        await run(self._conn, "UPDATE outbox SET status = 'delivered', done_at = ? WHERE id = ?", (now(), entry_id))

    async def retry_later(self, entry_id: int, error: str, next_try_at: float) -> None:
        await run(
            self._conn,
            "UPDATE outbox SET status = 'pending', error = ?, next_try_at = ? WHERE id = ?",
            (error, next_try_at, entry_id),
        )

    async def postpone_channel(self, channel: str, next_try_at: float) -> None:
        """The platform is down: every reply waiting for it is next tried at `next_try_at`."""
        await run(
            self._conn,
            "UPDATE outbox SET next_try_at = ? WHERE status = 'pending' AND channel = ?",
            (next_try_at, channel),
        )

    async def give_up(self, entry_id: int, status: str, error: str) -> None:
        if status not in ("failed", "expired"):
            raise ValueError(f"unknown final outbox status {status!r}")
        await run(
            self._conn,
            "UPDATE outbox SET status = ?, error = ?, done_at = ? WHERE id = ?",
            (status, error, now(), entry_id),
        )

    async def release_claims(self) -> int:
        """After a crash: replies caught mid-attempt go back to pending (they may have gone out)."""
        cursor = await run(self._conn, "UPDATE outbox SET status = 'pending' WHERE status = 'sending'")
        return cursor.rowcount

    async def unsettled(self) -> list[tuple[int, OutboxEntry]]:
        """(inbox row, final entry) pairs a crash left between marking the entry and settling its rows."""
        async with self._conn.execute(
            "SELECT inbox.id AS inbox_id, outbox.* FROM inbox JOIN outbox ON outbox.id = inbox.outbox_id"
            " WHERE inbox.status = 'outbox' AND outbox.status IN (?, ?, ?)",
            FINAL,
        ) as cursor:
            rows = await cursor.fetchall()
        return [(int(row["inbox_id"]), await self._entry(row)) for row in rows]

    async def backlog(self) -> Backlog:
        async with self._conn.execute(
            "SELECT channel, COUNT(*), MIN(created_at) FROM outbox WHERE status IN (?, ?) GROUP BY channel", WAITING
        ) as cursor:
            rows = await cursor.fetchall()
        if not rows:
            return Backlog(0, None, {})
        return Backlog(
            sum(int(r[1]) for r in rows), min(float(r[2]) for r in rows), {str(r[0]): int(r[1]) for r in rows}
        )

    async def _entry(self, row: aiosqlite.Row) -> OutboxEntry:
        refs: list[dict[str, Any]] = json.loads(row["attachments"] or "[]")
        attachments = tuple([await attachment_from_ref(self._media, ref) for ref in refs])
        address = address_from_json(row["address"])
        assert address is not None  # written by add(), always an address
        return OutboxEntry(
            id=row["id"],
            address=address,
            outbound=Outbound(row["text"], attachments, _mention(row["mention"])),
            inbox_ids=[int(i) for i in json.loads(row["inbox_ids"] or "[]")],
            settle=row["settle"],
            note=row["note"],
            session_key=row["session_key"],
            message_id=row["message_id"],
            status=row["status"],
            attempts=row["attempts"],
            next_try_at=row["next_try_at"],
            created_at=row["created_at"],
            error=row["error"],
        )


def _mention_json(mention: Mention | None) -> str | None:
    return None if mention is None else json.dumps({"user_id": mention.user_id, "name": mention.name})


def _mention(text: str | None) -> Mention | None:
    data = json.loads(text) if text else None
    return Mention(str(data["user_id"]), str(data.get("name") or "")) if isinstance(data, dict) else None
