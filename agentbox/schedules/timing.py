"""When a schedule runs: reading `when`/`repeat`/`until`, and the next run after an instant, DST-safe.

Three rules, each computed in the schedule's own timezone:

- `at`: once, at one instant (an ISO 8601 time, a duration from now such as `20m`, or `09:00`);
- `every`: an interval from a first run. Hours, minutes and seconds are exact elapsed time; days
  and weeks are calendar steps on the local clock, so "every 1d from 09:00" stays at 09:00 local
  across a daylight-saving change (the day in between is 23 or 25 hours long);
- `cron`: a 5-field cron expression (croniter) matched against the local wall clock.

Local times that do not exist (the hour skipped in spring) run at the same offset past the
change (02:30 becomes 03:30); local times that happen twice (autumn) run once, the first time.
Instants are float epoch seconds everywhere; only this module turns them into local datetimes.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentbox.errors import AgentboxError

RuleKind = Literal["at", "every", "cron"]
MAX_WALK = 10_000  # occurrences counted one by one when catching up; beyond, "more than"
_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)")
_DURATION = re.compile(r"^(?:\s*\d+\s*[a-z]+\s*,?)+$")
_ISO_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class ScheduleError(AgentboxError, ValueError):
    """A schedule cannot be made or changed as asked: a bad time, a rule under a limit, an unknown id.

    The message is for the person who asked (or the model, which passes it on).
    """

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time: calendar `days` (local clock) plus exact `seconds`."""

    days: int = 0
    seconds: int = 0

    @property
    def approx_seconds(self) -> int:
        return self.days * 86400 + self.seconds

    def after(self, instant: float, tz: dt.tzinfo) -> float:
        """`instant` plus this duration: days on the local wall clock, then exact seconds."""
        if not self.days:
            return instant + self.seconds
        wall = local(instant, tz).replace(tzinfo=None) + dt.timedelta(days=self.days)
        return from_wall(wall, tz) + self.seconds

    def times(self, count: int) -> Duration:
        return Duration(self.days * count, self.seconds * count)

    def text(self) -> str:
        parts = []
        weeks, days = divmod(self.days, 7)
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        for value, unit in ((weeks, "w"), (days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")):
            if value:
                parts.append(f"{value}{unit}")
        return "".join(parts) or "0s"


def parse_duration(text: str) -> Duration | None:
    """`20m`, `2h`, `1d`, `1h30m`, `90 seconds`, `1w`, or ISO 8601 `PT20M`; None if `text` is not one."""
    cleaned = text.strip().lower()
    iso = _ISO_DURATION.match(text.strip().upper())
    if iso and any(iso.groups()):
        weeks, days, hours, minutes, seconds = (int(group or 0) for group in iso.groups())
        return Duration(weeks * 7 + days, hours * 3600 + minutes * 60 + seconds)
    if not cleaned or not _DURATION.match(cleaned):
        return None
    days = seconds = 0
    for amount, unit in _DURATION_PART.findall(cleaned):
        size = _UNITS.get(unit)
        if size is None:
            return None
        if size >= 86400:
            days += int(amount) * size // 86400
        else:
            seconds += int(amount) * size
    return Duration(days, seconds)


# -- timezones -------------------------------------------------------------------------
def zone(name: str) -> ZoneInfo:
    """The IANA timezone `name`; ScheduleError naming the problem if there is none."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown timezone {name!r}: use an IANA name such as 'Europe/Paris' or 'UTC'") from None


def machine_timezone() -> str:
    """This machine's IANA timezone name (TZ, /etc/localtime, /etc/timezone), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in candidates:
        if name and not name.startswith("/"):
            try:
                ZoneInfo(name)
                return name
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return "UTC"


def local(instant: float, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(instant, tz)


def from_wall(wall: dt.datetime, tz: dt.tzinfo) -> float:
    """The instant a naive local wall time means in `tz` (fold 0: a skipped time moves past the gap)."""
    return wall.replace(tzinfo=tz, fold=0).timestamp()


def iso(instant: float, tz: dt.tzinfo) -> str:
    """ISO 8601 with the local offset, to the second: `2026-12-01T09:00:00+01:00`."""
    return local(instant, tz).isoformat(timespec="seconds")


# -- rules -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rule:
    """When a schedule runs: once `at` an instant, `every` interval from `anchor`, or on a `cron` expression."""

    kind: RuleKind
    text: str  # at: "" ; every: the interval ("1d"); cron: the expression
    anchor: float | None = None  # at: the instant; every: the first run

    def next_after(self, after: float, tz: dt.tzinfo) -> float | None:
        """The first run strictly after `after`; None when there is none left."""
        if self.kind == "at":
            return self.anchor if self.anchor is not None and self.anchor > after else None
        if self.kind == "every":
            return _next_interval(self, after, tz)
        return _next_cron(self.text, after, tz)

    def describe(self) -> str:
        """How it repeats, in words: `once`, `every 1d`, `cron 0 8 * * 1-5`."""
        if self.kind == "at":
            return "once"
        return f"every {self.text}" if self.kind == "every" else f"cron {self.text}"


def _next_interval(rule: Rule, after: float, tz: dt.tzinfo) -> float | None:
    step = parse_duration(rule.text)
    if step is None or step.approx_seconds <= 0 or rule.anchor is None:
        return None
    if rule.anchor > after:
        return rule.anchor
    # Jump close (days vary by an hour at most across DST), then step to the first run after `after`.
    count = max(0, math.floor((after - rule.anchor) / step.approx_seconds) - 1)
    while (candidate := step.times(count).after(rule.anchor, tz)) <= after:
        count += 1
    return candidate


def _next_cron(expression: str, after: float, tz: dt.tzinfo) -> float | None:
    from croniter import croniter  # only schedules with a cron rule pay for the import

    wall = local(after, tz).replace(tzinfo=None)
    iterator = croniter(expression, wall)
    for _ in range(MAX_WALK):
        candidate = from_wall(iterator.get_next(dt.datetime), tz)
        if candidate > after:  # a run moved past a skipped hour can land before the next wall time
            return candidate
    return None


def check_cron(expression: str) -> str:
    """The expression, normalized; ScheduleError unless it is a valid 5-field cron expression."""
    from croniter import croniter

    fields = expression.split()
    if len(fields) != 5 or not croniter.is_valid(" ".join(fields)):
        raise ScheduleError(
            f"{expression!r} is not a 5-field cron expression (minute hour day-of-month month day-of-week, "
            "e.g. '0 8 * * 1-5' for 08:00 on weekdays)"
        )
    return " ".join(fields)


def looks_like_cron(text: str) -> bool:
    fields = text.split()
    shaped = len(fields) == 5 and all(re.fullmatch(r"[\d*/,\-A-Za-z?#]+", field) for field in fields)
    return shaped and any(ch.isdigit() or ch == "*" for ch in text)


def shortest_gap(rule: Rule, start: float, tz: dt.tzinfo, *, samples: int = 50) -> float | None:
    """The shortest time between two runs among the next `samples` (None for a one-off)."""
    if rule.kind == "at":
        return None
    if rule.kind == "every":
        step = parse_duration(rule.text)
        return float(step.approx_seconds) if step is not None else None
    previous = rule.next_after(start, tz)
    gaps: list[float] = []
    for _ in range(samples):
        if previous is None:
            break
        following = rule.next_after(previous, tz)
        if following is None:
            break
        gaps.append(following - previous)
        previous = following
    return min(gaps) if gaps else None
