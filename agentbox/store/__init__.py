"""`Store`: one SQLite database (aiosqlite, WAL) with one repository per concern.

Kept free of pydantic-ai and connector imports so quick CLI commands stay quick.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from agentbox.store.api_keys import ApiKeyRepo
from agentbox.store.db import connect
from agentbox.store.groups import GroupRepo
from agentbox.store.inbox import InboxRepo
from agentbox.store.jobs import Job, JobRepo
from agentbox.store.memory import Memory, MemoryRepo
from agentbox.store.outbox import OutboxRepo
from agentbox.store.pairing import PairingRepo
from agentbox.store.retention import PruneReport, RetentionRepo
from agentbox.store.schedules import ScheduleRepo
from agentbox.store.sessions import MediaRepo, SessionInfo, SessionRepo, StoredTurn, TurnRecord
from agentbox.store.spend import SpendRecord, SpendRepo
from agentbox.store.transcripts import TranscriptRepo

__all__ = ["Job", "Memory", "PruneReport", "SessionInfo", "SpendRecord", "Store", "StoredTurn", "TurnRecord"]


class Store:
    """The database: one SQLite connection (WAL, owner-only file, migrated on `open`) and one
    repository per concern (sessions, media, pairing, groups, inbox, outbox, jobs, retention, spend,
    api keys, schedules, memory, transcript search).

    Every process (the gateway, each CLI command) opens its own Store on the same file; SQLite
    serializes the writes, and a write waits out another process's lock (for minutes) before it
    fails. Close it (or use `async with`) so the connection's thread ends.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.sessions = SessionRepo(conn)
        self.media = MediaRepo(conn)
        self.pairing = PairingRepo(conn)
        self.groups = GroupRepo(conn)
        self.inbox = InboxRepo(conn, self.media)
        self.jobs = JobRepo(conn)
        self.retention = RetentionRepo(conn)
        self.outbox = OutboxRepo(conn, self.media)
        self.spend = SpendRepo(conn)
        self.api_keys = ApiKeyRepo(conn)
        self.schedules = ScheduleRepo(conn)
        self.memory = MemoryRepo(conn)
        self.transcripts = TranscriptRepo(conn)

    @classmethod
    async def open(cls, path: Path) -> Store:
        return cls(await connect(path), path)

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
