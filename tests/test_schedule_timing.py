"""When schedules run: `when`/`repeat`/`until` as people write them, and next runs across DST, on an injected clock."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentbox.schedules.timing import Duration, Rule, ScheduleError, parse_duration, shortest_gap
from agentbox.schedules.when import resolve

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: dt.tzinfo = PARIS) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()


def runs(rule: Rule, start: float, count: int, tz: dt.tzinfo = PARIS) -> list[dt.datetime]:
    found, after = [], start
    for _ in range(count):
        nxt = rule.next_after(after, tz)
        assert nxt is not None
        found.append(dt.datetime.fromtimestamp(nxt, tz))
        after = nxt
    return found


@pytest.mark.parametrize("when", ["0 9 * * *", "09:00"])
@pytest.mark.parametrize(("change", "offsets"), [((2026, 3, 29), (1, 2, 2, 2)), ((2026, 10, 25), (2, 1, 1, 1))])
def test_a_daily_nine_oclock_paris_schedule_stays_at_nine_local_across_the_dst_change(
    when: str, change: tuple[int, int, int], offsets: tuple[int, ...]
) -> None:
    now = at(*change, 12) - 2 * 86400  # noon, two days before the change
    timing = resolve(when, now=now, tz=PARIS, repeat=None if when.startswith("0 ") else "daily")
    first = dt.datetime.fromtimestamp(timing.first_run, PARIS)
    later = runs(timing.rule, timing.first_run, 3)
    days = [first, *later]
    assert [(d.hour, d.minute) for d in days] == [(9, 0)] * 4
    assert [d.day for d in days] == [change[2] - 1 + i for i in range(4)]
    assert [int(d.utcoffset().total_seconds()) // 3600 for d in days] == list(offsets)  # type: ignore[union-attr]
    utc_hours = [d.astimezone(dt.UTC).hour for d in days]
    assert utc_hours == [9 - offset for offset in offsets]


def test_hours_are_elapsed_time_across_dst_and_days_are_calendar_days() -> None:
    start = at(2026, 3, 28, 20)
    hourly = Rule("every", "1h", anchor=start)
    times = [start, *(d.timestamp() for d in runs(hourly, start, 12))]
    assert {b - a for a, b in itertools.pairwise(times)} == {3600.0}
    daily = Rule("every", "1d", anchor=start)
    [first, second] = runs(daily, start, 2)
    assert (first.hour, second.hour) == (20, 20) and second.timestamp() - first.timestamp() == 24 * 3600
    assert first.timestamp() - start == 23 * 3600  # the night of the change is an hour shorter


def test_a_time_in_the_skipped_hour_runs_just_past_it_and_a_doubled_time_runs_once() -> None:
    spring = runs(Rule("cron", "30 2 * * *"), at(2026, 3, 28, 12), 2)
    assert [(d.day, d.hour, d.minute) for d in spring] == [(29, 3, 30), (30, 2, 30)]
    autumn = runs(Rule("cron", "30 2 * * *"), at(2026, 10, 24, 12), 3)
    assert [(d.day, d.hour, d.minute) for d in autumn] == [(25, 2, 30), (26, 2, 30), (27, 2, 30)]
    every_quarter = runs(Rule("cron", "*/15 * * * *"), at(2026, 3, 29, 1, 50), 3)
    assert [d.strftime("%H:%M %Z") for d in every_quarter] == ["03:00 CEST", "03:15 CEST", "03:30 CEST"]


def test_when_as_people_and_models_write_it() -> None:
    now = at(2026, 12, 1, 14, 3)  # Tue 1 Dec 2026, 14:03 Paris
    assert resolve("20m", now=now, tz=PARIS).first_run == now + 1200
    assert resolve("1h30m", now=now, tz=PARIS).first_run == now + 5400
    assert resolve("PT20M", now=now, tz=PARIS).first_run == now + 1200
    assert resolve("1d", now=now, tz=PARIS).first_run == at(2026, 12, 2, 14, 3)
    assert resolve("09:00", now=now, tz=PARIS).first_run == at(2026, 12, 2, 9)  # already past today
    assert resolve("15:00", now=now, tz=PARIS).first_run == at(2026, 12, 1, 15)
    assert resolve("2026-12-02T09:00", now=now, tz=PARIS).first_run == at(2026, 12, 2, 9)
    assert resolve("2026-12-02T09:00", now=now, tz=NEW_YORK).first_run == at(2026, 12, 2, 9, tz=NEW_YORK)
    assert resolve("2026-12-02T09:00+00:00", now=now, tz=PARIS).first_run == at(2026, 12, 2, 9, tz=dt.UTC)
    assert resolve("2026-12-02T09:00Z", now=now, tz=PARIS).first_run == at(2026, 12, 2, 9, tz=dt.UTC)
    weekdays = resolve("0 8 * * 1-5", now=now, tz=PARIS)
    assert weekdays.rule.kind == "cron" and weekdays.first_run == at(2026, 12, 2, 8)
    friday = resolve("2026-12-04T08:00", now=now, tz=PARIS, repeat="weekdays")
    assert friday.rule.text == "0 8 * * 1-5" and friday.first_run == at(2026, 12, 4, 8)
    assert runs(friday.rule, friday.first_run, 1)[0].day == 7  # Monday: the weekend is skipped
    bounded = resolve("09:00", now=now, tz=PARIS, repeat="daily", until="2026-12-05")
    assert bounded.until == at(2026, 12, 5, 23, 59) + 59


@pytest.mark.parametrize(
    ("when", "repeat", "until", "says"),
    [
        ("2026-11-30T09:00", None, None, "has already passed; it is now 2026-12-01T14:03:00+01:00"),
        ("2026-12-02", None, None, "a date without a time of day"),
        ("next tuesday", None, None, "neither an ISO 8601 time"),
        ("61 25 * * *", None, None, "not a 5-field cron expression"),
        ("0 9 * * *", "daily", None, "repeats by itself"),
        ("09:00", "fortnightly-ish", None, "is not an interval"),
        ("09:00", "daily", "2026-12-01T10:00", "has already passed"),
        ("2026-12-03T09:00", "daily", "2026-12-02T10:00", "is before the first run"),
        ("0s", None, None, "longer than zero"),
        ("", None, None, "when is empty"),
    ],
)
def test_bad_times_get_a_specific_reason(when: str, repeat: str | None, until: str | None, says: str) -> None:
    with pytest.raises(ScheduleError, match=says.replace("(", r"\(").replace("+", r"\+")):
        resolve(when, now=at(2026, 12, 1, 14, 3), tz=PARIS, repeat=repeat, until=until)


def test_the_shortest_gap_of_a_rule_is_what_the_repeat_limit_checks() -> None:
    start = at(2026, 12, 1)
    assert shortest_gap(Rule("cron", "*/5 * * * *"), start, PARIS) == 300
    assert shortest_gap(Rule("cron", "0,1 9 1 * *"), start, PARIS) == 60  # twice a month, a minute apart
    assert shortest_gap(Rule("every", "1d", anchor=start), start, PARIS) == 86400
    assert shortest_gap(Rule("at", "", anchor=start), start, PARIS) is None


@given(st.integers(0, 400), st.integers(0, 86399))
def test_a_duration_reads_back_what_it_writes(days: int, seconds: int) -> None:
    duration = Duration(days, seconds)
    assert parse_duration(duration.text()) == duration


@given(st.text(max_size=30))
def test_any_text_is_a_duration_or_none_never_a_crash(text: str) -> None:
    parsed = parse_duration(text)
    assert parsed is None or (parsed.days >= 0 and parsed.seconds >= 0)


def test_schedules_config_takes_seconds_or_durations_and_names_a_bad_value() -> None:
    from pathlib import Path

    from agentbox.config import ConfigError, parse_config

    config = parse_config('[schedules]\ncatch_up = "30m"\nmin_repeat_interval = 600\n', source=Path("config.toml"))
    assert (config.schedules.catch_up, config.schedules.min_repeat_interval) == (1800.0, 600.0)
    with pytest.raises(ConfigError, match=r"config.toml: schedules.catch_up: Value error, must be a number of seconds"):
        parse_config('[schedules]\ncatch_up = "soon"\n', source=Path("config.toml"))
