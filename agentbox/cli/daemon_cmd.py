"""`agentbox daemon install|uninstall|status`: the gateway as a user service."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agentbox.cli.common import fail

if TYPE_CHECKING:
    from agentbox.config import Config

app = typer.Typer(help="Run the gateway as a user service (systemd on Linux, launchd on macOS).", no_args_is_help=True)


def _valid_config() -> Config:
    """The config the service will run with, or exit 2: a unit over a broken config only fails at start."""
    from agentbox.config import ConfigError
    from agentbox.ops.servicesecrets import stored_config

    try:
        return stored_config()  # the file as the service reads it, not what this shell adds
    except ConfigError as exc:
        fail(f"not installed: {exc}\n  fix it, then run this again", 2)


def _secrets_reach_the_service(config: Config, *, store_key: bool, interactive: bool) -> None:
    """Make every secret the gateway needs readable by the service, or exit 2 with the exact fix."""
    import os

    from agentbox.envfile import env_file_path, update_env_file
    from agentbox.keysource import API_KEY_ENV
    from agentbox.ops.servicesecrets import describe_gap, service_secrets

    secrets = service_secrets(config=config)
    missing = [s for s in secrets if s.where == "missing"]
    if missing:
        example = f"{missing[0].env_name}=..."
        onboard = " (or `agentbox onboard --api-key ...` for the key)" if missing[0].env_name == API_KEY_ENV else ""
        fail(
            f"not installed: {describe_gap(missing)}, so the service would fail at start.\n"
            f"  fix: add a line `{example}` for each to {env_file_path()}{onboard}, then run this again",
            2,
        )
    shell_only = [s for s in secrets if s.where == "shell only"]
    if not shell_only:
        return
    gap = describe_gap(shell_only)
    names = ", ".join(s.env_name for s in shell_only)
    if not store_key and interactive:
        typer.echo(f"{gap}: a service does not see variables exported in your shell.")
        store_key = typer.confirm(f"Save {names} to {env_file_path()} (mode 0600) so the service can read it?", True)
    if not store_key:
        fail(
            f"not installed: {gap}, and a service does not see your shell's variables, so it would fail at start.\n"
            f"  fix: `agentbox daemon install --store-key` saves {names} to {env_file_path()} (mode 0600)",
            2,
        )
    path = update_env_file({s.env_name: os.environ[s.env_name] for s in shell_only})
    typer.echo(f"Saved {names} to {path} (mode 0600).")


def _print(result: object) -> None:
    for line in getattr(result, "messages", []):
        typer.echo(line)


@app.command("install")
def install(
    no_start: Annotated[bool, typer.Option("--no-start", help="Write the service file only.")] = False,
    show: Annotated[bool, typer.Option("--print", help="Print the service file instead of installing it.")] = False,
    store_key: Annotated[
        bool,
        typer.Option("--store-key", help="Save the API key and bot tokens set only in this shell to .env (0600)."),
    ] = False,
    non_interactive: Annotated[bool, typer.Option("--non-interactive", help="Ask nothing.")] = False,
) -> None:
    """Install (and start) the service; it restarts the gateway when it fails.

    A service does not see variables exported in this shell: a key or token set only there is
    saved to AGENTBOX_HOME/.env (0600) with --store-key or after asking; otherwise nothing is installed.
    """
    from agentbox.ops.daemon import UserService

    config = _valid_config()
    service = UserService()
    stop_timeout = config.gateway.grace_period + 10  # systemd must not SIGKILL turns still inside their grace period
    if show:
        typer.echo(service.render(stop_timeout=stop_timeout), nl=False)
        return
    _secrets_reach_the_service(config, store_key=store_key, interactive=not non_interactive and sys.stdin.isatty())
    result = service.install(start=not no_start, stop_timeout=stop_timeout)
    _print(result)
    raise typer.Exit(0 if result.ok else 1)


@app.command("uninstall")
def uninstall() -> None:
    """Stop the service and remove its file."""
    from agentbox.ops.daemon import UserService

    _print(UserService().uninstall())


@app.command("status")
def status() -> None:
    """Whether the service is installed and running (exit 1 when not running)."""
    from agentbox.ops.daemon import UserService

    result = UserService().status()
    _print(result)
    raise typer.Exit(0 if result.ok else 1)
