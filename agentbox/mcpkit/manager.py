"""`McpServers`: the configured MCP servers of one process, and each agent's toolset over them.

One per runtime (`agentbox agent`, `agentbox chat`, the gateway) and per `agentbox mcp`
command. A server is shared by every agent that lists it and started only when one of them
first needs it; `aclose()` stops them all (a stdio server's whole process group).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentbox.config import Config
from agentbox.mcpkit.server import McpServer, ServerStatus

if TYPE_CHECKING:
    from pydantic_ai.toolsets import AbstractToolset

    from agentbox.turn.deps import TurnDeps

log = logging.getLogger(__name__)


class McpServers:
    """The enabled `[mcp.servers]` of a config as `McpServer`s (none started), and the per-agent toolsets."""

    def __init__(self, config: Config, *, environ: Mapping[str, str] | None = None) -> None:
        self._config = config
        log_dir = config.home / "logs"
        self.servers = {
            name: McpServer(name, server, log_dir=log_dir, environ=environ)
            for name, server in config.mcp.servers.items()
            if server.enabled
        }

    def toolsets(self, agent_id: str) -> list[AbstractToolset[TurnDeps]]:
        """The agent's MCP tools (`[agents.<id>] mcp`), as one toolset with the prompt budget; [] without any."""
        names = [name for name in self._config.agent(agent_id).mcp if name in self.servers]
        if not names:
            return []
        from agentbox.mcpkit.toolset import McpServerToolset, McpTools

        mcp = self._config.mcp
        servers: list[AbstractToolset[TurnDeps]] = [McpServerToolset(self.servers[name]) for name in names]
        return [McpTools(servers, schema_budget=mcp.schema_budget_chars, prompt_budget=mcp.max_prompt_chars)]

    def status(self) -> list[ServerStatus]:
        """Every configured server, disabled ones included, in config order."""
        out = []
        for name in self._config.mcp.servers:
            server = self.servers.get(name)
            out.append(server.status() if server else ServerStatus(name, "disabled", None, None, 0))
        return out

    def status_json(self) -> dict[str, Any]:
        return {"servers": [item.as_json() for item in self.status()]}

    async def aclose(self) -> None:
        """Stop every started server (concurrently: each may wait out a grace period)."""
        await asyncio.gather(*(server.stop() for server in self.servers.values()))
