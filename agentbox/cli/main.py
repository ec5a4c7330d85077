"""The `agentbox` Typer app. Keep this import-light: `agentbox --help` must be instant."""

from __future__ import annotations

from typing import Annotated

import typer

from agentbox import __version__
from agentbox.cli import agent_cmd, sessions_cmd

app = typer.Typer(
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
) -> None:
    """agentbox command line."""


app.command("agent")(agent_cmd.agent)
app.command("chat")(agent_cmd.chat)
app.add_typer(sessions_cmd.app, name="sessions")


def run() -> None:
    app()


if __name__ == "__main__":
    run()
