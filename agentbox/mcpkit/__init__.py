"""MCP servers as agent tools: config `[mcp.servers.<name>]`, per agent `[agents.<name>] mcp = [...]`.

- `McpServers` (manager): the configured servers of one process and each agent's toolset.
- `McpServer` (server): one server's life: lazy start, bounded calls, restart with backoff, clean stop.
- `McpTools` / `McpServerToolset` (toolset): the tools as pydantic-ai toolsets, and the prompt budget.
- `guard.py`: runs a stdio server so it dies with agentbox, even after `kill -9`.

The protocol client is pydantic-ai's `MCPToolset` (FastMCP); nothing here speaks MCP itself.
"""

from agentbox.mcpkit.manager import McpServers
from agentbox.mcpkit.server import McpServer, McpUnavailable, ServerState, ServerStatus

__all__ = ["McpServer", "McpServers", "McpUnavailable", "ServerState", "ServerStatus"]
