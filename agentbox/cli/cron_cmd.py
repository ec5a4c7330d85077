"""`agentbox cron add|list|remove|pause|resume|run`: reminders and scheduled tasks from the terminal.

Each command writes the database directly, so it works whether or not the gateway runs, then
tells a running gateway (`POST /schedules/wake`) so the change takes effect without a restart.
`run` asks the gateway to fire a schedule now (it needs the gateway: the gateway sends).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentbox.cli.common import config_or_exit, fail, print_json, with_store

if TYPE_CHECKING:
    from agentbox.config import Config
    from agentbox.store import Store
    from agentbox.store.schedules import Schedule

app = typer.Typer(help="Reminders and scheduled tasks (see docs/schedules.md).", no_args_is_help=True)

NO_GATEWAY = "No gateway is running: it fires once `agentbox gateway run` runs (late runs follow [schedules] catch_up)."


def _tell_gateway(config: Config, *, quiet: bool = False) -> None:
    from agentbox.cli.gateway_client import wake_schedules

    if not wake_schedules(config):
        typer.echo(NO_GATEWAY, err=quiet)


def _show(schedule: Schedule, verb: str) -> str:
    from agentbox.cli.termsafe import terminal_safe
    from agentbox.schedules.describe import in_words, moment, repeats

    now = time.time()
    if schedule.status == "paused" or schedule.next_run_at is None:
        when = schedule.status
    else:
        when = f"next run {moment(schedule.next_run_at, schedule.timezone, now=now)} ({in_words(schedule.next_run_at - now)})"
    return terminal_safe(f"{verb} #{schedule.id} ({schedule.kind}, {repeats(schedule)}) → {schedule.to}: {when}.")


@app.command("add")
def add(
    to: Annotated[str, typer.Option("--to", help="CHANNEL:CHAT[:THREAD], or cli:SESSION (a terminal session).")],
    message: Annotated[str, typer.Option("--message", "-m", help="The reminder's text, or the task's instruction.")],
    at: Annotated[
        str | None, typer.Option("--at", help="Once, at this ISO 8601 time (local unless it has an offset).")
    ] = None,
    in_: Annotated[str | None, typer.Option("--in", help="Once, after this long: 30s, 20m, 2h, 1d.")] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Repeat at this interval, starting one interval from now.")
    ] = None,
    cron: Annotated[str | None, typer.Option("--cron", help='A 5-field cron expression, e.g. "0 8 * * 1-5".')] = None,
    task: Annotated[
        bool, typer.Option("--task", help="Run an agent turn then and send its answer (default: a reminder).")
    ] = False,
    agent: Annotated[str | None, typer.Option("--agent", help="The agent for a task (default: the chat's).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Stop repeating after this time or date.")] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help="IANA timezone for local times (default: for a direct chat the person's own /timezone,"
            " else the agent's timezone, else this machine's).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the schedule as JSON.")] = False,
) -> None:
    """Add a reminder (or with --task, a scheduled task); exactly one of --at, --in, --every, --cron."""
    chosen = [(flag, value) for flag, value in (("at", at), ("in", in_), ("every", every), ("cron", cron)) if value]
    if len(chosen) != 1:
        fail("give exactly one of --at, --in, --every or --cron", 2)
    flag, when = chosen[0]
    config = config_or_exit()

    async def create(store: Store) -> Schedule:
        from agentbox.schedules import book
        from agentbox.schedules.targets import target_for

        target = await target_for(store, config, to, agent)
        wanted = book.Wanted(
            "task" if task else "reminder", message, when, every if flag == "every" else None, until, tz
        )
        return await book.create(store, config, target, wanted, created_by="cli")

    schedule = with_store(create, config)
    if as_json:
        from agentbox.schedules.describe import as_json as schedule_json

        print_json(schedule_json(schedule))
    else:
        typer.echo(_show(schedule, "Added"))
    _tell_gateway(config, quiet=as_json)


@app.command("list")
def list_schedules(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Also those done or cancelled.")] = False,
) -> None:
    """Active and paused schedules, next run first: id, kind, status, next run, rhythm, target, text."""
    from agentbox.store.schedules import LIVE

    statuses = (*LIVE, "done", "cancelled") if show_all else LIVE
    schedules: list[Any] = with_store(lambda store: store.schedules.list(statuses=statuses))
    if as_json:
        from agentbox.schedules.describe import as_json as schedule_json

        print_json([schedule_json(item) for item in schedules])
        return
    if not schedules:
        typer.echo("No schedules. Add one with `agentbox cron add --in 20m --to telegram:CHAT -m 'text'`.")
        return
    from agentbox.cli.tables import print_keyed
    from agentbox.schedules.describe import compact, repeats

    rows = [
        (
            str(s.id),
            s.kind,
            s.status,
            compact(s.next_run_at, s.timezone) if s.next_run_at is not None and s.status == "active" else "-",
            repeats(s),
            s.to,
            s.message if len(s.message) <= 40 else s.message[:39] + "…",
        )
        for s in schedules
    ]
    print_keyed(("id", "kind", "status", "next run", "repeats", "to", "message"), rows)


def _change(schedule_id: int, change: str) -> None:
    from agentbox.schedules import book

    async def apply(store: Store) -> Schedule:
        action = {"remove": book.cancel, "pause": book.pause, "resume": book.resume}[change]
        return await action(store, schedule_id)

    config = config_or_exit()
    schedule = with_store(apply, config)  # a ScheduleError: `agentbox: <reason>`, exit 2
    verb = {"remove": "Removed", "pause": "Paused", "resume": "Resumed"}[change]
    typer.echo(_show(schedule, verb) if change == "resume" else f"{verb} #{schedule.id}.")
    _tell_gateway(config)


@app.command("remove")
def remove(schedule_id: Annotated[int, typer.Argument(metavar="ID", help="The schedule's id (cron list).")]) -> None:
    """Remove (cancel) a schedule; a run being delivered at this moment still arrives."""
    _change(schedule_id, "remove")


@app.command("pause")
def pause(schedule_id: Annotated[int, typer.Argument(metavar="ID", help="The schedule's id (cron list).")]) -> None:
    """Pause a schedule: no runs until it is resumed."""
    _change(schedule_id, "pause")


@app.command("resume")
def resume(schedule_id: Annotated[int, typer.Argument(metavar="ID", help="The schedule's id (cron list).")]) -> None:
    """Resume a paused schedule at its next run from now (runs due while paused are skipped)."""
    _change(schedule_id, "resume")


@app.command("run")
def run(schedule_id: Annotated[int, typer.Argument(metavar="ID", help="The schedule's id (cron list).")]) -> None:
    """Fire a schedule now, once, on the running gateway (its regular runs are unchanged)."""
    from agentbox.cli.gateway_client import call_gateway

    # No gateway: NoGateway, which the CLI prints. A refusal comes back as {"ok": false, "error": ...}.
    answer = call_gateway(config_or_exit(), f"/schedules/{schedule_id}/run", post=True)
    if not answer.get("ok"):
        fail(str(answer.get("error") or "the gateway refused"), 1)
    typer.echo(f"Running #{schedule_id} now on the gateway.")
