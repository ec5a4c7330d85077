"""The SQLite connection: WAL mode, foreign keys on, migrations applied on open."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiosqlite

from agentbox.store.schema import MIGRATIONS, SCHEMA_VERSION


class SchemaTooNew(Exception):
    pass


async def connect(path: Path, *, busy_timeout_ms: int = 30_000) -> aiosqlite.Connection:
    new_file = await asyncio.to_thread(_prepare, path)
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    if new_file:
        await asyncio.to_thread(path.chmod, 0o600)  # history is private: owner-only
    # busy_timeout first: WAL and migrations must wait out another process's writer.
    await conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await migrate(conn, path)
    return conn


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection, path: Path) -> None:
    version = await schema_version(conn)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{path} has schema version {version}, newer than this agentbox ({SCHEMA_VERSION}): upgrade agentbox"
        )
    if version == SCHEMA_VERSION:
        return
    await conn.execute("BEGIN IMMEDIATE")
    try:
        version = await schema_version(conn)  # another process may have migrated meanwhile
        for number in range(version, SCHEMA_VERSION):
            await _run_script(conn, MIGRATIONS[number])
            await conn.execute(f"PRAGMA user_version = {number + 1}")
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise


async def _run_script(conn: aiosqlite.Connection, script: str) -> None:
    # executescript() would COMMIT our transaction; run statements one by one instead.
    for statement in script.split(";"):
        if statement.strip():
            await conn.execute(statement)


def _prepare(path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    return not path.exists()


def now() -> float:
    return time.time()
