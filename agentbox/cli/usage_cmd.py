"""`agentbox usage`: tokens and USD per day, session or model, and today's spend against the caps."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from agentbox.cli.common import config_or_exit, fail, print_json, run_async


async def _collect(by: str, since: float | None) -> tuple[list[Any], Any]:
    from agentbox.caps import caps_status
    from agentbox.store import Store
    from agentbox.usage import usage_by

    config = config_or_exit()
    store = await Store.open(config.database_path)
    try:
        return await usage_by(store.conn, by, since=since), await caps_status(config.limits, store)  # type: ignore[arg-type]
    finally:
        await store.close()


def usage_command(
    by: Annotated[str, typer.Option("--by", help="Group by day | session | model.")] = "day",
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD (UTC), today, or Nd.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tokens and money spent, from what each turn recorded (~ marks estimated costs)."""
    from agentbox.usage import parse_since

    if by not in ("day", "session", "model"):
        fail("--by must be day, session or model", 2)
    try:
        start = parse_since(since, now=time.time()) if since else None
    except ValueError as exc:
        fail(str(exc), 2)
    rows, caps = run_async(_collect(by, start))
    if as_json:
        print_json({"by": by, "since": start, "rows": [r.as_json() for r in rows], "caps": caps.as_json()})
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if rows:
        table = Table(by, "turns", "failed", "capped", "input tok", "output tok", "USD")
        for r in rows:
            usd = f"{'~' if r.estimated else ''}{r.usd:.4f}"
            table.add_row(
                r.key, str(r.turns), str(r.failed), str(r.capped), f"{r.input_tokens:,}", f"{r.output_tokens:,}", usd
            )
        tot_usd = sum(r.usd for r in rows)
        table.add_row(
            "total",
            str(sum(r.turns for r in rows)),
            str(sum(r.failed for r in rows)),
            str(sum(r.capped for r in rows)),
            f"{sum(r.input_tokens for r in rows):,}",
            f"{sum(r.output_tokens for r in rows):,}",
            f"{'~' if any(r.estimated for r in rows) else ''}{tot_usd:.4f}",
            style="bold",
        )
        console.print(table)
        if any(r.estimated for r in rows):
            console.print("~ includes estimates from [limits] prices where the API reported no cost.")
    else:
        console.print("No turns recorded" + (" in that period." if start else " yet."))
    cap = f" of ${caps.usd_per_day:.2f} cap" if caps.usd_per_day is not None else " (no daily cap)"
    state = " — CAP REACHED: turns are refused until " + caps.resets_at if caps.total_reached else ""
    console.print(f"Today ({caps.day} UTC): ${caps.spent_usd:.4f}{cap}{state}", markup=False)
    if caps.usd_per_sender_per_day is not None:
        capped = [f"{s['channel']}:{s['sender_id']}" for s in caps.senders if s["capped"]]
        line = f"Per-sender cap ${caps.usd_per_sender_per_day:.2f}/day"
        console.print(line + (f"; reached by {', '.join(capped)}" if capped else "; nobody at the cap"), markup=False)
