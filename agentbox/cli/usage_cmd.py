"""`agentbox usage`: tokens and USD per day, session or model, spend per kind (chat, stt, tts, image, ...),
and today's spend against the caps."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from agentbox.cli.common import config_or_exit, fail, print_json, run_async


async def _collect(by: str, since: float | None) -> tuple[list[Any], list[Any], Any]:
    from agentbox.store import Store
    from agentbox.turn.caps import caps_status
    from agentbox.turn.usage import usage_by, usage_by_kind

    config = config_or_exit()
    store = await Store.open(config.database_path)
    try:
        kinds = await usage_by_kind(store.conn, since=since)
        rows = [] if by == "kind" else await usage_by(store.conn, by, since=since)  # type: ignore[arg-type]
        return rows, kinds, await caps_status(config.limits, store)
    finally:
        await store.close()


def usage_command(
    by: Annotated[str, typer.Option("--by", help="Group by day | session | model | kind.")] = "day",
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD (UTC), today, or Nd.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tokens and money spent, from what each turn recorded (~ marks estimated costs)."""
    from agentbox.turn.usage import parse_since

    if by not in ("day", "session", "model", "kind"):
        fail("--by must be day, session, model or kind", 2)
    try:
        start = parse_since(since, now=time.time()) if since else None
    except ValueError as exc:
        fail(str(exc), 2)
    rows, kinds, caps = run_async(_collect(by, start))
    if as_json:
        shown = kinds if by == "kind" else rows
        print_json(
            {
                "by": by,
                "since": start,
                "rows": [r.as_json() for r in shown],
                "kinds": [k.as_json() for k in kinds],
                "caps": caps.as_json(),
            }
        )
        return
    from rich.console import Console

    from agentbox.cli.tables import print_keyed
    from agentbox.cli.termsafe import terminal_safe
    from agentbox.humanize import local_time, money

    console = Console(highlight=False)
    if by == "kind":
        print_kinds(kinds, start, console)
    elif rows:
        headers, table = _table(by, rows)
        print_keyed(headers, table, numeric=range(1, len(headers)), bold_last=True, console=console)
        if any(r.estimated for r in rows):
            console.print("~ includes estimates from [limits] prices where the API reported no cost.", markup=False)
        if any(k.kind != "chat" for k in kinds):
            console.print("By kind: " + ", ".join(f"{k.kind} {_usd(k.usd, k.usd_estimated)}" for k in kinds))
    else:
        console.print("No turns recorded" + (" in that period." if start else " yet."))
    resets = local_time(caps.resets_at)
    cap = f" of {money(caps.usd_per_day)} cap" if caps.usd_per_day is not None else " (no daily cap)"
    state = f" — CAP REACHED: turns are refused until {resets}" if caps.total_reached else ""
    console.print(f"Today ({caps.day} UTC): {money(caps.spent_usd)}{cap}{state}", markup=False)
    if caps.usd_per_sender_per_day is not None:
        capped = [
            terminal_safe(f"{s['channel']}:{s['sender_id']}", single_line=True) for s in caps.senders if s["capped"]
        ]
        line = f"Per-sender cap {money(caps.usd_per_sender_per_day)}/day"
        console.print(line + (f"; reached by {', '.join(capped)}" if capped else "; nobody at the cap"), markup=False)
    if not caps.total_reached and (caps.usd_per_day is not None or caps.usd_per_sender_per_day is not None):
        console.print(f"The caps reset at {resets}.", markup=False)


def _table(by: str, rows: list[Any]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Headers and rows (the total last); a `fallback` column only when a fallback model answered some turn."""
    fallbacks = any(r.fallbacks for r in rows)

    def line(key: str, group: list[Any]) -> tuple[str, ...]:
        counts = [sum(r.turns for r in group), sum(r.failed for r in group), sum(r.capped for r in group)]
        if fallbacks:
            counts.append(sum(r.fallbacks for r in group))
        usd = f"{'~' if any(r.estimated for r in group) else ''}{sum(r.usd for r in group):.4f}"
        tokens = (f"{sum(r.input_tokens for r in group):,}", f"{sum(r.output_tokens for r in group):,}")
        return (key, *map(str, counts), *tokens, usd)

    headers = (by, "turns", "failed", "capped", *(("fallback",) if fallbacks else ()), "input tok", "output tok", "USD")
    return headers, [*(line(r.key, [r]) for r in rows), line("total", rows)]


def _usd(usd: float, estimated: float) -> str:
    return f"{'~' if estimated > 0 else ''}${usd:.4f}"


def print_kinds(kinds: list[Any], start: float | None, console: Any) -> None:
    """`--by kind`: USD per kind of call (chat, stt, tts, image, video, other), the total last."""
    from agentbox.cli.tables import print_keyed

    if not any(k.usd > 0 for k in kinds):
        console.print("Nothing spent" + (" in that period." if start else " yet."))
        return
    table = [(k.kind, f"{'~' if k.usd_estimated > 0 else ''}{k.usd:.4f}") for k in kinds]
    estimated = any(k.usd_estimated > 0 for k in kinds)
    table.append(("total", f"{'~' if estimated else ''}{sum(k.usd for k in kinds):.4f}"))
    print_keyed(("kind", "USD"), table, numeric=[1], bold_last=True, console=console)
    if estimated:
        console.print("~ includes estimates where the API reported no cost.", markup=False)
