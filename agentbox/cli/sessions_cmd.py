"""`agentbox sessions list|show|search|reset|prune`: quick, no pydantic-ai import."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from agentbox.cli.common import ago, config_or_exit, fail, print_json, with_store

app = typer.Typer(help="Inspect, reset and prune conversation sessions.", no_args_is_help=True)


@app.command("list")
def list_sessions(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Sessions, most recent first: key, channel, chat, model, turns, tokens."""
    sessions = with_store(lambda store: store.sessions.all())
    if as_json:
        print_json(
            [
                {
                    "key": s.key,
                    "channel": s.channel,
                    "chat": s.chat_id,
                    "thread": s.thread_id,
                    "agent": s.agent,
                    "model": s.model,
                    "turns": s.turns,
                    "input_tokens": s.input_tokens,
                    "output_tokens": s.output_tokens,
                    "usd": round(s.usd, 6),
                    "updated_at": s.updated_at,
                }
                for s in sessions
            ]
        )
        return
    if not sessions:
        typer.echo("No sessions yet.")
        return
    from agentbox.cli.tables import print_keyed

    now = time.time()
    rows = [
        (
            s.key,
            s.channel or "-",
            s.chat_id or "-",
            s.model or "(default)",
            str(s.turns),
            f"{s.input_tokens + s.output_tokens:,}",
            ago(now - s.updated_at) + " ago",
        )
        for s in sessions
    ]
    print_keyed(("session", "channel", "chat", "model", "turns", "tokens", "updated"), rows, numeric=(4, 5))


@app.command("show")
def show(key: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The full transcript of a session (compaction and /new never delete it)."""

    async def load(store):  # type: ignore[no-untyped-def]
        return await store.sessions.get(key), await store.sessions.transcript(key)

    info, turns = with_store(load)
    if info is None:
        fail(f"no session {key!r} (see `agentbox sessions list`)")
    if as_json:
        print_json({"key": key, "turns": turns})
        return
    from agentbox.cli.termsafe import terminal_safe as safe

    head = f"session {key} · channel {info.channel or '-'} · chat {info.chat_id or '-'} · model {info.model or '(default)'}"
    typer.echo(safe(head, single_line=True))
    for turn in turns:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(turn["started_at"]))
        typer.echo(f"\n[{stamp}] user: {safe(turn['user_text'])}")
        tools = f" (tools: {', '.join(turn['tool_calls'])})" if turn["tool_calls"] else ""
        typer.echo(safe(f"[{turn['status']}] {turn['model']}{tools}: ", single_line=True) + safe(turn["reply"]))


@app.command("search")
def search(
    query: str,
    session: Annotated[str | None, typer.Option("--session", help="Only this session.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many turns.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Turns of every transcript (or one session's) sharing words with QUERY, best match first."""
    from agentbox.memory.search import hit_json, search_transcripts

    hits = with_store(lambda store: search_transcripts(store, query, session_key=session, limit=limit))
    if as_json:
        print_json([hit_json(hit) for hit in hits])
        return
    if not hits:
        typer.echo("No turn matches.")
        return
    from agentbox.cli.termsafe import terminal_safe as safe

    for item in map(hit_json, hits):
        typer.echo(safe(f"{item['started_at']}  {item['session']}  (turn {item['turn_id']})", single_line=True))
        for side in ("user", "reply"):
            if "«" in item[side]:
                typer.echo("  " + safe(f"{side}: {item[side]}", single_line=True))


@app.command("reset")
def reset(key: str) -> None:
    """Start the session afresh: the model no longer sees earlier turns; the transcript is kept."""
    if not with_store(lambda store: store.sessions.reset(key)):
        fail(f"no session {key!r} (see `agentbox sessions list`)")
    typer.echo(f"Session {key} reset.")


@app.command("prune")
def prune(
    older_than: Annotated[str, typer.Option("--older-than", help="Age to delete, e.g. 90d, 12h, 2w.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be deleted.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete turns, sessions and answered messages older than the age, then media nothing refers to."""
    from dataclasses import asdict

    from agentbox.gateway.retention import parse_age
    from agentbox.gateway.retention import prune as prune_store

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        fail(str(exc), 2)
    config = config_or_exit()
    report, files = with_store(
        lambda store: prune_store(store, config.home / "media", time.time() - age, dry_run=dry_run), config
    )
    if as_json:
        print_json({"dry_run": dry_run, "files": files, **asdict(report)})
        return
    verb = "Would remove" if dry_run else "Removed"
    typer.echo(f"{verb} {report.describe()} and {files} media files on disk, older than {older_than}.")
