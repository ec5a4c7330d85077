"""Schedules (reminders and scheduled tasks) and the timezone each person stated.

A schedule's life: active → (paused ⇄ active) → done (no run left) or cancelled. Each due run is
claimed by ONE statement (`claim`): it checks the schedule is still active, still due at that time
and not already claimed, records the run in the `claim_*` columns and moves `next_run_at` on. So a
run is claimed once, whichever process or task tries, and a crash after the claim leaves it
recorded: the next start delivers it (`claimed`). `finish` clears the claim once it is delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from agentbox.messages import Address
from agentbox.store.db import now, run

LIVE = ("active", "paused")  # listed and counted against a sender's limit
_LIVE_SQL = "('active', 'paused')"


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """What `add` stores: the kind, the text, the rule (see `agentbox.schedules.timing`) and where it goes."""

    kind: str
    message: str
    rule_kind: str
    rule: str
    anchor_at: float | None
    timezone: str
    next_run_at: float
    channel: str
    chat_id: str
    session_key: str
    thread_id: str | None = None
    until_at: float | None = None
    agent: str = "main"
    sender_id: str = ""
    sender_name: str = ""
    in_group: bool = False
    created_by: str = "chat"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A stored schedule: its rule and target, its state, and the run claimed but not yet delivered (if any)."""

    id: int
    kind: str
    message: str
    rule_kind: str
    rule: str
    anchor_at: float | None
    timezone: str
    until_at: float | None
    channel: str
    chat_id: str
    thread_id: str | None
    session_key: str
    agent: str
    sender_id: str
    sender_name: str
    in_group: bool
    created_by: str
    status: str
    next_run_at: float | None
    failures: int
    runs: int
    last_run_at: float | None
    last_result: str | None
    claim_due_at: float | None
    claim_kind: str | None
    claim_missed: int
    claim_turn_id: int | None
    created_at: float
    updated_at: float

    @property
    def to(self) -> str:
        """Where it is delivered, as `agentbox cron add --to` takes it: `telegram:4242`, `slack:C1:1700.1`."""
        return ":".join(part for part in (self.channel, self.chat_id, self.thread_id) if part)

    @property
    def address(self) -> Address | None:
        """The chat to deliver to; None for a terminal session (`cli:`), which has no chat."""
        if self.channel == "cli":
            return None
        return Address(self.channel, self.chat_id, self.thread_id)


def _schedule(row: aiosqlite.Row) -> Schedule:
    values: dict[str, Any] = dict(row)
    values["in_group"] = bool(values["in_group"])
    return Schedule(**values)


class ScheduleRepo:
    """The `schedules` table (claimed one run at a time, see the module docstring) and `person_timezones`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    # -- create, read ------------------------------------------------------------------
    async def add(self, new: NewSchedule) -> Schedule:
        ts = now()
        cursor = await run(
            self._conn,
            "INSERT INTO schedules(kind, message, rule_kind, rule, anchor_at, timezone, until_at, channel, chat_id,"
            " thread_id, session_key, agent, sender_id, sender_name, in_group, created_by, next_run_at, created_at,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                new.kind,
                new.message,
                new.rule_kind,
                new.rule,
                new.anchor_at,
                new.timezone,
                new.until_at,
                new.channel,
                new.chat_id,
                new.thread_id,
                new.session_key,
                new.agent,
                new.sender_id,
                new.sender_name,
                int(new.in_group),
                new.created_by,
                new.next_run_at,
                ts,
                ts,
            ),
        )
        added = await self.get(int(cursor.lastrowid or 0))
        assert added is not None
        return added

    async def get(self, schedule_id: int) -> Schedule | None:
        rows = await self._select("WHERE id = ?", (schedule_id,))
        return rows[0] if rows else None

    async def visible_to(self, channel: str, sender_id: str, dm_session: str | None) -> list[Schedule]:
        """A person's live schedules: those they asked for, and those delivered to their DM session."""
        return await self._select(
            f"WHERE channel = ? AND status IN {_LIVE_SQL} AND (sender_id = ? OR session_key = ?)"
            " ORDER BY next_run_at IS NULL, next_run_at, id",
            (channel, sender_id, dm_session or "\x00"),
        )

    async def count_live(self, channel: str, sender_id: str) -> int:
        """How many active or paused schedules this sender made from chat (their limit counts these)."""
        async with self._conn.execute(
            f"SELECT COUNT(*) FROM schedules WHERE channel = ? AND sender_id = ? AND created_by = 'chat'"
            f" AND status IN {_LIVE_SQL}",
            (channel, sender_id),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def due(self, at: float) -> list[Schedule]:
        """Active schedules whose next run is at or before `at` and that have no run in flight."""
        return await self._select(
            "WHERE status = 'active' AND claim_due_at IS NULL AND next_run_at <= ? ORDER BY next_run_at, id", (at,)
        )

    async def claimed(self) -> list[Schedule]:
        """Runs claimed and not delivered (after a crash: to deliver now)."""
        return await self._select("WHERE claim_due_at IS NOT NULL ORDER BY claim_due_at, id", ())

    async def next_due_at(self) -> float | None:
        """When the next active schedule is due (None: nothing to wait for)."""
        async with self._conn.execute(
            "SELECT MIN(next_run_at) FROM schedules WHERE status = 'active' AND claim_due_at IS NULL"
        ) as cursor:
            row = await cursor.fetchone()
        return float(row[0]) if row and row[0] is not None else None

    # -- the claim ---------------------------------------------------------------------
    async def claim(
        self, schedule_id: int, *, expected: float, due: float, kind: str, missed: int, next_run: float | None
    ) -> bool:
        """Claim the run due at `due` of a schedule still active, due at `expected` and unclaimed; move it on.

        One statement: of any number of tries (tasks, processes), exactly one returns True.
        """
        cursor = await run(
            self._conn,
            "UPDATE schedules SET claim_due_at = ?, claim_kind = ?, claim_missed = ?, claim_turn_id = NULL,"
            " next_run_at = ?, status = CASE WHEN ? IS NULL THEN 'done' ELSE status END, updated_at = ?"
            " WHERE id = ? AND status = 'active' AND claim_due_at IS NULL AND next_run_at = ?",
            (due, kind, missed, next_run, next_run, now(), schedule_id, expected),
        )
        return cursor.rowcount == 1

    async def claim_now(self, schedule_id: int, at: float) -> bool:
        """Claim an extra run now (`agentbox cron run`); the regular runs stay as they are."""
        cursor = await run(
            self._conn,
            "UPDATE schedules SET claim_due_at = ?, claim_kind = 'manual', claim_missed = 0, claim_turn_id = NULL,"
            f" updated_at = ? WHERE id = ? AND claim_due_at IS NULL AND status IN {_LIVE_SQL}",
            (at, now(), schedule_id),
        )
        return cursor.rowcount == 1

    async def set_claim_turn(self, schedule_id: int, due: float, turn_id: int) -> None:
        """The task turn that answered the claim: after a crash its reply is sent, the model not asked again."""
        await run(
            self._conn,
            "UPDATE schedules SET claim_turn_id = ? WHERE id = ? AND claim_due_at = ?",
            (turn_id, schedule_id, due),
        )

    async def finish(self, schedule_id: int, due: float, *, result: str, ok: bool, pause_after: int) -> Schedule | None:
        """Clear the claim (delivered, or given up) and record the result.

        A failed run adds to `failures`; at `pause_after` failures in a row an active schedule is paused.
        """
        ts = now()
        await run(
            self._conn,
            "UPDATE schedules SET claim_due_at = NULL, claim_kind = NULL, claim_missed = 0, claim_turn_id = NULL,"
            " last_run_at = ?, last_result = ?, runs = runs + 1,"
            " failures = CASE WHEN ? THEN 0 ELSE failures + 1 END,"
            " status = CASE WHEN NOT ? AND failures + 1 >= ? AND status = 'active' THEN 'paused' ELSE status END,"
            " updated_at = ? WHERE id = ? AND claim_due_at = ?",
            (ts, result, int(ok), int(ok), pause_after, ts, schedule_id, due),
        )
        return await self.get(schedule_id)

    # -- owner and person changes ------------------------------------------------------
    async def set_status(self, schedule_id: int, status: str, *, next_run_at: float | None = None) -> bool:
        """Pause, resume (with its next run) or cancel a live schedule; False if it is not live."""
        if status == "active":
            sql = "UPDATE schedules SET status = 'active', next_run_at = ?, failures = 0, updated_at = ?"
            params: tuple[Any, ...] = (next_run_at, now())
        else:
            sql, params = "UPDATE schedules SET status = ?, updated_at = ?", (status, now())
        cursor = await run(self._conn, f"{sql} WHERE id = ? AND status IN {_LIVE_SQL}", (*params, schedule_id))
        return cursor.rowcount == 1

    async def timezone_of(self, channel: str, sender_id: str) -> str | None:
        async with self._conn.execute(
            "SELECT timezone FROM person_timezones WHERE channel = ? AND sender_id = ?", (channel, sender_id)
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def set_timezone(self, channel: str, sender_id: str, timezone: str) -> None:
        await run(
            self._conn,
            "INSERT INTO person_timezones(channel, sender_id, timezone, updated_at) VALUES (?,?,?,?)"
            " ON CONFLICT(channel, sender_id) DO UPDATE SET timezone = excluded.timezone,"
            " updated_at = excluded.updated_at",
            (channel, sender_id, timezone, now()),
        )

    async def _select(self, where: str, params: tuple[Any, ...]) -> list[Schedule]:
        async with self._conn.execute(f"SELECT * FROM schedules {where}", params) as cursor:
            rows = await cursor.fetchall()
        return [_schedule(row) for row in rows]

    # last: a method named `list` shadows the builtin in annotations below it
    async def list(self, *, statuses: Sequence[str] = LIVE, limit: int | None = None) -> list[Schedule]:
        """Schedules in `statuses` (default: active and paused), next run first; for the CLI and the web panel."""
        marks = ",".join("?" * len(statuses))
        tail = f" LIMIT {int(limit)}" if limit else ""
        return await self._select(
            f"WHERE status IN ({marks}) ORDER BY next_run_at IS NULL, next_run_at, id{tail}", tuple(statuses)
        )
