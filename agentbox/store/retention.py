"""Retention: old conversations leave the database, and media nothing refers to any more goes too.

`prune(cutoff)` deletes turns (and summaries) started before `cutoff`, then sessions left with no
turns, then finished inbox rows received before it, then unreferenced media. Pending inbox rows
are never touched: they are messages still to answer. `collect_media()` alone removes media that
no stored turn and no pending inbox row refers to (left behind by a prune, or by a turn whose
write failed halfway); a grace period spares media a running turn has just stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiosqlite

from agentbox.store.db import now, run, run_many

MEDIA_GRACE = 3600.0  # media younger than this may belong to a turn still being written
_MEDIA_REF = re.compile(rb"agentbox-media:([0-9a-f]{64})")
_INBOX_REF = re.compile(r'"sha256":\s*"([0-9a-f]{64})"')


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What a prune removed (or, in a dry run, would remove)."""

    turns: int = 0
    sessions: int = 0
    summaries: int = 0
    inbox_rows: int = 0
    media: int = 0
    media_bytes: int = 0

    def describe(self) -> str:
        return (
            f"{self.turns:,} turns, {self.sessions:,} sessions, {self.summaries:,} summaries, {self.inbox_rows:,} "
            f"inbox messages, {self.media:,} media files ({self.media_bytes / 1_048_576:.1f} MB)"
        )


class RetentionRepo:
    """Deletes what is past retention (`prune`) and media nothing refers to (`collect_media`); pending
    messages and replies still waiting for delivery are never touched.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def prune(self, cutoff: float, *, dry_run: bool = False) -> PruneReport:
        """Delete what is older than `cutoff` (epoch seconds). A dry run needs a connection of its own:
        it deletes inside a transaction and rolls it back."""
        if dry_run:
            await run(self._conn, "BEGIN IMMEDIATE")
        try:
            report = await self._prune(cutoff)
        finally:
            if dry_run:
                await run(self._conn, "ROLLBACK")
        return report

    async def _prune(self, cutoff: float) -> PruneReport:
        turns = await run(self._conn, "DELETE FROM turns WHERE started_at < ?", (cutoff,))
        summaries = await run(self._conn, "DELETE FROM summaries WHERE created_at < ?", (cutoff,))
        await run(self._conn, "DELETE FROM spend WHERE created_at < ?", (cutoff,))  # usage leaves with its turns
        sessions = await run(
            self._conn,
            "DELETE FROM sessions WHERE updated_at < ? AND NOT EXISTS (SELECT 1 FROM turns t WHERE t.session_key = key)",
            (cutoff,),
        )
        inbox = await run(
            self._conn, "DELETE FROM inbox WHERE status NOT IN ('pending', 'outbox') AND received_at < ?", (cutoff,)
        )
        # Replies still waiting for delivery are kept whatever their age (they expire on their own).
        await run(
            self._conn, "DELETE FROM outbox WHERE status NOT IN ('pending', 'sending') AND created_at < ?", (cutoff,)
        )
        media, media_bytes = await self.collect_media(grace=0.0)
        return PruneReport(turns.rowcount, sessions.rowcount, summaries.rowcount, inbox.rowcount, media, media_bytes)

    async def collect_media(self, *, grace: float = MEDIA_GRACE) -> tuple[int, int]:
        """Delete media no turn, no unfinished inbox row and no waiting reply refers to; (count, bytes) removed."""
        referenced = await self._referenced_media()
        async with self._conn.execute(
            "SELECT sha256, size FROM media WHERE created_at < ?", (now() - grace,)
        ) as cursor:
            orphans = [(str(row[0]), int(row[1])) for row in await cursor.fetchall() if row[0] not in referenced]
        if orphans:
            await run_many(self._conn, "DELETE FROM media WHERE sha256 = ?", [(digest,) for digest, _ in orphans])
        return len(orphans), sum(size for _, size in orphans)

    async def _referenced_media(self) -> set[str]:
        found: set[str] = set()
        async with self._conn.execute(
            "SELECT messages FROM turns WHERE instr(messages, 'agentbox-media:') > 0"
        ) as cursor:
            async for row in cursor:
                found.update(match.decode() for match in _MEDIA_REF.findall(bytes(row[0])))
        async with self._conn.execute("SELECT payload FROM inbox WHERE status IN ('pending', 'outbox')") as cursor:
            async for row in cursor:
                found.update(_INBOX_REF.findall(str(row[0])))
        # A reply waiting in the outbox may carry bytes only the media table holds (a downloaded video).
        async with self._conn.execute(
            "SELECT attachments FROM outbox WHERE status IN ('pending', 'sending')"
        ) as cursor:
            async for row in cursor:
                found.update(_INBOX_REF.findall(str(row[0])))
        return found
