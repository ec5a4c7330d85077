"""Long-term memories (one row per fact, in a scope), their full-text index, and identity links.

The SQL only: what a scope is, how text is folded for de-duplication and how a search query is
built live in `agentbox.memory`. The `memories_fts` index follows the table through triggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import aiosqlite

from agentbox.store.db import now, run, transaction

_COLUMNS = "m.id, m.scope, m.text, m.pinned, m.source, m.origin, m.session_key, m.created_at, m.updated_at"


@dataclass(frozen=True, slots=True)
class Memory:
    """One remembered fact: its scope key (`sender:telegram:123`), text, and where it came from."""

    id: int
    scope: str
    text: str
    pinned: bool = False
    source: str = "tool"  # tool | compaction | owner | import
    origin: str = ""  # the sender identity it came from (channel:id)
    session_key: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A fact to store: `norm` is its folded form, unique within the scope."""

    scope: str
    text: str
    norm: str
    pinned: bool = False
    source: str = "tool"
    origin: str = ""
    session_key: str | None = None
    created_at: float | None = None


def _memory(row: Any) -> Memory:
    return Memory(
        id=int(row["id"]),
        scope=str(row["scope"]),
        text=str(row["text"]),
        pinned=bool(row["pinned"]),
        source=str(row["source"]),
        origin=str(row["origin"]),
        session_key=row["session_key"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


def _marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


async def match_counts(
    conn: aiosqlite.Connection,
    table: str,
    phrases: Sequence[str],
    *,
    cap: int,
    within: tuple[str, str, Sequence[Any]] = ("", "1", ()),
) -> list[int]:
    """How many rows of the FTS5 `table` each phrase matches, counting no further than `cap` + 1 (one statement).

    `within` is (joins, condition, its arguments): only the rows a search would look at count, so
    words common elsewhere (other people's memories) cost nothing here and are not dropped as common.
    The joins should be CROSS JOINs: the full-text index then drives, stopping at `cap` + 1 rows, where
    a plan driven by the table's own index would test the match row by row over a whole scope.
    """
    if not phrases:
        return []
    joins, condition, args = within
    one = (
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table}{joins} WHERE {table} MATCH ? AND {condition}"
        f" LIMIT {int(cap) + 1}))"
    )
    values = [value for phrase in phrases for value in (phrase, *args)]
    async with conn.execute("SELECT " + ", ".join([one] * len(phrases)), values) as cursor:
        row = await cursor.fetchone()
    return [int(value) for value in row] if row else [0] * len(phrases)


class MemoryRepo:
    """The `memories` table with its full-text index (`memories_fts`) and the `memory_links` table."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _select(self, sql: str, args: Sequence[Any]) -> list[Memory]:
        async with self._conn.execute(sql, args) as cursor:
            return [_memory(row) for row in await cursor.fetchall()]

    # -- facts -----------------------------------------------------------------------
    async def insert(self, item: NewMemory) -> int | None:
        """Store `item`; None when the scope already holds the same folded text."""
        created = item.created_at if item.created_at is not None else now()
        result = await run(
            self._conn,
            "INSERT INTO memories(scope, text, norm, pinned, source, origin, session_key, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(scope, norm) DO NOTHING",
            (
                item.scope,
                item.text,
                item.norm,
                int(item.pinned),
                item.source,
                item.origin,
                item.session_key,
                created,
                created,
            ),
        )
        return int(result.lastrowid) if result.rowcount and result.lastrowid else None

    async def find(self, scope: str, norm: str) -> Memory | None:
        found = await self._select(f"SELECT {_COLUMNS} FROM memories m WHERE m.scope = ? AND m.norm = ?", (scope, norm))
        return found[0] if found else None

    async def get(self, memory_id: int) -> Memory | None:
        found = await self._select(f"SELECT {_COLUMNS} FROM memories m WHERE m.id = ?", (memory_id,))
        return found[0] if found else None

    async def touch(self, memory_id: int, *, pinned: bool = False) -> None:
        """Said again: it counts as fresh (eviction goes by age), and pinned if asked."""
        await run(
            self._conn,
            "UPDATE memories SET updated_at = ?, pinned = MAX(pinned, ?) WHERE id = ?",
            (now(), int(pinned), memory_id),
        )

    async def replace_text(self, memory_id: int, text: str, norm: str) -> bool:
        """A newer wording of the same fact; False if another memory of the scope already says it."""
        result = await run(
            self._conn,
            "UPDATE OR IGNORE memories SET text = ?, norm = ?, updated_at = ? WHERE id = ?",
            (text, norm, now(), memory_id),
        )
        return result.rowcount > 0

    async def set_pinned(self, memory_id: int, pinned: bool) -> bool:
        result = await run(self._conn, "UPDATE memories SET pinned = ? WHERE id = ?", (int(pinned), memory_id))
        return result.rowcount > 0

    async def term_counts(self, phrases: list[str], cap: int, scopes: Sequence[str] | None = None) -> list[int]:
        """How many memories (in `scopes`, or all) each FTS5 phrase matches, up to `cap` + 1."""
        if scopes is None:
            return await match_counts(self._conn, "memories_fts", phrases, cap=cap)
        joins = " CROSS JOIN memories m ON m.id = memories_fts.rowid"  # the index drives (see match_counts)
        within = (joins, f"m.scope IN ({_marks(scopes)})", scopes)
        return await match_counts(self._conn, "memories_fts", phrases, cap=cap, within=within)

    async def search(self, match: str, scopes: Sequence[str] | None, *, limit: int) -> list[Memory]:
        """Memories matching the FTS5 expression `match`, best first (bm25); in `scopes`, or all."""
        if not match:
            return []  # FTS5 calls an empty expression a syntax error
        where = f" AND m.scope IN ({_marks(scopes)})" if scopes is not None else ""
        return await self._select(
            f"SELECT {_COLUMNS} FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid"
            f" WHERE memories_fts MATCH ?{where} ORDER BY memories_fts.rank LIMIT ?",
            (match, *(scopes or ()), limit),
        )

    async def pinned(self, scopes: Sequence[str], *, limit: int) -> list[Memory]:
        return await self._select(
            f"SELECT {_COLUMNS} FROM memories m WHERE m.scope IN ({_marks(scopes)}) AND m.pinned = 1"
            " ORDER BY m.updated_at DESC LIMIT ?",
            (*scopes, limit),
        )

    async def newest(self, scopes: Sequence[str] | None = None, *, limit: int = -1) -> list[Memory]:
        """Memories in `scopes` (all when None), newest first."""
        where = f"WHERE m.scope IN ({_marks(scopes)})" if scopes is not None else ""
        return await self._select(
            f"SELECT {_COLUMNS} FROM memories m {where} ORDER BY m.created_at DESC, m.id DESC LIMIT ?",
            (*(scopes or ()), limit),
        )

    async def count(self, scopes: Sequence[str]) -> int:
        async with self._conn.execute(
            f"SELECT COUNT(*) FROM memories WHERE scope IN ({_marks(scopes)})", tuple(scopes)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def delete(self, memory_ids: Sequence[int], scopes: Sequence[str] | None = None) -> int:
        """Delete these memories (only those in `scopes`, when given); how many went."""
        if not memory_ids:
            return 0
        where = f" AND scope IN ({_marks(scopes)})" if scopes is not None else ""
        result = await run(
            self._conn,
            f"DELETE FROM memories WHERE id IN ({_marks(memory_ids)}){where}",
            (*memory_ids, *(scopes or ())),
        )
        return result.rowcount

    async def delete_scope(self, scope: str) -> int:
        return (await run(self._conn, "DELETE FROM memories WHERE scope = ?", (scope,))).rowcount

    async def evict(self, scope: str, keep: int) -> int:
        """Delete the oldest unpinned memories of `scope` beyond `keep`; how many went."""
        result = await run(
            self._conn,
            "DELETE FROM memories WHERE id IN (SELECT id FROM memories WHERE scope = ? AND pinned = 0"
            " ORDER BY updated_at DESC, id DESC LIMIT -1 OFFSET ?)",
            (scope, keep),
        )
        return result.rowcount

    async def move(self, old_scope: str, new_scope: str, *, origins: Sequence[str] | None = None) -> int:
        """Move memories (those from `origins`, when given) to another scope; a fact it already holds merges."""
        where = f" AND origin IN ({_marks(origins)})" if origins is not None else ""
        args = (new_scope, old_scope, *(origins or ()))
        moved = await run(self._conn, f"UPDATE OR IGNORE memories SET scope = ? WHERE scope = ?{where}", args)
        await run(self._conn, f"DELETE FROM memories WHERE scope = ?{where}", args[1:])  # the duplicates left behind
        return moved.rowcount

    # -- identity links ----------------------------------------------------------------
    async def person_of(self, identity: str) -> str | None:
        async with self._conn.execute("SELECT person FROM memory_links WHERE identity = ?", (identity,)) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def members(self, person: str) -> list[str]:
        async with self._conn.execute(
            "SELECT identity FROM memory_links WHERE person = ? ORDER BY linked_at, identity", (person,)
        ) as cursor:
            return [str(row[0]) for row in await cursor.fetchall()]

    async def links(self) -> dict[str, list[str]]:
        """Each linked person (its canonical identity) with every identity linked to it."""
        async with self._conn.execute(
            "SELECT person, identity FROM memory_links ORDER BY person, linked_at, identity"
        ) as cursor:
            rows = await cursor.fetchall()
        people: dict[str, list[str]] = {}
        for row in rows:
            people.setdefault(str(row[0]), []).append(str(row[1]))
        return people

    async def set_person(self, identities: Sequence[str], person: str) -> None:
        ts = now()
        for identity in identities:
            await run(
                self._conn,
                "INSERT INTO memory_links(identity, person, linked_at) VALUES (?,?,?)"
                " ON CONFLICT(identity) DO UPDATE SET person = excluded.person",
                (identity, person, ts),
            )

    async def remove_link(self, identity: str) -> None:
        await run(self._conn, "DELETE FROM memory_links WHERE identity = ?", (identity,))

    def atomically(self) -> AbstractAsyncContextManager[None]:
        """Several changes that land together or not at all (a link moves memories and links at once);
        for a connection of its own, see `agentbox.store.db.transaction`."""
        return transaction(self._conn)
