"""The model's schedule tools: `schedule`, `list_schedules`, `cancel_schedule`, and `set_timezone`.

The tools resolve times themselves (`agentbox.schedules.when`) in the person's timezone and answer
with the absolute local time, which the model confirms; it never does the date arithmetic. A person
sees and cancels only their own schedules. Composed into every agent by `agentbox.runtime`.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic_ai import RunContext
from pydantic_ai.toolsets import FunctionToolset

from agentbox.config import Config
from agentbox.schedules import book
from agentbox.schedules.book import Target, Wanted
from agentbox.schedules.describe import confirmation, line
from agentbox.schedules.timing import ScheduleError, local, zone
from agentbox.store import Store
from agentbox.turn.agent import ExtraToolsets
from agentbox.turn.deps import TurnDeps

GUIDE = (
    "Schedules: `schedule` makes reminders (text sent as is) and tasks (you run again then; your answer is sent). "
    "Pass local times; confirm with the time it returns."
)


def target_of(deps: TurnDeps) -> Target:
    """Where a schedule made in this turn is delivered: this chat (and thread), to the person who asked."""
    session = deps.session
    address = session.address
    if address is None:  # the terminal: the CLI session's own history
        chat = session.key.removeprefix("cli:")
        return Target("cli", chat, session.key, agent=session.agent_id)
    return Target(
        address.channel,
        address.chat_id,
        session.key,
        agent=session.agent_id,
        thread_id=address.thread_id,
        sender_id=session.sender_id or "",
        sender_name=session.sender_name,
        in_group=not session.key.startswith(f"{address.channel}:dm:"),
    )


def _store(deps: TurnDeps) -> Store:
    if deps.store is None:
        raise ScheduleError("schedules need the agentbox database, which this run does not have")
    return deps.store


async def tell_scheduler(deps: TurnDeps) -> str:
    """Re-arm the gateway's timer after a change; a note for the model when no gateway runs to fire it."""
    if deps.schedules is not None and await deps.schedules.changed():
        return ""
    return (
        " Note for the person: no gateway is running right now; schedules fire only while `agentbox gateway run` runs."
    )


def schedule_toolset() -> FunctionToolset[TurnDeps]:
    """The tools, with a per-turn instruction that tells the model the person's timezone and local time."""
    toolset: FunctionToolset[TurnDeps] = FunctionToolset()

    @toolset.instructions
    async def schedules_guide(ctx: RunContext[TurnDeps]) -> str:
        deps = ctx.deps
        if deps.store is None:
            return GUIDE
        name, _ = await book.timezone_for(deps.store, deps.config, target_of(deps))
        now = local(time.time(), zone(name))
        return f"{GUIDE} Their timezone: {name}, now {now:%a %Y-%m-%d %H:%M}."

    @toolset.tool
    async def schedule(
        ctx: RunContext[TurnDeps],
        when: str,
        message: str,
        kind: Literal["reminder", "task"] = "reminder",
        repeat: str = "",
        until: str = "",
    ) -> str:
        """Schedule a reminder or task in this chat for the person.

        Args:
            when: Local ISO time, "09:00", duration ("20m", "1d") or cron ("0 8 * * 1-5").
            message: Reminder: the text to send. Task: what to do then.
            repeat: Omit for once. "30m", "1d", "daily", "weekdays", "monthly" or cron.
            until: When repeats end.
        """
        deps = ctx.deps
        store = _store(deps)
        target = target_of(deps)
        now = time.time()
        try:
            wanted = Wanted(book.chat_kind(deps.config, kind), message, when, repeat, until)
            made_by = "cli" if target.channel == "cli" else "chat"  # the terminal is the owner's
            created = await book.create(store, deps.config, target, wanted, created_by=made_by, now=now)
        except ScheduleError as exc:
            return f"Not scheduled: {exc}. Tell the person, or call schedule again with corrected arguments."
        _, source = await book.timezone_for(store, deps.config, target)
        return confirmation(created, now=now, tz_source=source) + await tell_scheduler(deps)

    @toolset.tool
    async def list_schedules(ctx: RunContext[TurnDeps]) -> str:
        """The person's schedules, with ids."""
        found = await book.visible(_store(ctx.deps), target_of(ctx.deps))
        if not found:
            return "They have no reminders or scheduled tasks."
        now = time.time()
        return "\n".join(line(item, now=now) for item in found)

    @toolset.tool
    async def cancel_schedule(ctx: RunContext[TurnDeps], id: int) -> str:
        """Cancel one of the person's schedules by id."""
        store = _store(ctx.deps)
        try:
            found = await book.mine(store, target_of(ctx.deps), id)
            await book.cancel(store, found.id)
        except ScheduleError as exc:
            return f"Not cancelled: {exc}."
        return f"Cancelled #{found.id} ({found.kind}: {found.message[:100]})." + await tell_scheduler(ctx.deps)

    @toolset.tool
    async def set_timezone(ctx: RunContext[TurnDeps], timezone: str) -> str:
        """Save the person's IANA timezone, e.g. Europe/Paris."""
        return await book.remember_timezone(_store(ctx.deps), target_of(ctx.deps), timezone)

    return toolset


def with_schedule_tools(config: Config, toolsets: ExtraToolsets) -> ExtraToolsets:
    """`toolsets` plus the schedule tools for every agent (unless `[schedules] enabled = false`)."""
    if not config.schedules.enabled:
        return toolsets
    tools = schedule_toolset()
    return lambda agent_id: [*toolsets(agent_id), tools]
