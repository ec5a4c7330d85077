"""Amounts and times as people read them: `$0.001` (not `$0.00`), a reset time in local time."""

from __future__ import annotations

from datetime import datetime


def money(usd: float) -> str:
    """Dollars with at least two decimals and as many more as the amount needs (up to six)."""
    whole, _, fraction = f"{usd:.6f}".rstrip("0").partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def local_time(iso: str) -> str:
    """An ISO timestamp as the reader's local date and time, with the UTC time beside it."""
    moment = datetime.fromisoformat(iso)
    local = moment.astimezone()
    utc = moment.strftime("%H:%M UTC") if moment.utcoffset() is not None else ""
    text = f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()
    return f"{text} ({utc})" if utc and not text.endswith("UTC") else text
