"""The gateway's inbox: every inbound message is written here before it is processed.

Unique on (channel, chat, platform message id), so a redelivered update is stored, and
therefore processed, once. Inbound media is stored as the platform's reference (file id, size),
fetched after the access check, so a replayed row fetches it again; bytes a connector did hand
over go to the `media` table and the payload keeps their hash.
Row life: pending → done | ignored | failed, or pending → outbox → done | ignored | failed when
the platform did not take the reply at once (it waits in the `outbox` table, see
`agentbox.store.outbox`). `turn_id` is set as soon as a turn has answered a row (before the
reply is sent), so a restart re-sends that stored reply instead of asking the model again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

import aiosqlite

from agentbox.messages import Attachment, Inbound
from agentbox.store.attachments import attachment_from_ref, attachment_ref
from agentbox.store.db import now, run, run_many
from agentbox.store.sessions import MediaRepo

STATUSES = ("pending", "done", "ignored", "failed", "outbox")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _clean(text: str | None) -> str | None:
    return _LONE_SURROGATE.sub("\ufffd", text) if text else text


def sanitize_inbound(inbound: Inbound) -> Inbound:
    """Replace lone surrogates (platform JSON may carry "\\udcff") with U+FFFD.

    SQLite, the model API and the platform's send API all reject them; one such message must not
    wedge a poller that keeps redelivering it.
    """
    attachments = tuple(
        replace(item, filename=_clean(item.filename), caption=_clean(item.caption), ref=_clean(item.ref))
        for item in inbound.attachments
    )
    return replace(
        inbound,
        text=_clean(inbound.text) or "",
        sender_name=_clean(inbound.sender_name) or "",
        sender_id=_clean(inbound.sender_id) or "",
        chat_id=_clean(inbound.chat_id) or "",
        message_id=_clean(inbound.message_id) or "",
        thread_id=_clean(inbound.thread_id),
        reply_to_text=_clean(inbound.reply_to_text),
        group_id=_clean(inbound.group_id),
        group_name=_clean(inbound.group_name) or "",
        attachments=attachments,
    )


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One stored inbound message and where its handling stands (status, answering turn, attempts so far)."""

    id: int
    inbound: Inbound
    status: str
    turn_id: int | None
    replied_at: float | None
    attempts: int
    received_at: float


@dataclass(frozen=True, slots=True)
class StoredReply:
    """The answer a stored turn gave, re-sent after a crash between the turn and its reply."""

    reply: str
    status: str
    attachments: list[str]  # what `Attachment.describe()` gave: local paths for produced media


class InboxRepo:
    """The `inbox` table: every inbound message, stored once per (channel, chat, message id) before it is
    handled, and its status: pending, then done, ignored or failed (`outbox` while its reply waits).
    """

    def __init__(self, conn: aiosqlite.Connection, media: MediaRepo) -> None:
        self._conn = conn
        self._media = media

    async def add(self, inbound: Inbound) -> int | None:
        """Persist an inbound message; None when this (channel, chat, message id) was seen before."""
        inbound = sanitize_inbound(inbound)
        attachments = [await self._attachment_ref(item) for item in inbound.attachments]
        payload = {
            "channel": inbound.channel,
            "chat_id": inbound.chat_id,
            "message_id": inbound.message_id,
            "sender_id": inbound.sender_id,
            "sender_name": inbound.sender_name,
            "text": inbound.text,
            "is_direct": inbound.is_direct,
            "mentioned": inbound.mentioned,
            "thread_id": inbound.thread_id,
            "unsupported": inbound.unsupported,
            "bot_authored": inbound.bot_authored,
            "reply_to_text": inbound.reply_to_text,
            "group_id": inbound.group_id,
            "group_name": inbound.group_name,
            "attachments": attachments,
        }
        cursor = await run(
            self._conn,
            "INSERT INTO inbox(channel, chat_id, message_id, sender_id, payload, received_at)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(channel, chat_id, message_id) DO NOTHING",
            (
                inbound.channel,
                inbound.chat_id,
                inbound.message_id,
                inbound.sender_id,
                json.dumps(payload, ensure_ascii=False),
                now(),
            ),
        )
        return int(cursor.lastrowid or 0) if cursor.rowcount > 0 else None

    async def _attachment_ref(self, item: Attachment) -> dict[str, Any]:
        return await attachment_ref(self._media, item)

    async def _attachment(self, ref: dict[str, Any]) -> Attachment:
        return await attachment_from_ref(self._media, ref)

    async def _row(self, row: aiosqlite.Row) -> InboxRow:
        p = json.loads(row["payload"])
        inbound = Inbound(
            channel=p["channel"],
            chat_id=p["chat_id"],
            message_id=p["message_id"],
            sender_id=p["sender_id"],
            text=p.get("text", ""),
            is_direct=bool(p.get("is_direct")),
            sender_name=p.get("sender_name", ""),
            mentioned=bool(p.get("mentioned")),
            thread_id=p.get("thread_id"),
            attachments=tuple([await self._attachment(ref) for ref in p.get("attachments", [])]),
            unsupported=p.get("unsupported"),
            bot_authored=bool(p.get("bot_authored")),
            reply_to_text=p.get("reply_to_text"),
            group_id=p.get("group_id"),
            group_name=p.get("group_name", ""),
        )
        return InboxRow(
            row["id"], inbound, row["status"], row["turn_id"], row["replied_at"], row["attempts"], row["received_at"]
        )

    async def get(self, row_id: int) -> InboxRow | None:
        async with self._conn.execute("SELECT * FROM inbox WHERE id = ?", (row_id,)) as cursor:
            row = await cursor.fetchone()
        return await self._row(row) if row else None

    async def unfinished(self, *, upto_id: int | None = None) -> list[InboxRow]:
        """Rows still pending (left by a crash or a stop before processing), oldest first."""
        sql, args = "SELECT * FROM inbox WHERE status = 'pending'", tuple[int, ...]()
        if upto_id is not None:
            sql, args = sql + " AND id <= ?", (upto_id,)
        async with self._conn.execute(sql + " ORDER BY id", args) as cursor:
            rows = await cursor.fetchall()
        return [await self._row(row) for row in rows]

    async def max_id(self) -> int:
        async with self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM inbox") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def start_attempt(self, row_id: int) -> None:
        await run(self._conn, "UPDATE inbox SET attempts = attempts + 1 WHERE id = ?", (row_id,))

    async def undo_attempt(self, row_ids: list[int]) -> None:
        """An attempt that failed for a reason outside the message (a full disk) does not count."""
        await run_many(
            self._conn, "UPDATE inbox SET attempts = MAX(attempts - 1, 0) WHERE id = ?", [(i,) for i in row_ids]
        )

    async def set_session(self, row_ids: list[int], session_key: str) -> None:
        await self._many("UPDATE inbox SET session_key = ? WHERE id = ?", row_ids, session_key)

    async def set_turn(self, row_ids: list[int], turn_id: int) -> None:
        """The turn that answered these rows is stored: a restart re-sends it, never re-asks the model."""
        await self._many("UPDATE inbox SET turn_id = ? WHERE id = ?", row_ids, turn_id)

    async def mark_replied(self, row_ids: list[int]) -> None:
        ts = now()
        await run_many(
            self._conn,
            "UPDATE inbox SET status = 'done', replied_at = ?, done_at = ? WHERE id = ?",
            [(ts, ts, row_id) for row_id in row_ids],
        )

    async def await_delivery(self, row_ids: list[int], outbox_id: int) -> None:
        """Answered; the reply waits in the outbox, which settles these rows once it is delivered."""
        await self._many(
            "UPDATE inbox SET status = 'outbox', outbox_id = ? WHERE id = ? AND status = 'pending'", row_ids, outbox_id
        )

    async def finish(self, row_ids: list[int], status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown inbox status {status!r}")
        ts = now()
        await run_many(
            self._conn,
            "UPDATE inbox SET status = ?, error = ?, done_at = ? WHERE id = ?",
            [(status, error, ts, row_id) for row_id in row_ids],
        )

    async def _many(self, sql: str, row_ids: list[int], value: object) -> None:
        await run_many(self._conn, sql, [(value, row_id) for row_id in row_ids])

    async def stored_reply(self, turn_id: int) -> StoredReply | None:
        async with self._conn.execute(
            "SELECT reply, status, attachments FROM turns WHERE id = ?", (turn_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return StoredReply(row["reply"], row["status"], json.loads(row["attachments"] or "[]"))

    async def counts(self) -> dict[str, int]:
        async with self._conn.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status") as cursor:
            return {str(r[0]): int(r[1]) for r in await cursor.fetchall()}
