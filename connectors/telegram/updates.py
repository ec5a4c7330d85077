"""Reading a getUpdates batch that python-telegram-bot could not parse, one update at a time (and a webhook's).

PTB parses a whole batch at once: one malformed update (a chat without an id, a message
without a date) makes `get_updates` raise for every update in it, and as the offset cannot
advance past it, polling would stall for every chat forever. The connector then fetches the
batch raw and parses each update on its own; the unreadable ones come back as `Unreadable`
so the poll loop can confirm them in order and go on. Logs name the update id and the field
names, never the content (it is someone's private message).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Update

log = logging.getLogger(__name__)

PTB_PARSE_ERROR = "Error while parsing updates"  # PTB logs this with the raw batch: users' messages


@dataclass(frozen=True, slots=True)
class Unreadable:
    """An update that could not be parsed: skipped, but confirmed in its place in the order."""

    update_id: int


async def read_one_by_one(bot: Bot, offset: int | None, allowed_updates: list[str]) -> list[Update | Unreadable]:
    """The batch at `offset`, raw, each update parsed on its own (no long poll: it is already there)."""
    # Bot API method names are case-insensitive; this spelling keeps PTB from suggesting get_updates().
    raw = await bot.do_api_request(
        "getupdates", api_kwargs={"offset": offset, "timeout": 0, "allowed_updates": allowed_updates}
    )
    items: list[Update | Unreadable] = []
    for data in raw if isinstance(raw, list) else []:
        if (update := parse_update(data, bot)) is not None:
            items.append(update)
    return items


def parse_update(data: Any, bot: Bot) -> Update | Unreadable | None:
    """One raw update (a poll batch's, or a webhook request's body) parsed; None when it has no id to confirm."""
    try:
        return Update.de_json(data, bot)
    except Exception as exc:
        update_id = data.get("update_id") if isinstance(data, dict) else None
        log.error(
            "telegram: skipped update %s, it could not be read (%s; fields: %s)",
            update_id,
            type(exc).__name__,
            _shape(data),
        )
        return Unreadable(update_id) if isinstance(update_id, int) else None


def _shape(data: Any, depth: int = 0) -> str:
    """Field names only, nested one level: `message{chat{type}, date, text}`."""
    if not isinstance(data, dict):
        return type(data).__name__
    parts = []
    for key in sorted(data):
        value = data[key]
        nested = isinstance(value, dict) and depth < 2
        parts.append(f"{key}{{{_shape(value, depth + 1)}}}" if nested else str(key))
    return ", ".join(parts)


class DropRawBatchLog(logging.Filter):
    """Drops PTB's own report of an unparseable batch: it prints every message in it verbatim."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(PTB_PARSE_ERROR)
