"""Full-text search over every turn's user text and reply (`turns_fts`, kept in step by triggers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiosqlite

from agentbox.store.memory import match_counts

MARK_START, MARK_END = "\ue000", "\ue001"  # around matched words in snippets (private-use: never typed)
SNIPPET_TOKENS = 16
# What a filter needs; CROSS JOIN keeps the full-text index driving (see agentbox.store.memory.match_counts).
_JOINS = " CROSS JOIN turns t ON t.id = turns_fts.rowid LEFT JOIN sessions s ON s.key = t.session_key"


def marked(snippet: str) -> str:
    """A snippet with its matched words marked « » for people to read."""
    return snippet.replace(MARK_START, "«").replace(MARK_END, "»")


@dataclass(frozen=True, slots=True)
class TranscriptFilter:
    """Which sessions a search covers: these keys, keys starting with these prefixes (a group's
    threads), every session of these channels (the owner's `cli` sessions) and of these agents."""

    session_keys: tuple[str, ...] = ()
    key_prefixes: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()

    def sql(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if self.session_keys:
            clauses.append(f"t.session_key IN ({','.join('?' * len(self.session_keys))})")
            args.extend(self.session_keys)
        for prefix in self.key_prefixes:
            clauses.append("substr(t.session_key, 1, ?) = ?")
            args.extend((len(prefix), prefix))
        for column, values in (("channel", self.channels), ("agent", self.agents)):
            if values:
                clauses.append(f"s.{column} IN ({','.join('?' * len(values))})")
                args.extend(values)
        return ("(" + " OR ".join(clauses) + ")" if clauses else "0"), args


@dataclass(frozen=True, slots=True)
class TranscriptHit:
    """One turn that matched: where and when, and a snippet of each side with matches marked."""

    turn_id: int
    session_key: str
    channel: str
    started_at: float
    status: str
    user_snippet: str
    reply_snippet: str


class TranscriptRepo:
    """Searches the `turns_fts` index; nothing here writes (the triggers on `turns` do)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def term_counts(self, phrases: list[str], cap: int, where: TranscriptFilter | None = None) -> list[int]:
        """How many turns (in `where`'s sessions, or all) each FTS5 phrase matches, up to `cap` + 1."""
        if where is None:
            return await match_counts(self._conn, "turns_fts", phrases, cap=cap)
        condition, args = where.sql()
        within = (_JOINS, condition, args)
        return await match_counts(self._conn, "turns_fts", phrases, cap=cap, within=within)

    async def search(self, match: str, where: TranscriptFilter | None, *, limit: int) -> list[TranscriptHit]:
        """Turns matching the FTS5 expression `match`, best first (bm25); in `where`'s sessions, or all."""
        if not match:
            return []  # FTS5 calls an empty expression a syntax error
        condition, args = where.sql() if where is not None else ("1", [])
        snippet = f"snippet(turns_fts, {{}}, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_TOKENS})"
        sql = (
            f"SELECT t.id, t.session_key, COALESCE(s.channel, '') AS channel, t.started_at, t.status,"
            f" {snippet.format(0)} AS user_snippet, {snippet.format(1)} AS reply_snippet"
            f" FROM turns_fts{_JOINS}"
            f" WHERE turns_fts MATCH ? AND {condition} ORDER BY turns_fts.rank LIMIT ?"
        )
        async with self._conn.execute(sql, (match, *args, limit)) as cursor:
            rows = await cursor.fetchall()
        return [
            TranscriptHit(
                turn_id=int(row["id"]),
                session_key=str(row["session_key"]),
                channel=str(row["channel"]),
                started_at=float(row["started_at"]),
                status=str(row["status"]),
                user_snippet=str(row["user_snippet"] or ""),
                reply_snippet=str(row["reply_snippet"] or ""),
            )
            for row in rows
        ]
