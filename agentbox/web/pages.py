"""The read-only pages: landing, access, sessions and transcripts, usage, operations.

Each works without JavaScript; the script only refreshes the pending list and tails the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from agentbox.channels import CHANNELS
from agentbox.gateway.control import Route
from agentbox.humanize import money
from agentbox.turn.caps import caps_status
from agentbox.turn.usage import DAY, DailyUsage, usage_by_day, utc_day_start
from agentbox.web import charts
from agentbox.web.auth import CSRF_FIELD, session_of
from agentbox.web.logtail import last_lines
from agentbox.web.queries import extras_by_turn, job_links, search_transcripts, with_links
from agentbox.web.render import page, tokens
from agentbox.web.state import PanelState

log = logging.getLogger(__name__)

USAGE_DAYS = 30
SESSIONS_PER_PAGE = 100
CHART_SERIES = 5  # the biggest models or senders; the rest are summed as "other"


@dataclass(frozen=True, slots=True)
class ChannelAccess:
    """One channel's access picture: policy, who waits, who is in, which groups are open."""

    name: str
    enabled: bool
    dm_policy: str
    allow_from: list[str]
    pending: list[Any]
    allowed: list[Any]
    group_requests: list[Any]
    groups: list[Any]
    config_groups: list[str]
    refused: dict[str, int]


def last_days(now: float, count: int = USAGE_DAYS) -> list[str]:
    start = utc_day_start(now) - (count - 1) * DAY
    return [datetime.fromtimestamp(start + i * DAY, UTC).date().isoformat() for i in range(count)]


def fold_series(rows: list[DailyUsage], days: list[str], value: str) -> list[charts.Series]:
    """Per-key series over `days` (`value`: "usd" or "tokens"), the biggest first, the rest as "other"."""
    index = {day: i for i, day in enumerate(days)}
    per_key: dict[str, list[float]] = {}
    for row in rows:
        if row.day in index:
            amount = row.usd if value == "usd" else row.input_tokens + row.output_tokens
            per_key.setdefault(row.key, [0.0] * len(days))[index[row.day]] += amount
    ranked = sorted(per_key.items(), key=lambda item: (-sum(item[1]), item[0]))
    series = [charts.Series(key, values) for key, values in ranked[:CHART_SERIES]]
    if rest := ranked[CHART_SERIES:]:
        series.append(charts.Series("other", [sum(values[i] for _, values in rest) for i in range(len(days))]))
    return series


def _totals(rows: list[DailyUsage], group: Callable[[DailyUsage], str]) -> dict[str, dict[str, Any]]:
    """Turns, tokens in and out, and cost summed per `group(row)` (a model or sender, or a day)."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = merged.setdefault(group(row), {"turns": 0, "input": 0, "output": 0, "usd": 0.0})
        entry["turns"] += row.turns
        entry["input"] += row.input_tokens
        entry["output"] += row.output_tokens
        entry["usd"] += row.usd
    return merged


def totals_by_key(rows: list[DailyUsage]) -> list[dict[str, Any]]:
    merged = [{"key": key, **entry} for key, entry in _totals(rows, lambda row: row.key).items()]
    return sorted(merged, key=lambda e: (-e["usd"], -e["input"] - e["output"], e["key"]))


def totals_by_day(rows: list[DailyUsage], days: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Each of `days`, newest first, with its totals (zero on a day without turns)."""
    merged = _totals(rows, lambda row: row.day)
    zero = {"turns": 0, "input": 0, "output": 0, "usd": 0.0}
    return [(day, merged.get(day, zero)) for day in reversed(days)]


class Pages:
    """GET handlers of the read-only pages."""

    def __init__(self, state: PanelState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/", self.landing),
            Route("GET", "/ui/fragments/attention", self.attention),
            Route("GET", "/ui/access", self.access),
            Route("GET", "/ui/sessions", self.sessions),
            Route("GET", "/ui/sessions/{key:.+}", self.transcript),
            Route("GET", "/ui/usage", self.usage),
            Route("GET", "/ui/ops", self.operations),
        ]

    # -- landing ---------------------------------------------------------------------
    async def _attention(self) -> dict[str, Any]:
        return {
            "pending": await self.state.gateway.pairing.pending(),
            "group_requests": await self.state.store.groups.requests(),
            "now": time.time(),
        }

    def _connectors(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "state": slot.state, "restarts": slot.restarts}
            for name, slot in self.state.gateway.slots.items()
        ]

    async def landing(self, request: web.Request) -> web.Response:
        spend = await caps_status(self.state.config.limits, self.state.store)
        return await self.state.page(
            request,
            "index.html",
            nav="home",
            title="Home",
            connectors=self._connectors(),
            spend=spend,
            spend_meter=charts.meter(spend.spent_usd, spend.usd_per_day, label="today's spend against the daily cap"),
            **await self._attention(),
        )

    async def attention(self, request: web.Request) -> web.Response:
        """The pending list alone, for the landing page's live refresh."""
        session = session_of(request)
        return page(
            "_attention.html", csrf=session.csrf if session else "", csrf_field=CSRF_FIELD, **await self._attention()
        )

    # -- access ----------------------------------------------------------------------
    async def _channel_access(self, spec: Any) -> ChannelAccess:
        settings = spec.settings_in(self.state.config)
        store = self.state.store
        return ChannelAccess(
            name=spec.name,
            enabled=bool(getattr(settings, "enabled", False)),
            dm_policy=settings.dm_policy,
            allow_from=list(settings.allow_from),
            pending=await self.state.gateway.pairing.pending(spec.name),
            allowed=await store.pairing.allowed(spec.name),
            group_requests=await store.groups.requests(spec.name),
            groups=await store.groups.allowed(spec.name),
            config_groups=list(settings.groups),
            refused=(await store.pairing.refusals(spec.name)).get(spec.name, {}),
        )

    async def access(self, request: web.Request) -> web.Response:
        channels = [await self._channel_access(spec) for spec in CHANNELS]
        shown = [c for c in channels if c.enabled or c.pending or c.allowed or c.groups or c.group_requests]
        return await self.state.page(
            request, "access.html", nav="access", title="Access", channels=shown or channels, now=time.time()
        )

    # -- sessions --------------------------------------------------------------------
    async def sessions(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "").strip()[:200]
        hits = await search_transcripts(self.state.store, query) if query else []
        number = int(request.query["page"]) if request.query.get("page", "").isdigit() else 1
        number = max(number, 1)
        every = [] if query else await self.state.store.sessions.all()
        return await self.state.page(
            request,
            "sessions.html",
            nav="sessions",
            title="Sessions",
            query=query,
            hits=hits,
            sessions=every[(number - 1) * SESSIONS_PER_PAGE : number * SESSIONS_PER_PAGE],
            page_number=number,
            more=len(every) > number * SESSIONS_PER_PAGE,
        )

    async def transcript(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        info = await self.state.store.sessions.get(key)
        if info is None:
            return await self.state.page(
                request, "missing.html", nav="sessions", title="No such session", status=404, what=f"session {key}"
            )
        turns = with_links(await self.state.store.sessions.transcript(key), self.state.config.home / "media")
        return await self.state.page(
            request,
            "transcript.html",
            nav="sessions",
            title=f"Session {key}",
            info=info,
            turns=turns,
            extras=await extras_by_turn(self.state.store, key),
            highlight=request.query.get("turn", ""),
        )

    # -- usage -----------------------------------------------------------------------
    async def usage(self, request: web.Request) -> web.Response:
        now = time.time()
        days = last_days(now)
        since = utc_day_start(now) - (USAGE_DAYS - 1) * DAY
        conn = self.state.store.conn
        by_model = await usage_by_day(conn, "model", since=since)
        by_sender = await usage_by_day(conn, "sender", since=since)
        caps = await caps_status(self.state.config.limits, self.state.store, now=now)
        total_usd = sum(row.usd for row in by_model)
        total_tokens = sum(row.input_tokens + row.output_tokens for row in by_model)
        return await self.state.page(
            request,
            "usage.html",
            nav="usage",
            title="Usage",
            days=days,
            patterns=charts.pattern_defs(),
            **usage_charts(days, by_model, by_sender),
            daily=totals_by_day(by_model, days),
            models=totals_by_key(by_model),
            senders=totals_by_key(by_sender),
            total_usd=total_usd,
            total_tokens=total_tokens,
            caps=caps,
            total_meter=charts.meter(caps.spent_usd, caps.usd_per_day, label="today's spend against the daily cap"),
        )

    # -- operations ------------------------------------------------------------------
    async def operations(self, request: web.Request) -> web.Response:
        skills = await asyncio.to_thread(_skill_rows, self.state.config)
        jobs = await self.state.store.jobs.list(limit=30)
        return await self.state.page(
            request,
            "ops.html",
            nav="ops",
            title="Operations",
            connectors=self._connectors(),
            jobs=jobs,
            job_links=job_links(jobs, self.state.config.home / "media"),
            schedules=await self.schedules(),
            skills=skills,
            log_lines=await asyncio.to_thread(last_lines, 60),
            now=time.time(),
        )

    async def schedules(self) -> list[dict[str, Any]]:
        """Active and paused reminders and tasks, next run first (the shape `agentbox cron list` shows)."""
        from agentbox.schedules.describe import as_json

        rows = [as_json(schedule) for schedule in await self.state.store.schedules.list(limit=50)]
        return [
            {
                "name": f"#{row['id']} {row['kind']} to {row['to']}: {row['message'][:80]} ({row['schedule']})",
                "next": f"paused, next {row['next_run']}" if row["status"] == "paused" else f"next {row['next_run']}",
            }
            for row in rows
        ]


def usage_charts(days: list[str], by_model: list[DailyUsage], by_sender: list[DailyUsage]) -> dict[str, Any]:
    """The Usage page's charts, in page order: spend and tokens per day, by model and by sender."""
    token_series = [
        charts.Series("input tokens", _per_day(by_model, days, lambda r: r.input_tokens)),
        charts.Series("output tokens", _per_day(by_model, days, lambda r: r.output_tokens)),
    ]
    shown = [
        ("Spend per day, by model", fold_series(by_model, days, "usd"), "Spend per day by model (USD)", money),
        ("Spend per day, by sender", fold_series(by_sender, days, "usd"), "Spend per day by sender (USD)", money),
        ("Tokens per day, input and output", token_series, "Tokens per day", tokens),
        ("Tokens per day, by model", fold_series(by_model, days, "tokens"), "Tokens per day by model", tokens),
        ("Tokens per day, by sender", fold_series(by_sender, days, "tokens"), "Tokens per day by sender", tokens),
    ]
    return {
        "charts": [
            {
                "title": title,
                "chart": charts.stacked_bars(days, series, label=label, fmt=fmt),
                "legend": charts.legend(series, fmt),
            }
            for title, series, label, fmt in shown
        ]
    }


def _per_day(rows: list[DailyUsage], days: list[str], value: Any) -> list[float]:
    index = {day: i for i, day in enumerate(days)}
    out = [0.0] * len(days)
    for row in rows:
        if row.day in index:
            out[index[row.day]] += value(row)
    return out


def _skill_rows(config: Any) -> list[dict[str, Any]]:
    """Every skill with its status and, when it cannot run, why and the fix (read from disk: off the loop)."""
    from agentbox.skillkit import SkillRegistry

    registry = SkillRegistry(config)
    rows = []
    for skill in sorted(registry.skills().values(), key=lambda s: s.name):
        rows.append(
            {
                "name": skill.name,
                "source": skill.source,
                "status": skill.status,
                "summary": skill.summary(100),
                "reason": skill.error or skill.reason or "",
                "fix": skill.fix or "",
            }
        )
    return rows
