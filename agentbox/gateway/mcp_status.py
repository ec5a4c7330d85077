"""`GET /mcp` on the gateway: the state of its MCP servers (`agentbox.mcpkit`), for `agentbox mcp list` (token auth).

A gateway service only for its route: the servers belong to the runtime, which stops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentbox.gateway.control import Authenticator, Route

if TYPE_CHECKING:
    from agentbox.gateway.lifecycle import Gateway
    from agentbox.mcpkit.manager import McpServers


class McpStatusService:
    """Serves the MCP servers' state on the control endpoint; starting and stopping is the runtime's."""

    name = "mcp status"

    def __init__(self, servers: McpServers | None) -> None:
        self._servers = servers

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def routes(self) -> Sequence[Route]:
        return [Route("GET", "/mcp", self._status)]

    def authenticators(self) -> Sequence[Authenticator]:
        return []

    async def _status(self, _: Any) -> Any:
        from aiohttp import web

        return web.json_response(self._servers.status_json() if self._servers else {"servers": []})


def gateway_service(gateway: Gateway) -> McpStatusService:
    return McpStatusService(gateway.runner.mcp)
