"""Sessions, their turns (history and usage), summaries and stored media."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from agentbox.store.db import now, run
from agentbox.store.retention import MEDIA_GRACE


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session (one conversation) with its totals; `epoch` grows on each reset (`/new`), and only
    the current epoch is history."""

    key: str
    channel: str
    chat_id: str
    thread_id: str | None
    agent: str
    model: str | None
    epoch: int
    created_at: float
    updated_at: float
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0


@dataclass(slots=True)
class TurnRecord:
    """What one turn leaves behind; `messages` is the turn's own pydantic-ai message JSON."""

    session_key: str
    model: str
    status: str
    user_text: str = ""
    reply: str = ""
    error: str | None = None
    sender_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float | None = None
    usd_estimated: bool = False
    credits: float | None = None
    tool_calls: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    messages: bytes | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    fallback_from: str | None = None  # the turn's own model when a fallback (`model`) answered


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """One successful turn as the prompt replays it: its pydantic-ai messages and token counts."""

    id: int
    messages: bytes | None
    input_tokens: int
    output_tokens: int


class SessionRepo:
    """The `sessions`, `turns` and `summaries` tables: each conversation, every turn it had (history and
    usage), and the summaries that stand in for older turns.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def ensure(
        self,
        key: str,
        *,
        channel: str = "",
        chat_id: str = "",
        thread_id: str | None = None,
        agent: str = "main",
    ) -> SessionInfo:
        ts = now()
        await run(
            self._conn,
            "INSERT INTO sessions(key, channel, chat_id, thread_id, agent, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING",
            (key, channel, chat_id, thread_id, agent, ts, ts),
        )
        info = await self.get(key)
        assert info is not None
        return info

    async def get(self, key: str) -> SessionInfo | None:
        rows = await self._list("WHERE s.key = ?", (key,))
        return rows[0] if rows else None

    async def all(self) -> list[SessionInfo]:
        return await self._list("", ())

    async def for_chat(self, channel: str, chat_id: str, thread_id: str | None) -> SessionInfo | None:
        """The session of a chat (and thread) the gateway has seen, if any (newest first)."""
        found = await self._list(
            "WHERE s.channel = ? AND s.chat_id = ? AND s.thread_id IS ?", (channel, chat_id, thread_id)
        )
        return found[0] if found else None

    async def _list(self, where: str, args: tuple[Any, ...]) -> list[SessionInfo]:
        sql = (
            "SELECT s.*, COUNT(t.id) AS turns, COALESCE(SUM(t.input_tokens),0) AS input_tokens,"
            " COALESCE(SUM(t.output_tokens),0) AS output_tokens, COALESCE(SUM(t.usd),0) AS usd"
            f" FROM sessions s LEFT JOIN turns t ON t.session_key = s.key {where}"
            " GROUP BY s.key ORDER BY s.updated_at DESC"
        )
        async with self._conn.execute(sql, args) as cursor:
            rows = await cursor.fetchall()
        return [
            SessionInfo(
                key=r["key"],
                channel=r["channel"],
                chat_id=r["chat_id"],
                thread_id=r["thread_id"],
                agent=r["agent"],
                model=r["model"],
                epoch=r["epoch"],
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                turns=r["turns"],
                input_tokens=r["input_tokens"],
                output_tokens=r["output_tokens"],
                usd=r["usd"] or 0.0,
            )
            for r in rows
        ]

    async def set_model(self, key: str, model: str | None) -> None:
        await run(self._conn, "UPDATE sessions SET model = ?, updated_at = ? WHERE key = ?", (model, now(), key))

    async def reset(self, key: str) -> bool:
        """Start afresh: later prompts no longer see earlier turns; the transcript is kept."""
        cursor = await run(
            self._conn, "UPDATE sessions SET epoch = epoch + 1, updated_at = ? WHERE key = ?", (now(), key)
        )
        return cursor.rowcount > 0

    # -- turns -----------------------------------------------------------------
    async def add_turn(self, turn: TurnRecord) -> int:
        info = await self.get(turn.session_key)
        epoch = info.epoch if info else 0
        cursor = await run(
            self._conn,
            "INSERT INTO turns(session_key, epoch, started_at, finished_at, status, model, sender_id,"
            " user_text, reply, error, input_tokens, output_tokens, usd, usd_estimated, credits,"
            " tool_calls, attachments, messages, fallback_from) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                turn.session_key,
                epoch,
                turn.started_at or now(),
                turn.finished_at or now(),
                turn.status,
                turn.model,
                turn.sender_id,
                turn.user_text,
                turn.reply,
                turn.error,
                turn.input_tokens,
                turn.output_tokens,
                turn.usd,
                int(turn.usd_estimated),
                turn.credits,
                json.dumps(turn.tool_calls),
                json.dumps(turn.attachments),
                turn.messages,
                turn.fallback_from,
            ),
        )
        await run(self._conn, "UPDATE sessions SET updated_at = ? WHERE key = ?", (now(), turn.session_key))
        return int(cursor.lastrowid or 0)

    async def last_answer(self, key: str) -> tuple[str, str | None] | None:
        """(model that answered, the turn's own model if a fallback answered) of the session's latest answer."""
        async with self._conn.execute(
            "SELECT model, fallback_from FROM turns WHERE session_key = ? AND status = 'ok' ORDER BY id DESC LIMIT 1",
            (key,),
        ) as cursor:
            row = await cursor.fetchone()
        return (str(row[0]), row[1]) if row else None

    async def history_turns(self, key: str, *, after_turn_id: int = 0) -> list[StoredTurn]:
        """Successful turns of the current epoch, oldest first (the prompt view)."""
        async with self._conn.execute(
            "SELECT t.id, t.messages, t.input_tokens, t.output_tokens FROM turns t"
            " JOIN sessions s ON s.key = t.session_key"
            " WHERE t.session_key = ? AND t.epoch = s.epoch AND t.status = 'ok' AND t.id > ?"
            " AND t.messages IS NOT NULL ORDER BY t.id",
            (key, after_turn_id),
        ) as cursor:
            rows = await cursor.fetchall()
        return [StoredTurn(r["id"], r["messages"], r["input_tokens"], r["output_tokens"]) for r in rows]

    async def transcript(self, key: str) -> list[dict[str, Any]]:
        """Every turn ever recorded for the session, in order (compaction and /new never delete)."""
        async with self._conn.execute(
            "SELECT id, epoch, started_at, status, model, fallback_from, user_text, reply, error, input_tokens,"
            " output_tokens, usd, tool_calls, attachments FROM turns WHERE session_key = ? ORDER BY id",
            (key,),
        ) as cursor:
            rows = await cursor.fetchall()
        out = []
        for r in rows:
            item = dict(r)
            item["tool_calls"] = json.loads(item["tool_calls"])
            item["attachments"] = json.loads(item["attachments"])
            out.append(item)
        return out

    # -- summaries (compaction) --------------------------------------------------
    async def latest_summary(self, key: str) -> tuple[int, str] | None:
        async with self._conn.execute(
            "SELECT m.upto_turn_id, m.text FROM summaries m JOIN sessions s ON s.key = m.session_key"
            " WHERE m.session_key = ? AND m.epoch = s.epoch ORDER BY m.id DESC LIMIT 1",
            (key,),
        ) as cursor:
            row = await cursor.fetchone()
        return (int(row[0]), str(row[1])) if row else None

    async def add_summary(self, key: str, upto_turn_id: int, text: str) -> None:
        info = await self.get(key)
        await run(
            self._conn,
            "INSERT INTO summaries(session_key, epoch, upto_turn_id, text, created_at) VALUES (?,?,?,?,?)",
            (key, info.epoch if info else 0, upto_turn_id, text, now()),
        )


class MediaRepo:
    """Media stored once by content hash and referenced from history."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def put(self, data: bytes, media_type: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        # Stored again: refresh its age (rarely, to spare the rewrite) so garbage collection spares it.
        await run(
            self._conn,
            "INSERT INTO media(sha256, media_type, size, data, created_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT(sha256) DO UPDATE SET created_at = excluded.created_at"
            " WHERE media.created_at < excluded.created_at - ?",
            (digest, media_type, len(data), data, now(), MEDIA_GRACE / 2),
        )
        return digest

    async def get(self, digest: str) -> tuple[bytes, str] | None:
        async with self._conn.execute("SELECT data, media_type FROM media WHERE sha256 = ?", (digest,)) as cursor:
            row = await cursor.fetchone()
        return (bytes(row[0]), str(row[1])) if row else None
