"""The `agentbox` Typer app. Keep this import-light: `agentbox --help` must be instant."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

from agentbox import __version__
from agentbox.cli import (
    agent_cmd,
    cron_cmd,
    daemon_cmd,
    dashboard_cmd,
    doctor_cmd,
    gateway_cmd,
    logs_cmd,
    memory_cmd,
    onboard_cmd,
    pairing_cmd,
    sessions_cmd,
    usage_cmd,
)
from agentbox.cli.hooks_cmd import app as hooks_app
from agentbox.cli.jobs_cmd import app as jobs_app
from agentbox.cli.mcp_cmd import app as mcp_app
from agentbox.cli.skills_cmd import app as skills_app
from agentbox.cli.tokens_cmd import app as tokens_app
from agentbox.errors import AgentboxError


class _AgentboxGroup(TyperGroup):
    """The root command: shows flags in --help without a `<bool>` type (they take no value).

    It is also the one place an `AgentboxError` from any command becomes `agentbox: <message>`
    on stderr and the error's exit code, instead of a traceback.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _hide_flag_types(self)
        try:
            return super().main(*args, **kwargs)
        except AgentboxError as exc:
            typer.echo(f"agentbox: {exc}", err=True)
            sys.exit(exc.exit_code)


def _hide_flag_types(command: Any) -> None:
    # Typer prints each option's type; for an on/off flag `<bool>` reads as if it took a value.
    help_option = command.get_help_option(typer.Context(command))
    for param in [*command.params, help_option]:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub)


app = typer.Typer(
    cls=_AgentboxGroup,
    name="agentbox",
    help="A self-hosted assistant gateway: chat apps → pydantic-ai agents on the AI/ML API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"agentbox {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            metavar="",
            show_default=False,
            help="Debug logging on stderr and in the log file; -vv adds the libraries' debug lines.",
        ),
    ] = 0,
) -> None:
    """agentbox command line."""
    _start(verbose)


def _start(verbose: int) -> None:
    """Every command: bot tokens from AGENTBOX_HOME/.env, then logging with secrets masked."""
    from agentbox.config import ConfigError, load_config
    from agentbox.envfile import load_env_file
    from agentbox.logs import setup_logging

    load_env_file()
    try:
        config = load_config()
    except ConfigError:
        config = None  # the command itself reports the error; logging still masks env secrets
    setup_logging(config, verbose)


app.command("agent")(agent_cmd.agent)
app.command("chat")(agent_cmd.chat)
app.add_typer(sessions_cmd.app, name="sessions")
app.add_typer(memory_cmd.app, name="memory")
app.add_typer(gateway_cmd.app, name="gateway")
app.command("status")(gateway_cmd.status)
app.add_typer(pairing_cmd.app, name="pairing")
app.command("onboard")(onboard_cmd.onboard_command)
app.command("doctor")(doctor_cmd.doctor_command)
app.add_typer(daemon_cmd.app, name="daemon")
app.command("logs")(logs_cmd.logs_command)
app.command("usage")(usage_cmd.usage_command)
app.command("dashboard")(dashboard_cmd.dashboard_command)

app.add_typer(skills_app, name="skills")
app.add_typer(jobs_app, name="jobs")
app.add_typer(mcp_app, name="mcp")
app.add_typer(tokens_app, name="tokens")
app.add_typer(hooks_app, name="hooks")
app.add_typer(cron_cmd.app, name="cron")


def run() -> None:
    # Everything agentbox writes (database and its WAL, media, logs, locks, skill scaffolds) holds
    # conversations or secrets, and SQLite and most writers take no mode: owner-only by umask.
    os.umask(0o077)
    app()


if __name__ == "__main__":
    run()
