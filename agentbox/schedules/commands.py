"""`/reminders`, `/cancel ID` and `/timezone [NAME]` in chats: a person's own schedules, without a model call."""

from __future__ import annotations

import time

from agentbox.config import Config
from agentbox.schedules import book
from agentbox.schedules.book import Target
from agentbox.schedules.describe import line
from agentbox.schedules.timing import ScheduleError
from agentbox.store import Store

OFF = "Reminders and scheduled tasks are turned off here."


async def reminders(store: Store, config: Config, target: Target) -> str:
    if not config.schedules.enabled:
        return OFF
    found = await book.visible(store, target)
    if not found:
        return "You have no reminders or scheduled tasks. Ask me, e.g. “remind me tomorrow at 9 to call the bank”."
    now = time.time()
    return "\n".join(["Your schedules:", *(line(item, now=now) for item in found), "/cancel ID cancels one."])


async def cancel(store: Store, config: Config, target: Target, argument: str) -> str:
    if not config.schedules.enabled:
        return OFF
    wanted = argument.strip().lstrip("#")
    if not wanted.isdigit():
        return "Usage: /cancel ID, with the number /reminders shows (e.g. /cancel 12)."
    try:
        found = await book.mine(store, target, int(wanted))
        await book.cancel(store, found.id)
    except ScheduleError as exc:
        return f"Not cancelled: {exc}."
    return f"Cancelled #{found.id}: {found.message[:200]}"


async def timezone(store: Store, config: Config, target: Target, argument: str) -> str:
    if not config.schedules.enabled:
        return OFF
    if argument.strip():
        return await book.remember_timezone(store, target, argument.strip())
    name, source = await book.timezone_for(store, config, target)
    return (
        f"Your timezone for reminders: {name} ({source}). Change it with /timezone NAME, e.g. /timezone Europe/Paris."
    )
