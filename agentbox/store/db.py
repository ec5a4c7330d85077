"""The SQLite connection: WAL mode, foreign keys on, migrations applied on open.

Writes wait out another process's lock (`agentbox` CLI commands, a backup, someone's `sqlite3`
shell): SQLite waits `busy_timeout`, and `run` keeps trying for up to `LOCK_PATIENCE` seconds
more instead of failing the message being handled. A write fails only after that.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from agentbox.errors import AgentboxError
from agentbox.store.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

LOCK_PATIENCE = 600.0  # seconds a write keeps waiting for another process's lock, after busy_timeout
_RETRY_PAUSE = 0.05  # between tries: SQLite itself waits busy_timeout inside each one


class SchemaTooNew(AgentboxError, sqlite3.DatabaseError):
    """The file was written by a newer agentbox; a DatabaseError so every command reports it plainly."""

    exit_code = 3  # like every unusable database


async def connect(path: Path, *, busy_timeout_ms: int = 30_000) -> aiosqlite.Connection:
    new_file = await asyncio.to_thread(_prepare, path)
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    if new_file:
        await asyncio.to_thread(path.chmod, 0o600)  # history is private: owner-only
    # busy_timeout first: WAL and migrations must wait out another process's writer.
    await run(conn, f"PRAGMA busy_timeout = {busy_timeout_ms}")
    try:
        await run(conn, "PRAGMA journal_mode = WAL")
        await run(conn, "PRAGMA synchronous = NORMAL")
        await run(conn, "PRAGMA foreign_keys = ON")
        await migrate(conn, path)
    except BaseException:
        await conn.close()  # a refused or broken database must not leave aiosqlite's thread behind
        raise
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
    async with transaction(conn):
        version = await schema_version(conn)  # another process may have migrated meanwhile
        for number in range(version, SCHEMA_VERSION):
            await _run_script(conn, MIGRATIONS[number])
            await run(conn, f"PRAGMA user_version = {number + 1}")


@asynccontextmanager
async def transaction(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """Statements that land together or not at all (write-locked from the start).

    For a connection of its own (migrating on open, a CLI command): the gateway's shared one would
    sweep other coroutines' statements into the transaction.
    """
    await run(conn, "BEGIN IMMEDIATE")
    try:
        yield
        await run(conn, "COMMIT")
    except BaseException:
        await run(conn, "ROLLBACK")
        raise


async def _run_script(conn: aiosqlite.Connection, script: str) -> None:
    # executescript() would COMMIT our transaction; run statements one by one instead.
    for statement in statements(script):
        await run(conn, statement)


def statements(script: str) -> list[str]:
    """The statements of `script`, split at semicolons that end one (not those inside a trigger's body)."""
    found: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\n;"):
                found.append(current)
            current = ""
    if current.strip(" \t\n;"):
        found.append(current)  # an unfinished statement: SQLite says what is wrong with it
    return found


@dataclass(frozen=True, slots=True)
class Result:
    """What a statement reported once its cursor was closed: rows changed and the last inserted row id."""

    rowcount: int
    lastrowid: int | None


async def run(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Result:
    """Execute one statement and close its cursor on aiosqlite's thread.

    A cursor left for the garbage collector is finalized on the event loop's thread while
    aiosqlite's thread runs the next statement; under load sqlite3 then fails with
    "bad parameter or other API misuse". Every write in the store goes through here.
    """

    async def once() -> Result:
        async with conn.execute(sql, params) as cursor:
            return Result(cursor.rowcount, cursor.lastrowid)

    return await _patiently(once)


async def run_many(conn: aiosqlite.Connection, sql: str, rows: Iterable[Sequence[Any]]) -> Result:
    batch = list(rows)  # a retry needs the rows again

    async def once() -> Result:
        async with conn.executemany(sql, batch) as cursor:
            return Result(cursor.rowcount, cursor.lastrowid)

    return await _patiently(once)


async def _patiently(statement: Callable[[], Awaitable[Result]]) -> Result:
    """Run `statement`; while another process holds the write lock, keep trying (up to LOCK_PATIENCE)."""
    deadline: float | None = None
    while True:
        try:
            return await statement()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            if deadline is None:
                deadline = time.monotonic() + LOCK_PATIENCE
                log.warning("the database is locked by another process; waiting for it (up to %.0f s)", LOCK_PATIENCE)
            elif time.monotonic() >= deadline:
                raise
            await asyncio.sleep(_RETRY_PAUSE)


async def insert_capped(conn: aiosqlite.Connection, table: str, row: dict[str, Any], *, key: str, cap: int) -> bool:
    """Insert `row` into a pairing table unless its key exists or `cap` unexpired rows share its channel.

    One statement, so one write transaction: concurrent inserts, on this connection or on other
    processes' connections, cannot all count "cap - 1" and all insert. `table` and `key` are ours.
    """
    columns = ", ".join(row)
    marks = ",".join("?" * len(row))
    cursor = await run(
        conn,
        f"INSERT INTO {table}({columns}) SELECT {marks} WHERE"
        f" (SELECT COUNT(*) FROM {table} WHERE channel = ? AND expires_at > ?) < ?"
        f" ON CONFLICT({key}) DO NOTHING",
        (*row.values(), row["channel"], row["created_at"], cap),
    )
    return cursor.rowcount > 0


def _prepare(path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    return not path.exists()


def now() -> float:
    return time.time()
