"""Groups the owner opened to everyone in them, and per-group pairing requests (migration 3).

A group request row outlives its code: it is the record that the group was already given its
one hint, so a restart does not repeat it. A group whose id changes (a Telegram group upgraded
to a supergroup) keeps both rows: `move`. Plain storage only; the policy is `agentbox.gateway.group_pairing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import aiosqlite

from agentbox.store.db import insert_capped, now, run


@dataclass(frozen=True, slots=True)
class GroupRequest:
    """A group's pairing code (one row per channel and group); the row also records that its one hint was given."""

    channel: str
    group_id: str
    group_name: str
    code: str
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class AllowedGroup:
    """A group the owner opened: everyone in it may talk to the bot."""

    channel: str
    group_id: str
    group_name: str
    approved_at: float


# A group's rows under its new id; its new title where Telegram gave one.
_MOVE = (
    "UPDATE OR IGNORE {table} SET group_id = ?, group_name = COALESCE(NULLIF(?, ''), group_name)"
    " WHERE channel = ? AND group_id = ?"
)


def _request(row: aiosqlite.Row) -> GroupRequest:
    return GroupRequest(
        row["channel"], row["group_id"], row["group_name"], row["code"], row["created_at"], row["expires_at"]
    )


class GroupRepo:
    """The group tables: group pairing requests and the groups opened to everyone in them (no policy here)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    # -- requests ------------------------------------------------------------------
    async def add_request(self, request: GroupRequest, *, max_pending: int) -> bool:
        """Insert unless the group has a row or `max_pending` unexpired group codes exist on the channel."""
        return await insert_capped(
            self._conn, "group_requests", asdict(request), key="channel, group_id", cap=max_pending
        )

    async def request_for(self, channel: str, group_id: str) -> GroupRequest | None:
        async with self._conn.execute(
            "SELECT * FROM group_requests WHERE channel = ? AND group_id = ?", (channel, group_id)
        ) as cursor:
            row = await cursor.fetchone()
        return _request(row) if row else None

    async def by_code(self, channel: str, code: str) -> GroupRequest | None:
        async with self._conn.execute(
            "SELECT * FROM group_requests WHERE channel = ? AND code = ?", (channel, code)
        ) as cursor:
            row = await cursor.fetchone()
        return _request(row) if row else None

    async def requests(self, channel: str | None = None) -> list[GroupRequest]:
        """Groups that asked and are not approved, oldest first (expired codes included)."""
        sql = (
            "SELECT * FROM group_requests r WHERE NOT EXISTS"
            " (SELECT 1 FROM allowed_groups a WHERE a.channel = r.channel AND a.group_id = r.group_id)"
        )
        args: tuple[str, ...] = ()
        if channel:
            sql, args = sql + " AND r.channel = ?", (channel,)
        async with self._conn.execute(sql + " ORDER BY r.created_at", args) as cursor:
            return [_request(row) for row in await cursor.fetchall()]

    # -- approved groups -----------------------------------------------------------
    async def allow(self, channel: str, group_id: str, *, group_name: str = "") -> bool:
        """Open the group; False if it already was."""
        cursor = await run(
            self._conn,
            "INSERT INTO allowed_groups(channel, group_id, group_name, approved_at) VALUES (?,?,?,?)"
            " ON CONFLICT(channel, group_id) DO NOTHING",
            (channel, group_id, group_name, now()),
        )
        return cursor.rowcount > 0

    async def revoke(self, channel: str, group_id: str) -> bool:
        cursor = await run(
            self._conn, "DELETE FROM allowed_groups WHERE channel = ? AND group_id = ?", (channel, group_id)
        )
        return cursor.rowcount > 0

    async def move(self, channel: str, old_id: str, new_id: str, *, group_name: str = "") -> bool:
        """Carry a group's approval and its pairing request to the group's new id; True if an approval moved.

        Where the new id has a row already, the old one stays as it is: moving again changes nothing.
        """
        args = (new_id, group_name, channel, old_id)
        moved = await run(self._conn, _MOVE.format(table="allowed_groups"), args)
        await run(self._conn, _MOVE.format(table="group_requests"), args)
        return moved.rowcount > 0

    async def any_allowed(self, channel: str, group_ids: Iterable[str]) -> bool:
        ids = sorted(set(group_ids))
        if not ids:
            return False
        marks = ",".join("?" * len(ids))
        async with self._conn.execute(
            f"SELECT 1 FROM allowed_groups WHERE channel = ? AND group_id IN ({marks}) LIMIT 1", (channel, *ids)
        ) as cursor:
            return await cursor.fetchone() is not None

    async def allowed(self, channel: str | None = None) -> list[AllowedGroup]:
        sql, args = "SELECT * FROM allowed_groups", tuple[str, ...]()
        if channel:
            sql, args = sql + " WHERE channel = ?", (channel,)
        async with self._conn.execute(sql + " ORDER BY approved_at", args) as cursor:
            return [
                AllowedGroup(row["channel"], row["group_id"], row["group_name"], row["approved_at"])
                for row in await cursor.fetchall()
            ]
