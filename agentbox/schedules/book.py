"""Making, finding and changing schedules, with the limits: shared by the model tools, chat commands and the CLI.

Everything here writes SQLite only; whoever calls it then tells the scheduler (in the gateway:
`ScheduleService.changed()`; from another process: `agentbox.cli.gateway_client.wake_schedules`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Literal

from agentbox.config import Config
from agentbox.schedules.describe import rule_of
from agentbox.schedules.timing import ScheduleError, machine_timezone, shortest_gap, zone
from agentbox.schedules.when import resolve
from agentbox.store import Store
from agentbox.store.schedules import NewSchedule, Schedule

Kind = Literal["reminder", "task"]
MAX_MESSAGE_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Target:
    """Where a schedule delivers (channel, chat, thread; its session and agent) and who asked for it."""

    channel: str
    chat_id: str
    session_key: str
    agent: str = "main"
    thread_id: str | None = None
    sender_id: str = ""
    sender_name: str = ""
    in_group: bool = False

    @property
    def person(self) -> tuple[str, str] | None:
        """(channel, sender id) of the person who asked, when one did."""
        return (self.channel, self.sender_id) if self.sender_id else None


@dataclass(frozen=True, slots=True)
class Wanted:
    """A schedule as asked for: kind, text and when (`agentbox.schedules.when` reads the time words)."""

    kind: Kind
    message: str
    when: str
    repeat: str | None = None
    until: str | None = None
    timezone: str | None = None  # overrides the person's and the agent's (CLI --tz)


async def timezone_for(store: Store, config: Config, target: Target) -> tuple[str, str]:
    """(IANA name, where it comes from): the person's own setting, else the agent's, else this machine's."""
    if target.person is not None and (own := await store.schedules.timezone_of(*target.person)):
        return own, "the person's own setting"
    if configured := config.agent(target.agent).timezone:
        zone(configured)  # a misspelt config value is reported, not silently replaced
        return configured, f"[agents.{target.agent}] timezone"
    return machine_timezone(), "this machine's timezone"


async def create(
    store: Store, config: Config, target: Target, wanted: Wanted, *, created_by: str, now: float | None = None
) -> Schedule:
    """Check and store a new schedule; ScheduleError (for the person) when it breaks a rule or a limit."""
    now = time.time() if now is None else now
    limits = config.schedules
    message = wanted.message.strip()
    if not message:
        raise ScheduleError("message is empty: say what to remind of, or what to do")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ScheduleError(f"message is too long ({len(message):,} characters; at most {MAX_MESSAGE_CHARS:,})")
    tz_name = wanted.timezone or (await timezone_for(store, config, target))[0]
    timing = resolve(wanted.when, now=now, tz=zone(tz_name), repeat=wanted.repeat, until=wanted.until)
    gap = shortest_gap(timing.rule, now, zone(tz_name))
    if gap is not None and gap < limits.min_repeat_interval:
        raise ScheduleError(
            f"it would repeat every {gap:.0f} s; the shortest interval allowed is {limits.min_repeat_interval:.0f} s"
            " (the owner sets it: min_repeat_interval under [schedules])"
        )
    if created_by == "chat" and target.person is not None:
        count = await store.schedules.count_live(*target.person)
        if count >= limits.max_active_per_sender:
            raise ScheduleError(
                f"you already have {count} schedules, the most allowed: cancel one first (/reminders lists them)"
            )
    return await store.schedules.add(
        NewSchedule(
            kind=wanted.kind,
            message=message,
            rule_kind=timing.rule.kind,
            rule=timing.rule.text,
            anchor_at=timing.rule.anchor,
            timezone=tz_name,
            next_run_at=timing.first_run,
            until_at=timing.until,
            channel=target.channel,
            chat_id=target.chat_id,
            thread_id=target.thread_id,
            session_key=target.session_key,
            agent=target.agent,
            sender_id=target.sender_id,
            sender_name=target.sender_name,
            in_group=target.in_group,
            created_by=created_by,
        )
    )


def chat_kind(config: Config, asked: str) -> Kind:
    """The kind a chat schedule gets: what the model asked for, unless the owner forces one."""
    forced = config.schedules.kind
    if forced != "auto":
        return forced
    if asked not in ("reminder", "task"):
        raise ScheduleError(f"kind must be 'reminder' or 'task', not {asked!r}")
    return "task" if asked == "task" else "reminder"


async def mine(store: Store, target: Target, schedule_id: int) -> Schedule:
    """A live schedule this person may see and change; ScheduleError otherwise (another's looks unknown)."""
    for schedule in await visible(store, target):
        if schedule.id == schedule_id:
            return schedule
    raise ScheduleError(f"you have no active schedule #{schedule_id} (/reminders lists yours)")


async def visible(store: Store, target: Target) -> list[Schedule]:
    """The person's live schedules: in their direct chat, all they asked for and all delivered there; in a
    group, only theirs for that group (the answer is posted to everyone there)."""
    if target.in_group:
        theirs = await store.schedules.visible_to(target.channel, target.sender_id, None)
        return [schedule for schedule in theirs if schedule.session_key == target.session_key]
    return await store.schedules.visible_to(target.channel, target.sender_id, target.session_key)


async def cancel(store: Store, schedule_id: int) -> Schedule:
    """Cancel a live schedule (a run already being delivered still arrives)."""
    schedule = await store.schedules.get(schedule_id)
    if schedule is None or not await store.schedules.set_status(schedule_id, "cancelled"):
        raise ScheduleError(f"no active or paused schedule #{schedule_id}")
    return schedule


async def pause(store: Store, schedule_id: int) -> Schedule:
    schedule = await store.schedules.get(schedule_id)
    if schedule is None or schedule.status != "active" or not await store.schedules.set_status(schedule_id, "paused"):
        raise ScheduleError(f"no active schedule #{schedule_id} to pause")
    return schedule


async def resume(store: Store, schedule_id: int, *, now: float | None = None) -> Schedule:
    """Resume a paused schedule at its next run after now (runs that fell due while paused are skipped)."""
    now = time.time() if now is None else now
    schedule = await store.schedules.get(schedule_id)
    if schedule is None or schedule.status != "paused":
        raise ScheduleError(f"no paused schedule #{schedule_id} to resume")
    upcoming = rule_of(schedule).next_after(now, zone(schedule.timezone))
    if upcoming is None or (schedule.until_at is not None and upcoming > schedule.until_at):
        raise ScheduleError(f"#{schedule_id} has no run left after now: its time passed while it was paused")
    await store.schedules.set_status(schedule_id, "active", next_run_at=upcoming)
    resumed = await store.schedules.get(schedule_id)
    assert resumed is not None
    return resumed


async def remember_timezone(store: Store, target: Target, timezone: str) -> str:
    """Store the person's timezone (tool and /timezone); the answer says what it means now."""
    if target.person is None:
        return "There is no person to set a timezone for here: set timezone under [agents.<name>] in config.toml."
    try:
        tz = zone(timezone)
    except ScheduleError as exc:
        return f"Not set: {exc}."
    await store.schedules.set_timezone(*target.person, tz.key)
    now = dt.datetime.now(tz)
    return (
        f"Timezone set to {tz.key}; it is {now:%H:%M} on {now:%A} there. Schedules made from now on use it "
        "(existing ones keep the timezone they were made in)."
    )
