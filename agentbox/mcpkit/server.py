"""`McpServer`: one configured MCP server's life: started on first use, supervised, stopped cleanly.

The protocol client is pydantic-ai's `MCPToolset` (on the FastMCP client); this module decides
when it runs and what a failure means:

- **Lazy**: nothing starts until an agent that lists the server runs a turn (or `agentbox mcp`).
- **Bounded**: starting is bounded by `start_timeout`, every call by `timeout`; a slow server
  fails the call, not the turn.
- **Supervised**: a server that fails to start, or is found dead after a failed call (a `ping`
  tells a dead server from a tool error), is marked failed and started again on the next use
  once a backoff (`agentbox.retry.Backoff`, 1 s doubling to 5 min) has passed. Until then its
  calls fail at once with the reason.
- **Contained**: stdio servers run under `agentbox.mcpkit.guard` in their own process group, so
  they die with agentbox even after `kill -9`; their stderr goes to `logs/mcp-<name>.log`.
- **Secret-safe**: values read through `env_from` / `headers_from` are registered with
  `agentbox.redaction`, so logs, tool results and stored history mask them.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agentbox.config import McpServerConfig
from agentbox.errors import AgentboxError
from agentbox.redaction import register_secrets, scrub_error
from agentbox.retry import Backoff
from agentbox.tasks import TaskSet

if TYPE_CHECKING:
    from pydantic_ai.mcp import MCPToolset

    from agentbox.turn.deps import TurnDeps

log = logging.getLogger(__name__)

T = TypeVar("T")
GUARD = Path(__file__).with_name("guard.py")
PING_SECONDS = 5.0


class ServerState(enum.StrEnum):
    """Where a server is in its life; `failed` carries a reason and a time for the next try."""

    STOPPED = "stopped"  # not started yet (lazy), or stopped
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


class McpUnavailable(AgentboxError):
    """An MCP server cannot serve a call now; the message says why (the model reads it as a failed call)."""


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """What `agentbox mcp list` and the gateway's `/mcp` show about one server."""

    name: str
    state: str
    reason: str | None
    tools: int | None
    restarts: int

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "reason": self.reason, "tools": self.tools}


class McpServer:
    """One `[mcp.servers.<name>]`: its `MCPToolset`, started lazily and restarted with backoff.

    `ensure_ready()` starts it if needed (at most once per backoff window) and says whether it
    runs; `call(fn)` runs one request against it within `timeout`, turning every failure into
    `McpUnavailable` or the server's own tool error; `stop()` ends it (the process group too).
    """

    def __init__(
        self, name: str, config: McpServerConfig, *, log_dir: Path, environ: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.config = config
        self._log_dir = log_dir
        self._environ = environ
        self.state = ServerState.STOPPED
        self.reason: str | None = None
        self.tool_names: list[str] | None = None  # the server's tools when it last started (kept while it is down)
        self.restarts = 0
        self._toolset: MCPToolset[TurnDeps] | None = None
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()  # one close or loss at a time
        self._tasks = TaskSet(f"MCP server {name}", log)  # the start, which may outlast the turn that asked
        self._backoff = Backoff(1.0, 300.0)
        self._retry_at = 0.0

    @property
    def toolset(self) -> MCPToolset[TurnDeps]:
        """The running server's pydantic-ai toolset (only meaningful after `ensure_ready()` said True)."""
        if self._toolset is None:
            raise McpUnavailable(f"the MCP server {self.name} is not running")
        return self._toolset

    def status(self) -> ServerStatus:
        reason = self.reason if self.state is ServerState.FAILED else None
        count = len(self.tool_names) if self.tool_names is not None else None
        return ServerStatus(self.name, self.state.value, reason, count, self.restarts)

    # -- lifecycle ------------------------------------------------------------------------
    async def ensure_ready(self, wait: float | None = None) -> bool:
        """Start the server if it is not running and its backoff allows; True when it runs.

        `wait`: at most this long for a start under way (None: until it ends). A start that takes
        longer goes on in the background, so a turn never waits out a slow server's `start_timeout`.
        """
        if self.state is ServerState.READY:
            return True
        if self.state is ServerState.FAILED and time.monotonic() < self._retry_at:
            return False
        name = "start"
        task = self._tasks.get(name) or self._tasks.spawn(self._start(), name=name, awaited=True)
        await asyncio.wait({task}, timeout=wait)
        return self.state is ServerState.READY

    async def _start(self) -> None:
        if self.state is ServerState.FAILED:
            self.restarts += 1
        self.state = ServerState.STARTING
        stack = AsyncExitStack()
        log_size = self._log_size()
        try:
            # The MCP client imports in about a second: off the event loop, which serves every chat.
            await asyncio.to_thread(importlib.import_module, "pydantic_ai.mcp")
            toolset = self._build()
            async with asyncio.timeout(self.config.start_timeout):
                await stack.enter_async_context(toolset)
                tools = await toolset.list_tools()
        except asyncio.CancelledError:  # stopped while starting
            await _close_quietly(stack)
            raise
        except Exception as exc:  # a server that cannot start is reported, never raised into a turn
            await _close_quietly(stack)
            self._fail(_describe(exc, self.config.start_timeout, "start") + self._stderr_since(log_size))
            return
        self._toolset, self._stack, self.tool_names = toolset, stack, [tool.name for tool in tools]
        self.state, self.reason = ServerState.READY, None
        self._backoff.reset()
        log.info("MCP server %s started: %d tool(s)", self.name, len(tools))

    def _fail(self, reason: str) -> None:
        delay = self._backoff.next()
        self.state, self.reason = ServerState.FAILED, reason
        self._retry_at = time.monotonic() + delay
        log.warning("MCP server %s failed: %s (next try in %.0fs at the earliest)", self.name, reason, delay)

    async def stop(self) -> None:
        """Close the session; a stdio server's process group is ended by the SDK (stdin, then signals)."""
        await self._tasks.aclose()
        async with self._lock:
            await self._close()
            self.state = ServerState.STOPPED

    async def _close(self) -> None:
        stack, self._stack, self._toolset = self._stack, None, None
        if stack is not None:
            await _close_quietly(stack)

    # -- calls ------------------------------------------------------------------------------
    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        """Run `request` against the running server within `timeout`.

        The server's own tool errors (pydantic-ai's `ToolFailed`) pass through; anything else
        becomes `McpUnavailable`, and a server that no longer answers a ping is marked failed.
        """
        from pydantic_ai import ToolFailed

        if not await self.ensure_ready():
            raise McpUnavailable(f"the MCP server {self.name} is unavailable: {self.reason}")
        try:
            async with asyncio.timeout(self.config.timeout):
                return await request()
        except ToolFailed:
            raise
        except TimeoutError:
            raise McpUnavailable(
                f"the MCP server {self.name} did not answer within {self.config.timeout:g} s"
            ) from None
        except Exception as exc:
            reason = scrub_error(_message(exc))
            if not await self._answers_ping():
                await self._lost(f"connection lost ({reason})")
            raise McpUnavailable(f"the MCP server {self.name} failed: {reason}") from exc

    async def _answers_ping(self) -> bool:
        toolset = self._toolset
        if toolset is None:
            return False
        try:
            async with asyncio.timeout(min(PING_SECONDS, self.config.timeout)):
                await toolset.client.ping()
        except Exception:
            return False
        return True

    async def _lost(self, reason: str) -> None:
        async with self._lock:
            if self.state is ServerState.READY:
                await self._close()
                self._fail(reason)

    @property
    def log_path(self) -> Path | None:
        """Where a stdio server's stderr goes (None for URL servers)."""
        return self._log_dir / f"mcp-{self.name}.log" if self.config.command is not None else None

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size if self.log_path else 0
        except OSError:
            return 0

    def _stderr_since(self, offset: int) -> str:
        """`; it said: <last line>` from what a stdio server wrote to its log while failing to start."""
        path = self.log_path
        if path is None:
            return ""
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                written = handle.read(4096).decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [line.strip() for line in written.splitlines() if line.strip()]
        said = f"; it said: {scrub_error(lines[-1])[:200]}" if lines else ""
        return f"{said} (its output: {path})"

    # -- building the client ---------------------------------------------------------------
    def _build(self) -> MCPToolset[TurnDeps]:
        """The pydantic-ai toolset for this server; raises McpUnavailable when its config cannot work here."""
        from pydantic_ai.mcp import MCPToolset

        config = self.config
        options: dict[str, Any] = {
            "id": f"mcp-{self.name}",
            "tool_error_behavior": "failed",  # a tool error is the model's to read, not to retry blindly
            "init_timeout": config.start_timeout,
            "read_timeout": config.timeout + PING_SECONDS,  # ours (`timeout`) fires first, with a clear message
        }
        if config.url is not None:
            headers = {**config.headers, **self._secrets(config.headers_from, "headers_from")}
            return MCPToolset(config.url, headers=headers or None, **options)
        return MCPToolset(self._stdio_transport(), **options)

    def _stdio_transport(self) -> Any:
        from fastmcp.client.transports import StdioTransport

        config = self.config
        assert config.command is not None
        env = {**config.env, **self._secrets(config.env_from, "env_from")}
        executable = shutil.which(config.command, path=env.get("PATH") or os.environ.get("PATH"))
        if executable is None:
            raise McpUnavailable(f"command {config.command!r} not found on PATH")
        self._log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        log_file = self._log_dir / f"mcp-{self.name}.log"
        log_file.touch(mode=0o600)
        if os.name != "posix":  # no process groups to guard; the SDK puts the server in a job object
            return StdioTransport(executable, list(config.args), env=env, cwd=config.cwd, keep_alive=False)
        guarded = ["-I", str(GUARD), str(os.getpid()), "--", executable, *config.args]
        # keep_alive=False: stop() must end the process, not keep it for a next client.
        return StdioTransport(sys.executable, guarded, env=env, cwd=config.cwd, keep_alive=False, log_file=log_file)

    def _secrets(self, names: Mapping[str, str], key: str) -> dict[str, str]:
        """`{target: value of the env var it names}`; every value is masked from now on."""
        environ = os.environ if self._environ is None else self._environ
        missing = [env_name for env_name in names.values() if not environ.get(env_name)]
        if missing:
            raise McpUnavailable(f"env var {missing[0]} is not set (mcp.servers.{self.name}.{key})")
        values = {target: environ[env_name] for target, env_name in names.items()}
        register_secrets(*values.values())
        return values


def _message(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _message(exc.exceptions[0])
    text = str(getattr(exc, "message", "") or exc)
    return text or type(exc).__name__


def _describe(exc: BaseException, timeout: float, doing: str) -> str:
    if isinstance(exc, TimeoutError):
        return f"did not {doing} within {timeout:g} s"
    if isinstance(exc, McpUnavailable):
        return str(exc)
    message = _message(exc)
    if message == "Connection closed":
        return f"the server closed the connection (it exited?) while trying to {doing}"
    return scrub_error(f"{type(exc).__name__}: {message}")


async def _close_quietly(stack: AsyncExitStack) -> None:
    try:
        await stack.aclose()
    except Exception as exc:  # a dead server's session can fail to close; it is gone either way
        log.debug("closing an MCP session failed: %s", exc)
