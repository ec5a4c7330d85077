"""`agentbox daemon install|uninstall|status`: the gateway as a user service."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Run the gateway as a user service (systemd on Linux, launchd on macOS).", no_args_is_help=True)


def _print(result: object) -> None:
    for line in getattr(result, "messages", []):
        typer.echo(line)


@app.command("install")
def install(
    no_start: Annotated[bool, typer.Option("--no-start", help="Write the service file only.")] = False,
    show: Annotated[bool, typer.Option("--print", help="Print the service file instead of installing it.")] = False,
) -> None:
    """Install (and start) the service; it restarts the gateway when it fails."""
    from agentbox.config import ConfigError, load_config
    from agentbox.daemon import UserService

    try:
        grace = load_config().gateway.grace_period
    except ConfigError:
        grace = 20.0
    service = UserService()
    stop_timeout = grace + 10  # systemd must not SIGKILL turns still inside their grace period
    if show:
        typer.echo(service.render(stop_timeout=stop_timeout), nl=False)
        return
    result = service.install(start=not no_start, stop_timeout=stop_timeout)
    _print(result)
    raise typer.Exit(0 if result.ok else 1)


@app.command("uninstall")
def uninstall() -> None:
    """Stop the service and remove its file."""
    from agentbox.daemon import UserService

    _print(UserService().uninstall())


@app.command("status")
def status() -> None:
    """Whether the service is installed and running (exit 1 when not running)."""
    from agentbox.daemon import UserService

    result = UserService().status()
    _print(result)
    raise typer.Exit(0 if result.ok else 1)
