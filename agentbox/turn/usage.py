"""Tokens and money spent, read from what each turn recorded in the `turns` table, plus the `spend`
rows of calls made outside any turn (speech-to-text before a turn, text-to-speech after it).

`usd` is the API's own `meta.usage.usd_spent` (or credits / 2,000,000) when it reported one,
else an estimate from the configured prices (`usd_estimated = 1`); reports keep the two apart.
Days are UTC days, the same window the spending caps use. `usage_by_kind` splits the money by
kind of call: chat (what turns cost, less their tools' parts), stt, tts, image, video, other.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiosqlite

from agentbox.store.spend import SpendRecord, SpendRepo

GroupBy = Literal["day", "session", "model"]
DAY = 86_400

_GROUP_SQL: dict[str, str] = {
    "day": "date(t.started_at, 'unixepoch')",
    "session": "t.session_key",
    "model": "t.model",
}
_SPEND_GROUP_SQL: dict[str, str] = {
    "day": "date(s.created_at, 'unixepoch')",
    "session": "COALESCE(s.session_key, '')",
    "model": "s.model",
}
# Spend outside any turn, as rows shaped like turns (no tokens, not a turn): usage and caps add them up.
_OUTSIDE_TURNS = "FROM spend s WHERE s.turn_id IS NULL AND s.created_at >= ?"


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Usage totals for one group of turns (a day, a session or a model): counts, tokens and USD."""

    key: str
    turns: int
    failed: int
    capped: int
    fallbacks: int  # turns a fallback model answered (`[agents.<name>] fallbacks`)
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
    order = "key" if by == "day" else "usd DESC, key"
    sql = (
        "SELECT key, SUM(turn) AS turns, SUM(failed) AS failed, SUM(capped) AS capped, SUM(fallback) AS fallbacks,"
        " SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,"
        " SUM(usd) AS usd, SUM(CASE WHEN estimated THEN usd ELSE 0 END) AS usd_estimated FROM ("
        f" SELECT {_GROUP_SQL[by]} AS key, 1 AS turn, t.status = 'failed' AS failed, t.status = 'capped' AS capped,"
        " t.fallback_from IS NOT NULL AS fallback,"
        " t.input_tokens, t.output_tokens, COALESCE(t.usd, 0) AS usd, t.usd_estimated AS estimated"
        " FROM turns t WHERE t.started_at >= ?"
        f" UNION ALL SELECT {_SPEND_GROUP_SQL[by]}, 0, 0, 0, 0, 0, 0, s.usd, s.usd_estimated {_OUTSIDE_TURNS}"
        f") GROUP BY key ORDER BY {order}"
    )
    async with conn.execute(sql, (since or 0.0, since or 0.0)) as cursor:
        rows = await cursor.fetchall()
    return [
        UsageRow(
            key=str(r["key"]),
            turns=int(r["turns"]),
            failed=int(r["failed"] or 0),
            capped=int(r["capped"] or 0),
            fallbacks=int(r["fallbacks"] or 0),
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
    """USD recorded since `since` (turns, and speech calls outside them); for one sender when given (channel + id)."""
    if sender_id is None:
        sql = (
            "SELECT (SELECT SUM(COALESCE(usd, 0)) FROM turns WHERE started_at >= ?),"
            f" (SELECT SUM(s.usd) {_OUTSIDE_TURNS})"
        )
        args: tuple[Any, ...] = (since, since)
    else:
        sql = (
            "SELECT (SELECT SUM(COALESCE(t.usd, 0)) FROM turns t JOIN sessions s ON s.key = t.session_key"
            " WHERE t.started_at >= ? AND t.sender_id = ? AND s.channel = ?),"
            f" (SELECT SUM(s.usd) {_OUTSIDE_TURNS} AND s.sender_id = ? AND s.channel = ?)"
        )
        args = (since, sender_id, channel or "", since, sender_id, channel or "")
    async with conn.execute(sql, args) as cursor:
        row = await cursor.fetchone()
    return float(row[0] or 0.0) + float(row[1] or 0.0) if row else 0.0


async def top_senders(conn: aiosqlite.Connection, since: float, *, limit: int = 10) -> list[tuple[str, str, float]]:
    """(channel, sender_id, usd) of today's biggest spenders, for the caps view."""
    async with conn.execute(
        "SELECT channel, sender_id, SUM(usd) AS usd FROM ("
        " SELECT s.channel, t.sender_id, COALESCE(t.usd, 0) AS usd FROM turns t"
        " JOIN sessions s ON s.key = t.session_key WHERE t.started_at >= ? AND t.sender_id IS NOT NULL"
        f" UNION ALL SELECT s.channel, s.sender_id, s.usd {_OUTSIDE_TURNS} AND s.sender_id IS NOT NULL"
        ") GROUP BY channel, sender_id ORDER BY usd DESC LIMIT ?",
        (since, since, limit),
    ) as cursor:
        rows = await cursor.fetchall()
    return [(str(r[0]), str(r[1]), float(r[2] or 0.0)) for r in rows]


@dataclass(frozen=True, slots=True)
class KindRow:
    """Money spent on one kind of call (chat, stt, tts, image, video, other) and how much of it is estimated."""

    kind: str
    usd: float
    usd_estimated: float

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "usd": round(self.usd, 6), "usd_estimated": round(self.usd_estimated, 6)}


async def usage_by_kind(conn: aiosqlite.Connection, *, since: float | None = None) -> list[KindRow]:
    """USD per kind since `since`: turns count as chat, less the parts their tools spent on other kinds."""
    since = since or 0.0
    sql = (
        "SELECT kind, SUM(usd) AS usd, SUM(estimated) AS usd_estimated FROM ("
        " SELECT 'chat' AS kind, COALESCE(t.usd, 0) AS usd,"
        " CASE WHEN t.usd_estimated THEN COALESCE(t.usd, 0) ELSE 0 END AS estimated"
        " FROM turns t WHERE t.started_at >= ?"
        " UNION ALL SELECT 'chat', -s.usd, 0 FROM spend s WHERE s.turn_id IS NOT NULL AND s.created_at >= ?"
        " UNION ALL SELECT s.kind, s.usd, CASE WHEN s.usd_estimated THEN s.usd ELSE 0 END"
        " FROM spend s WHERE s.created_at >= ?"
        ") GROUP BY kind ORDER BY usd DESC, kind"
    )
    async with conn.execute(sql, (since, since, since)) as cursor:
        rows = await cursor.fetchall()
    found = [KindRow(str(r["kind"]), max(0.0, float(r["usd"] or 0.0)), float(r["usd_estimated"] or 0.0)) for r in rows]
    return [row for row in found if row.usd > 0 or row.kind == "chat"]


def next_reset(now: float) -> datetime:
    return datetime.fromtimestamp(utc_day_start(now), UTC) + timedelta(days=1)


async def record_turn_parts(
    repo: SpendRepo, turn_id: int, kinds: dict[str, float], session_key: str, channel: str, sender_id: str | None
) -> None:
    """Break a recorded turn's cost down: what its tools' calls (image, tts, ...) cost, as `spend` rows."""
    await repo.add(
        *[
            SpendRecord(kind, usd, session_key=session_key, channel=channel, sender_id=sender_id, turn_id=turn_id)
            for kind, usd in kinds.items()
        ]
    )


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
