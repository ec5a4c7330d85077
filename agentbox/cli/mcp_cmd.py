"""`agentbox mcp list|tools|check`: the configured MCP servers, their tools, and whether they start.

`list` reads the config, and the live state from a running gateway when there is one (its `/mcp`);
`tools` and `check` start servers in this process and stop them before exiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentbox.cli.common import config_or_exit, fail, print_json, run_async

if TYPE_CHECKING:
    from agentbox.config import Config, McpServerConfig
    from agentbox.mcpkit import McpServer

app = typer.Typer(help="MCP servers: list them, show their tools, check that they start.", no_args_is_help=True)

NO_SERVERS = "No MCP servers configured: add one under [mcp.servers.NAME] in config.toml (see docs/mcp.md)."


def target(server: McpServerConfig) -> str:
    """How a server is reached, without secrets: the command, or the URL without its query."""
    if server.url is not None:
        from agentbox.redaction import strip_url_secrets

        return strip_url_secrets(server.url)
    return " ".join([server.command or "", *server.args])


def _live_state(config: Config) -> dict[str, dict[str, Any]] | None:
    """The running gateway's view of its servers, or None when no gateway runs."""
    from agentbox.cli.gateway_client import NoGateway, call_gateway

    try:
        data = call_gateway(config, "/mcp")
    except NoGateway:
        return None
    return {item["name"]: item for item in data.get("servers") or []}


@app.command("list")
def list_servers(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The configured servers: how each is reached, the agents that use it, its state and tool count."""
    config = config_or_exit()
    live = _live_state(config)
    rows = []
    for name, server in config.mcp.servers.items():
        state = (live or {}).get(name, {})
        rows.append(
            {
                "name": name,
                "transport": "http" if server.url else "stdio",
                "target": target(server),
                "enabled": server.enabled,
                "agents": [agent_id for agent_id, agent in config.agents.items() if name in agent.mcp],
                "state": state.get("state") or ("stopped" if server.enabled else "disabled"),
                "reason": state.get("reason"),
                "tools": state.get("tools"),
            }
        )
    if as_json:
        print_json({"gateway": live is not None, "servers": rows})
        return
    if not rows:
        typer.echo(NO_SERVERS)
        return
    _print_servers(rows, gateway=live is not None)


def _print_servers(rows: list[dict[str, Any]], *, gateway: bool) -> None:
    from agentbox.cli.tables import print_keyed

    table = [
        (
            row["name"],
            row["transport"],
            ", ".join(row["agents"]) or "-",
            row["state"] + (f": {row['reason']}" if row["reason"] else ""),
            "-" if row["tools"] is None else str(row["tools"]),
        )
        for row in rows
    ]
    print_keyed(("server", "transport", "agents", "state", "tools"), table, numeric=(4,))
    if not gateway:
        typer.echo("No gateway is running: servers start on first use. `agentbox mcp check` starts each once.")


@contextmanager
def _reported_here() -> Iterator[None]:
    """These commands print each server's failure themselves: keep the log's copy out of the terminal."""
    logger = logging.getLogger("agentbox.mcpkit.server")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _server(config: Config, name: str) -> McpServer:
    from agentbox.mcpkit import McpServer

    server = config.mcp.servers.get(name)
    if server is None:
        fail(f"no MCP server {name!r}; configured: {', '.join(config.mcp.servers) or 'none'}", 2)
    return McpServer(name, server, log_dir=config.home / "logs")


async def _tools_of(server: McpServer) -> list[dict[str, Any]]:
    from agentbox.mcpkit.toolset import model_name, offered, one_line

    try:
        if not await server.ensure_ready():
            fail(f"the MCP server {server.name} did not start: {server.reason}")
        listed = await server.call(server.toolset.list_tools)
    finally:
        await server.stop()
    out = []
    for tool in listed:
        wire = tool.model_dump(by_alias=True, exclude_none=True)
        out.append(
            {
                "name": model_name(server.name, wire["name"]),
                "server_name": wire["name"],
                "offered": offered(server.config, wire["name"]),
                "description": one_line(wire.get("description")),
                "parameters": wire.get("inputSchema") or {},
            }
        )
    return out


@app.command("tools")
def tools(
    name: Annotated[str, typer.Argument(help="The server ([mcp.servers.NAME]).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with each tool's parameter schema).")] = False,
) -> None:
    """Start the server, list its tools by the names the model sees, and stop it."""
    config = config_or_exit()
    with _reported_here():
        listed = run_async(_tools_of(_server(config, name)))
    if as_json:
        print_json(listed)
        return
    from agentbox.cli.tables import print_keyed

    table = [(t["name"], "yes" if t["offered"] else "no (filtered)", t["description"]) for t in listed]
    print_keyed(("tool", "offered", "description"), table)


async def _check_one(server: McpServer) -> tuple[bool, str]:
    started = time.monotonic()
    try:
        ready = await server.ensure_ready()
    finally:
        await server.stop()
    if not ready:
        return False, server.reason or "did not start"
    count = len(server.tool_names or [])
    return True, f"{count} tool{'s' if count != 1 else ''}, started in {time.monotonic() - started:.1f} s"


async def _check_all(config: Config) -> list[tuple[str, bool | None, str]]:
    from agentbox.mcpkit import McpServer

    log_dir = config.home / "logs"
    enabled = {name: s for name, s in config.mcp.servers.items() if s.enabled}
    results = await asyncio.gather(*(_check_one(McpServer(n, s, log_dir=log_dir)) for n, s in enabled.items()))
    by_name = dict(zip(enabled, results, strict=True))
    return [
        (name, *by_name[name]) if name in by_name else (name, None, "disabled (enabled = false)")
        for name in config.mcp.servers
    ]


@app.command("check")
def check() -> None:
    """Start every enabled server, list its tools and stop it; exit 1 if any fails, with the reason."""
    config = config_or_exit()
    if not config.mcp.servers:
        typer.echo(NO_SERVERS)
        return
    with _reported_here():
        results = run_async(_check_all(config))
    from agentbox.cli.termsafe import terminal_safe

    for name, ok, detail in results:
        label = "skipped" if ok is None else "ok" if ok else "FAILED"
        typer.echo(terminal_safe(f"{label:8}{name}: {detail}", single_line=True))
    if any(ok is False for _, ok, _ in results):
        raise typer.Exit(1)
