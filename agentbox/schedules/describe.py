"""Schedules in words and JSON: the confirmation, list lines, the late mark, and the `cron list --json` shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

from agentbox.schedules.timing import Duration, Rule, iso, local, parse_duration, zone
from agentbox.store.schedules import Schedule

_EVERY_WORDS = {"1h": "every hour", "1d": "every day", "1w": "every week"}
_WEEKDAYS = "1-5"


def rule_of(schedule: Schedule) -> Rule:
    return Rule(schedule.rule_kind, schedule.rule, schedule.anchor_at)  # type: ignore[arg-type]


def moment(instant: float, tz_name: str, *, now: float | None = None) -> str:
    """`Tue 1 Dec at 09:00 Europe/Paris` (the year when it is not this year's)."""
    tz = zone(tz_name)
    when = local(instant, tz)
    this_year = local(now, tz).year if now is not None else when.year
    day = f"{when:%a} {when.day} {when:%b}" + (f" {when.year}" if when.year != this_year else "")
    clock = f"{when:%H:%M:%S}" if now is not None and 0 < instant - now < 120 else f"{when:%H:%M}"
    return f"{day} at {clock} {tz_name}"


def short_moment(instant: float, tz_name: str, *, now: float) -> str:
    """`09:00` today (local), else `Tue 1 Dec 09:00`: for the late mark."""
    tz = zone(tz_name)
    when, today = local(instant, tz), local(now, tz)
    if when.date() == today.date():
        return f"{when:%H:%M}"
    return f"{when:%a} {when.day} {when:%b} {when:%H:%M}"


def compact(instant: float, tz_name: str) -> str:
    """`Tue 1 Dec 09:00 CET`: for tables."""
    when = local(instant, zone(tz_name))
    return f"{when:%a} {when.day} {when:%b} {when:%H:%M} {when:%Z}"


def in_words(seconds: float) -> str:
    """`in 20 min`, `in 3 h`, `in 2 days`."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"in {round(seconds)} s"
    if seconds < 90 * 60:
        return f"in {round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"in {seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"in {round(seconds / 86400)} days"


def repeats(schedule: Schedule) -> str:
    """How it repeats, for people: `once`, `every day`, `every 30m`, `on cron 0 8 * * 1-5`."""
    if schedule.rule_kind == "at":
        return "once"
    if schedule.rule_kind == "every":
        step = parse_duration(schedule.rule) or Duration()
        return _EVERY_WORDS.get(step.text(), f"every {step.text()}")
    fields = schedule.rule.split()
    if len(fields) == 5 and fields[2:] == ["*", "*", _WEEKDAYS] and fields[0].isdigit() and fields[1].isdigit():
        return f"every weekday at {int(fields[1]):02d}:{int(fields[0]):02d}"
    return f"on cron {schedule.rule}"


def line(schedule: Schedule, *, now: float) -> str:
    """One line per schedule for /reminders and list_schedules."""
    if schedule.status == "paused":
        when = "paused"
    elif schedule.next_run_at is not None:
        when = f"next {moment(schedule.next_run_at, schedule.timezone, now=now)}"
    else:
        when = "no run left"
    text = schedule.message if len(schedule.message) <= 80 else schedule.message[:79] + "…"
    until = f" until {moment(schedule.until_at, schedule.timezone, now=now)}" if schedule.until_at else ""
    return f"#{schedule.id} {schedule.kind}, {repeats(schedule)}{until}: {when} — {text}"


def confirmation(schedule: Schedule, *, now: float, tz_source: str) -> str:
    """What the schedule tool answers: the absolute local time the model must confirm with."""
    assert schedule.next_run_at is not None
    first = moment(schedule.next_run_at, schedule.timezone, now=now)
    rhythm = "" if schedule.rule_kind == "at" else f", then {repeats(schedule)}"
    until = f" until {moment(schedule.until_at, schedule.timezone, now=now)}" if schedule.until_at else ""
    what = "send this reminder" if schedule.kind == "reminder" else "run this task"
    return (
        f"Scheduled #{schedule.id} ({schedule.kind}): I will {what} on {first} "
        f"({in_words(schedule.next_run_at - now)}){rhythm}{until}. Timezone: {schedule.timezone} ({tz_source}). "
        f"Confirm to the person with exactly this time, and that /cancel {schedule.id} cancels it."
    )


def late_mark(due: float, tz_name: str, *, now: float, late: bool, missed: int) -> str:
    """`(late: due 09:00)` and/or how many earlier runs were missed while the gateway was down; "" if neither."""
    parts = [f"late: due {short_moment(due, tz_name, now=now)}"] if late else []
    if missed:
        parts.append(f"{missed} earlier run{'s' if missed != 1 else ''} missed while I was offline")
    return f"({'; '.join(parts)})" if parts else ""


def as_json(schedule: Schedule) -> dict[str, Any]:
    """The shape of `agentbox cron list --json` and `cron add --json` (and the web panel's list)."""
    tz = zone(schedule.timezone)
    return {
        "id": schedule.id,
        "kind": schedule.kind,
        "schedule": _rule_text(schedule, tz),
        "next_run": iso(schedule.next_run_at, tz) if schedule.next_run_at is not None else None,
        "to": schedule.to,
        "status": schedule.status,
        "message": schedule.message,
        "timezone": schedule.timezone,
        "until": iso(schedule.until_at, tz) if schedule.until_at is not None else None,
        "agent": schedule.agent,
        "session": schedule.session_key,
        "sender": schedule.sender_id or None,
        "created_by": schedule.created_by,
        "runs": schedule.runs,
        "failures": schedule.failures,
        "last_run": iso(schedule.last_run_at, tz) if schedule.last_run_at is not None else None,
        "last_result": schedule.last_result,
        "created_at": iso(schedule.created_at, tz),
    }


def _rule_text(schedule: Schedule, tz: dt.tzinfo) -> str:
    """`at 2026-12-01T09:00:00+01:00`, `every 1d from 2026-12-01T09:00:00+01:00`, `cron 0 8 * * 1-5`."""
    if schedule.rule_kind == "cron":
        return f"cron {schedule.rule}"
    anchor = iso(schedule.anchor_at, tz) if schedule.anchor_at is not None else "?"
    return f"at {anchor}" if schedule.rule_kind == "at" else f"every {schedule.rule} from {anchor}"
