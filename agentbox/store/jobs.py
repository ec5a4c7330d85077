"""Background jobs (video generation): persisted so polling survives a gateway restart."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import aiosqlite

from agentbox.messages import Address
from agentbox.store.db import now, run

# queued/generating: the remote job runs; completed: done remotely, not yet delivered.
ACTIVE_STATUSES = ("queued", "generating", "completed")
FINAL_STATUSES = ("delivered", "error")


@dataclass(frozen=True, slots=True)
class Job:
    """A long-running generation (video): the remote id to poll, where to deliver the result, and its
    progress (queued → generating → completed → delivered, or error).
    """

    id: str
    kind: str
    session_key: str
    address: Address | None
    status: str
    remote_id: str | None
    request: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: float
    updated_at: float
    next_poll_at: float | None
    last_progress_at: float | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def address_to_json(address: Address | None) -> str:
    if address is None:
        return "null"
    return json.dumps(
        {
            "channel": address.channel,
            "chat_id": address.chat_id,
            "thread_id": address.thread_id,
            "reply_to": address.reply_to,
        }
    )


def address_from_json(text: str | None) -> Address | None:
    data = json.loads(text or "null")
    if not isinstance(data, dict):
        return None
    return Address(str(data["channel"]), str(data["chat_id"]), data.get("thread_id"), data.get("reply_to"))


def _job(row: aiosqlite.Row) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        session_key=row["session_key"],
        address=address_from_json(row["address"]),
        status=row["status"],
        remote_id=row["remote_id"],
        request=json.loads(row["request"] or "{}"),
        result=json.loads(row["result"]) if row["result"] else None,
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        next_poll_at=row["next_poll_at"],
        last_progress_at=row["last_progress_at"],
    )


_UPDATABLE = frozenset({"status", "remote_id", "result", "error", "next_poll_at", "last_progress_at"})


class JobRepo:
    """The `jobs` table: background jobs and every step of their progress, so polling survives a restart."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def create(
        self,
        kind: str,
        *,
        session_key: str,
        address: Address | None,
        request: dict[str, Any],
        remote_id: str | None = None,
        status: str = "queued",
        next_poll_at: float | None = None,
    ) -> Job:
        job_id = uuid.uuid4().hex[:12]
        ts = now()
        await run(
            self._conn,
            "INSERT INTO jobs(id, kind, session_key, address, status, remote_id, request, created_at, updated_at,"
            " next_poll_at, last_progress_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                job_id,
                kind,
                session_key,
                address_to_json(address),
                status,
                remote_id,
                json.dumps(request),
                ts,
                ts,
                next_poll_at if next_poll_at is not None else ts,
                ts,
            ),
        )
        job = await self.get(job_id)
        assert job is not None
        return job

    async def get(self, job_id: str) -> Job | None:
        async with self._conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)) as cursor:
            row = await cursor.fetchone()
        return _job(row) if row else None

    async def update(self, job_id: str, **fields: Any) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update job fields {sorted(unknown)}")
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await run(
            self._conn,
            f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",
            (*fields.values(), now(), job_id),
        )

    async def active(self, kind: str | None = None) -> list[Job]:
        """Jobs still to poll or deliver, oldest first (what a restarted runner resumes)."""
        marks = ",".join("?" for _ in ACTIVE_STATUSES)
        sql = f"SELECT * FROM jobs WHERE status IN ({marks})"
        params: list[Any] = list(ACTIVE_STATUSES)
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        async with self._conn.execute(sql + " ORDER BY created_at", params) as cursor:
            return [_job(row) for row in await cursor.fetchall()]

    async def list(self, *, limit: int = 50, session_key: str | None = None) -> list[Job]:
        sql = "SELECT * FROM jobs"
        params: list[Any] = []
        if session_key is not None:
            sql += " WHERE session_key = ?"
            params.append(session_key)
        async with self._conn.execute(sql + " ORDER BY created_at DESC LIMIT ?", (*params, limit)) as cursor:
            return [_job(row) for row in await cursor.fetchall()]
