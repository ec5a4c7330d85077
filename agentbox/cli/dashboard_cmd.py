"""`agentbox dashboard [--open]`: a one-time login link to the running gateway's web panel.

Import-light like `agentbox status`: it asks the gateway (urllib, gateway token) for the link.
"""

from __future__ import annotations

from typing import Annotated

import typer

from agentbox.cli.common import config_or_exit, fail


def dashboard_command(
    open_browser: Annotated[bool, typer.Option("--open", help="Also open the link in the default browser.")] = False,
) -> None:
    """Print a login link for the web panel of the running gateway (it works once, for 10 minutes)."""
    from agentbox.cli.gateway_client import NoGateway, call_gateway, gateway_url

    config = config_or_exit()
    try:
        answer = call_gateway(config, "/ui/login-link", post=True)
    except NoGateway as exc:
        if exc.status == 404:
            fail(
                "the running gateway serves no web panel: set enabled = true under [web] in config.toml and restart it"
            )
        raise
    url = gateway_url(config) + str(answer["path"])
    minutes = int(float(answer.get("expires_in", 600)) // 60)
    typer.echo(f"Open the web panel (this link works once, within {minutes} minutes):\n\n  {url}\n")
    if open_browser:
        import webbrowser

        if not webbrowser.open(url):
            typer.echo("No browser could be opened here: copy the link into one.", err=True)
