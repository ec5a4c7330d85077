"""API keys of the OpenAI-compatible endpoint: stored as SHA-256 hashes, looked up by hash.

A key is high-entropy random text shown once by `agentbox tokens create`; a plain SHA-256 is
enough to store it (nothing to brute-force), and lookups by hash need no constant-time compare.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite

from agentbox.store.db import now, run

TOUCH_EVERY = 60.0  # last_used_at is written at most this often per key: not a write per request


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key as stored: its name, the start of the key, what it may use and when it was last used."""

    name: str
    hint: str
    agent: str | None
    usd_per_day: float | None
    created_at: float
    last_used_at: float | None


class ApiKeyRepo:
    """The `api_keys` table: create, find by hash, list, revoke."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def add(self, name: str, key_hash: str, hint: str, *, agent: str | None, usd_per_day: float | None) -> bool:
        """Store a new key; False when the name is taken."""
        cursor = await run(
            self._conn,
            "INSERT INTO api_keys(name, key_hash, hint, agent, usd_per_day, created_at) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT(name) DO NOTHING",
            (name, key_hash, hint, agent, usd_per_day, now()),
        )
        return cursor.rowcount > 0

    async def find(self, key_hash: str) -> ApiKey | None:
        return await self._one("WHERE key_hash = ?", key_hash)

    async def get(self, name: str) -> ApiKey | None:
        return await self._one("WHERE name = ?", name)

    async def all(self) -> list[ApiKey]:
        async with self._conn.execute("SELECT * FROM api_keys ORDER BY name") as cursor:
            return [_key(row) for row in await cursor.fetchall()]

    async def revoke(self, name: str) -> bool:
        cursor = await run(self._conn, "DELETE FROM api_keys WHERE name = ?", (name,))
        return cursor.rowcount > 0

    async def touch(self, key: ApiKey) -> None:
        """Record a use (at most once a minute per key)."""
        at = time.time()
        if key.last_used_at is None or at - key.last_used_at >= TOUCH_EVERY:
            await run(self._conn, "UPDATE api_keys SET last_used_at = ? WHERE name = ?", (at, key.name))

    async def _one(self, where: str, value: str) -> ApiKey | None:
        async with self._conn.execute(f"SELECT * FROM api_keys {where}", (value,)) as cursor:
            row = await cursor.fetchone()
        return _key(row) if row else None


def _key(row: aiosqlite.Row) -> ApiKey:
    return ApiKey(row["name"], row["hint"], row["agent"], row["usd_per_day"], row["created_at"], row["last_used_at"])
