"""Tokens and money spent, read from what each turn recorded in the `turns` table.

`usd` is the API's own `meta.usage.usd_spent` (or credits / 2,000,000) when it reported one,
else an estimate from the configured prices (`usd_estimated = 1`); reports keep the two apart.
Days are UTC days, the same window the spending caps use.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiosqlite

GroupBy = Literal["day", "session", "model"]
DAY = 86_400

_GROUP_SQL: dict[str, str] = {
    "day": "date(t.started_at, 'unixepoch')",
    "session": "t.session_key",
    "model": "t.model",
}


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Usage totals for one group of turns (a day, a session or a model): counts, tokens and USD."""

    key: str
    turns: int
    failed: int
    capped: int
    input_tokens: int
    output_tokens: int
    usd: float
    usd_estimated: float  # the part of `usd` that is an estimate, not a reported cost

    @property
    def estimated(self) -> bool:
        return self.usd_estimated > 0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "usd": round(self.usd, 6), "usd_estimated": round(self.usd_estimated, 6)}


def utc_day_start(now: float) -> float:
    return now - now % DAY


def parse_since(value: str, *, now: float) -> float:
    """`YYYY-MM-DD` (UTC midnight), `today`, or `Nd` (the last N UTC days, today included)."""
    value = value.strip().lower()
    if value == "today":
        return utc_day_start(now)
    if match := re.fullmatch(r"(\d+)d", value):
        return utc_day_start(now) - (int(match.group(1)) - 1) * DAY
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"--since {value!r}: use YYYY-MM-DD, today or Nd (e.g. 7d)") from None
    return day.timestamp()


async def usage_by(conn: aiosqlite.Connection, by: GroupBy, *, since: float | None = None) -> list[UsageRow]:
    group = _GROUP_SQL[by]
    order = "key" if by == "day" else "usd DESC, key"
    sql = (
        f"SELECT {group} AS key, COUNT(*) AS turns,"
        " SUM(t.status = 'failed') AS failed, SUM(t.status = 'capped') AS capped,"
        " SUM(t.input_tokens) AS input_tokens, SUM(t.output_tokens) AS output_tokens,"
        " SUM(COALESCE(t.usd, 0)) AS usd,"
        " SUM(CASE WHEN t.usd_estimated THEN COALESCE(t.usd, 0) ELSE 0 END) AS usd_estimated"
        " FROM turns t WHERE t.started_at >= ?"
        f" GROUP BY key ORDER BY {order}"
    )
    async with conn.execute(sql, (since or 0.0,)) as cursor:
        rows = await cursor.fetchall()
    return [
        UsageRow(
            key=str(r["key"]),
            turns=int(r["turns"]),
            failed=int(r["failed"] or 0),
            capped=int(r["capped"] or 0),
            input_tokens=int(r["input_tokens"] or 0),
            output_tokens=int(r["output_tokens"] or 0),
            usd=float(r["usd"] or 0.0),
            usd_estimated=float(r["usd_estimated"] or 0.0),
        )
        for r in rows
    ]


async def spent_since(
    conn: aiosqlite.Connection, since: float, *, channel: str | None = None, sender_id: str | None = None
) -> float:
    """USD recorded by turns started at or after `since`; for one sender when given (channel + id)."""
    if sender_id is None:
        sql, args = "SELECT SUM(COALESCE(usd, 0)) FROM turns WHERE started_at >= ?", (since,)
    else:
        sql = (
            "SELECT SUM(COALESCE(t.usd, 0)) FROM turns t JOIN sessions s ON s.key = t.session_key"
            " WHERE t.started_at >= ? AND t.sender_id = ? AND s.channel = ?"
        )
        args = (since, sender_id, channel or "")  # type: ignore[assignment]
    async with conn.execute(sql, args) as cursor:
        row = await cursor.fetchone()
    return float(row[0] or 0.0) if row else 0.0


async def top_senders(conn: aiosqlite.Connection, since: float, *, limit: int = 10) -> list[tuple[str, str, float]]:
    """(channel, sender_id, usd) of today's biggest spenders, for the caps view."""
    async with conn.execute(
        "SELECT s.channel, t.sender_id, SUM(COALESCE(t.usd, 0)) AS usd FROM turns t"
        " JOIN sessions s ON s.key = t.session_key WHERE t.started_at >= ? AND t.sender_id IS NOT NULL"
        " GROUP BY s.channel, t.sender_id ORDER BY usd DESC LIMIT ?",
        (since, limit),
    ) as cursor:
        rows = await cursor.fetchall()
    return [(str(r[0]), str(r[1]), float(r[2] or 0.0)) for r in rows]


def next_reset(now: float) -> datetime:
    return datetime.fromtimestamp(utc_day_start(now), UTC) + timedelta(days=1)


DayKey = Literal["model", "sender"]
_DAY_KEY_SQL: dict[str, str] = {
    "model": "t.model",
    "sender": "COALESCE(s.channel, '') || ':' || COALESCE(t.sender_id, '-')",
}


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """One day's usage for one model or sender (`channel:sender_id`), for the web panel's charts."""

    day: str  # YYYY-MM-DD (UTC)
    key: str
    turns: int
    input_tokens: int
    output_tokens: int
    usd: float


async def usage_by_day(conn: aiosqlite.Connection, by: DayKey, *, since: float) -> list[DailyUsage]:
    """Usage per UTC day and per model or sender since `since`, ordered by day then key."""
    sql = (
        # `grp`, not `key`: GROUP BY would take the sessions table's own `key` column.
        f"SELECT date(t.started_at, 'unixepoch') AS day, {_DAY_KEY_SQL[by]} AS grp, COUNT(*) AS turns,"
        " SUM(t.input_tokens) AS input_tokens, SUM(t.output_tokens) AS output_tokens,"
        " SUM(COALESCE(t.usd, 0)) AS usd"
        " FROM turns t LEFT JOIN sessions s ON s.key = t.session_key WHERE t.started_at >= ?"
        " GROUP BY day, grp ORDER BY day, grp"
    )
    async with conn.execute(sql, (since,)) as cursor:
        rows = await cursor.fetchall()
    return [
        DailyUsage(
            day=str(r["day"]),
            key=str(r["grp"]),
            turns=int(r["turns"]),
            input_tokens=int(r["input_tokens"] or 0),
            output_tokens=int(r["output_tokens"] or 0),
            usd=float(r["usd"] or 0.0),
        )
        for r in rows
    ]
