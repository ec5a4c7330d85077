"""Small MCP servers for the tests, on the `mcp` SDK's own server side (`MCPServer`).

- stdio: `python tests/mcpserver.py [--tools N] [--pid-file PATH] [--grandchild] [--crash-on-start]`,
  started by agentbox as a real subprocess, as a user's `command = "npx"` would be;
- streamable HTTP: `http_server(token=...)` serves the same tools on 127.0.0.1 from a thread and
  refuses requests without `Authorization: Bearer <token>`.

Tools: add, echo_env (an env var the server was given), sleep, fail (a `ToolError` with the given message), die (the
process exits mid-call), pid; `--tools N` adds N generated tools shaped like a large real server's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()
VERBS = ["create", "list", "get", "update", "delete", "search", "archive", "merge"]
NOUNS = [
    "issue", "pull_request", "branch", "commit", "release", "label", "milestone", "comment", "workflow", "secret",
    "webhook", "team", "member", "project", "gist", "tag", "discussion", "package", "deployment", "environment",
    "check_run", "artifact", "runner", "ruleset", "invitation",
]  # fmt: skip


def generated_tool_names(count: int) -> list[str]:
    return [f"{verb}_{noun}" for noun in NOUNS for verb in VERBS][:count]


def build_server(tools: int = 0) -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("agentbox-test")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def echo_env(name: str) -> str:
        """The value of one environment variable of the server process ("" when unset)."""
        return os.environ.get(name, "")

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Wait, then say so."""
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with this message."""
        # ToolError is the SDK's anticipated failure: the client gets our message (any other exception
        # is a crash, and the SDK hides its text behind "Error executing tool fail")
        raise ToolError(message)

    @server.tool()
    def die() -> str:
        """The server process exits in the middle of the call."""
        os._exit(3)

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    for name in generated_tool_names(tools):
        server.add_tool(_generated(name), name=name, description=_description(name))
    return server


def _description(name: str) -> str:
    verb, _, noun = name.partition("_")
    thing = noun.replace("_", " ")
    return (
        f"{verb.capitalize()} a {thing} in a repository the token can access. "
        f"Returns the {thing} as JSON with its id, URL, author and timestamps.\n"
        "Requires the repo scope for private repositories; results are paginated."
    )


def _generated(name: str) -> Callable[..., str]:
    def tool(owner: str, repo: str, query: str = "", page: int = 1, per_page: int = 30, state: str = "open") -> str:
        return f"{name}({owner}/{repo}, query={query!r}, page={page})"

    return tool


def _grandchild() -> int:
    """A process the server starts and never stops: the guard must end it with the group."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]).pid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=0)
    parser.add_argument("--pid-file")
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--crash-on-start", action="store_true")
    args = parser.parse_args()
    if args.crash_on_start:
        print("this server is broken on purpose", file=sys.stderr)
        sys.exit(1)
    server = build_server(args.tools)
    if args.pid_file:
        pids = [os.getpid(), *([_grandchild()] if args.grandchild else [])]
        Path(args.pid_file + ".tmp").write_text(" ".join(map(str, pids)))
        os.replace(args.pid_file + ".tmp", args.pid_file)
    server.run("stdio")


def alive(pid: int) -> bool:
    """Whether a process runs; a zombie (dead, not yet reaped by whoever inherited it) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def stdio_config(name: str = "demo", *, extra: str = "", args: list[str] | None = None) -> str:
    """A `[mcp.servers.<name>]` table that starts this script with the test's Python."""
    argv = ", ".join(f'"{arg}"' for arg in [str(SCRIPT), *(args or [])])
    return f'[mcp.servers.{name}]\ncommand = "{sys.executable}"\nargs = [{argv}]\n{extra}\n'


@contextmanager
def http_server(*, token: str | None = None, tools: int = 0) -> Iterator[str]:
    """The test server over streamable HTTP on 127.0.0.1; yields its URL."""
    import uvicorn

    app = build_server(tools).streamable_http_app()
    guarded = _require_bearer(app, token) if token else app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(guarded, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the HTTP MCP test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _require_bearer(app: Any, token: str) -> Any:
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"missing or wrong bearer token"})
            return
        await app(scope, receive, send)

    return guarded


if __name__ == "__main__":
    main()
