"""`when`, `repeat` and `until` as people and models write them → a `Timing` (a rule and its first run).

The tool and the CLI resolve relative and local times here, against the clock and the person's
timezone, so the absolute time a confirmation shows never depends on a model's arithmetic.

    when    ISO 8601 time ("2026-12-01T09:00", local unless it carries an offset), "09:00" (the next
            one), a duration from now ("20m", "2h", "1d", "1h30m", "PT20M"), or a 5-field cron expression
    repeat  a duration ("30m", "1d", "1w"), "hourly", "daily", "weekly", "weekdays", "monthly", or a
            cron expression; leave it out for a one-off
    until   an ISO 8601 time or date (a date means the end of that day), or a duration from now
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from agentbox.schedules.timing import (
    Rule,
    ScheduleError,
    check_cron,
    from_wall,
    iso,
    local,
    looks_like_cron,
    parse_duration,
)

_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_WORDS = {"hourly": "1h", "daily": "1d", "weekly": "1w"}


@dataclass(frozen=True, slots=True)
class Timing:
    """A resolved schedule time: the rule, its first run and an optional end (epoch seconds)."""

    rule: Rule
    first_run: float
    until: float | None = None


def resolve(when: str, *, now: float, tz: dt.tzinfo, repeat: str | None = None, until: str | None = None) -> Timing:
    """Read `when` (+ `repeat`, `until`) against `now` in `tz`; ScheduleError says what is wrong."""
    when = when.strip()
    if not when:
        raise ScheduleError("when is empty: give a time (2026-12-01T09:00), a duration (20m) or a cron expression")
    if looks_like_cron(when):
        if repeat and repeat.strip():
            raise ScheduleError("a cron expression repeats by itself: leave repeat out")
        rule = Rule("cron", check_cron(when))
        first = rule.next_after(now, tz)
    else:
        first = _instant(when, now=now, tz=tz)
        rule = _repeating(first, repeat, tz)
        if rule.kind == "cron":
            first = rule.next_after(first - 1, tz)
    if first is None:
        raise ScheduleError(f"{when!r} never comes")
    end = _until(until, now=now, tz=tz) if rule.kind != "at" else None
    if end is not None and end < first:
        raise ScheduleError(f"until ({iso(end, tz)}) is before the first run ({iso(first, tz)})")
    return Timing(rule, first, end)


def _instant(when: str, *, now: float, tz: dt.tzinfo) -> float:
    """A one-off `when` (duration, clock time, ISO time) as an instant after `now`."""
    if (duration := parse_duration(when)) is not None:
        if duration.approx_seconds <= 0:
            raise ScheduleError("the duration must be longer than zero")
        return duration.after(now, tz)
    if clock := _CLOCK_TIME.match(when):
        today = local(now, tz).replace(tzinfo=None)
        wall = today.replace(hour=int(clock[1]), minute=int(clock[2]), second=0, microsecond=0)
        if from_wall(wall, tz) <= now:
            wall += dt.timedelta(days=1)
        return from_wall(wall, tz)
    instant = _iso_instant(when, tz, field="when")
    if instant <= now:
        raise ScheduleError(f"{when!r} ({iso(instant, tz)}) has already passed; it is now {iso(now, tz)}")
    return instant


def _iso_instant(text: str, tz: dt.tzinfo, *, field: str, date_means_end: bool = False) -> float:
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ScheduleError(
            f"{field} {text!r} is neither an ISO 8601 time (2026-12-01T09:00), a duration (20m, 2h, 1d) "
            "nor a 5-field cron expression"
        ) from None
    if len(text.strip()) == 10:  # a bare date
        if not date_means_end:
            raise ScheduleError(f"{field} {text!r} is a date without a time of day: add one (e.g. {text}T09:00)")
        parsed = parsed.replace(hour=23, minute=59, second=59)
    if parsed.tzinfo is None:
        return from_wall(parsed, tz)
    return parsed.timestamp()


def _repeating(first: float, repeat: str | None, tz: dt.tzinfo) -> Rule:
    text = (repeat or "").strip().lower()
    if not text or text in ("no", "none", "once", "never"):
        return Rule("at", "", anchor=first)
    wall = local(first, tz)
    if text == "weekdays":
        return Rule("cron", f"{wall.minute} {wall.hour} * * 1-5")
    if text == "monthly":
        return Rule("cron", f"{wall.minute} {wall.hour} {wall.day} * *")
    if looks_like_cron(text):
        return Rule("cron", check_cron(text))
    step = parse_duration(_WORDS.get(text, text))
    if step is None or step.approx_seconds <= 0:
        raise ScheduleError(
            f"repeat {repeat!r} is not an interval: use a duration (30m, 1d, 1w), hourly, daily, weekly, "
            "weekdays, monthly or a cron expression"
        )
    return Rule("every", step.text(), anchor=first)


def _until(until: str | None, *, now: float, tz: dt.tzinfo) -> float | None:
    text = (until or "").strip()
    if not text:
        return None
    if (duration := parse_duration(text)) is not None:
        return duration.after(now, tz)
    end = _iso_instant(text, tz, field="until", date_means_end=True)
    if end <= now:
        raise ScheduleError(f"until {text!r} has already passed")
    return end
