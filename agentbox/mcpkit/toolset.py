"""MCP servers as an agent's tools, and the rule that bounds what they cost in every request.

Each server's tools are named `<server>_<tool>` (characters the API refuses in a name become
`_`; at most 64), so two servers never clash with each other or with agentbox's own tools.
`include_tools` / `exclude_tools` filter by the server's own names.

The token budget (what peers lose 50-80k tokens a turn to):

1. The agent's servers are taken in the order its `mcp = [...]` lists them. While their tool
   schemas (name, description, parameters as JSON) fit `[mcp] schema_budget_chars` together
   (default 8,000 characters, about 2,000 tokens), they go in every request in full: a few
   tools cost little, and the model calls them without a detour.
2. A server that does not fit is deferred: its tools are marked `defer_loading`, pydantic-ai's
   deferred tool loading. They leave the request; the instructions list them by name and
   one-line description within `[mcp] max_prompt_chars` (default 4,000; past it by name only,
   then "N more"), and pydantic-ai's tool search gives the model `search_tools`, which loads
   the full schema of the tools it finds for the rest of the conversation.

`bench/mcp_prompt.py` measures it: a 200-tool server adds ~119,000 characters (~30,000 tokens)
to every request in full, and ~4,700 (~1,200 tokens: the list and `search_tools`) deferred.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic_ai import RunContext, ToolFailed
from pydantic_ai.toolsets import AbstractToolset, CombinedToolset, ToolsetTool

from agentbox.config import McpServerConfig
from agentbox.mcpkit.server import McpServer, McpUnavailable, ServerState
from agentbox.turn.deps import TurnDeps

log = logging.getLogger(__name__)

MAX_NAME = 64  # OpenAI-compatible APIs: ^[a-zA-Z0-9_-]{1,64}$
DESCRIPTION_CHARS = 120
TURN_WAIT_SECONDS = 15.0  # how long a turn waits for a server to start; the start goes on after it
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CATALOG_HEADER = (
    "## MCP tools\n"
    "These tools load on demand: call search_tools with words from a tool's name or description, "
    "then call the tool it finds.\n"
)


def model_name(server: str, tool: str) -> str:
    """The name the model sees for a server's tool."""
    return _NOT_IN_NAME.sub("_", f"{server}_{tool}")[:MAX_NAME]


def offered(config: McpServerConfig, tool: str) -> bool:
    """Whether `include_tools` / `exclude_tools` let the server's tool through to the model."""
    return (config.include_tools is None or tool in config.include_tools) and tool not in config.exclude_tools


def one_line(description: str | None) -> str:
    """A tool's description as one short line for the prompt (server text: no control characters)."""
    first = _CONTROL.sub(" ", (description or "").strip().split("\n", 1)[0])
    text = " ".join(first.split())
    return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 1] + "…"


def schema_chars(tools: Sequence[ToolsetTool[Any]]) -> int:
    """How many characters these tools' definitions take in a request."""
    return sum(
        len(json.dumps([t.tool_def.name, t.tool_def.description, t.tool_def.parameters_json_schema])) for t in tools
    )


class McpServerToolset(AbstractToolset[TurnDeps]):
    """One server's tools: started on first use; a call to a server that is down, slow or dead fails
    as a tool call the model reads (`ToolFailed`), never the turn."""

    def __init__(self, server: McpServer) -> None:
        self.server = server
        self._known: dict[str, ToolsetTool[TurnDeps]] = {}  # the last tools offered, kept while the server is down
        self._server_names: dict[str, str] = {}  # model-facing name -> the server's own

    @property
    def id(self) -> str:
        return f"mcp-{self.server.name}"

    @property
    def label(self) -> str:
        return f"MCP server {self.server.name!r}"

    async def get_tools(self, ctx: RunContext[TurnDeps]) -> dict[str, ToolsetTool[TurnDeps]]:
        if not await self.server.ensure_ready(wait=min(TURN_WAIT_SECONDS, self.server.config.start_timeout)):
            return dict(self._known)
        try:
            listed = await self.server.call(lambda: self.server.toolset.get_tools(ctx))
        except (McpUnavailable, ToolFailed) as exc:
            log.warning("MCP server %s: listing tools failed: %s", self.server.name, exc)
            return dict(self._known)
        self._known, self._server_names = self._rename(listed)
        return dict(self._known)

    def _rename(
        self, listed: dict[str, ToolsetTool[TurnDeps]]
    ) -> tuple[dict[str, ToolsetTool[TurnDeps]], dict[str, str]]:
        tools: dict[str, ToolsetTool[TurnDeps]] = {}
        names: dict[str, str] = {}
        for own, tool in listed.items():
            if not offered(self.server.config, own):
                continue
            name = model_name(self.server.name, own)
            if name in tools:
                log.warning(
                    "MCP server %s: %r and %r are both %s to the model; keeping the first",
                    self.server.name,
                    names[name],
                    own,
                    name,
                )
                continue
            tools[name] = replace(tool, toolset=self, tool_def=replace(tool.tool_def, name=name))
            names[name] = own
        return tools, names

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[TurnDeps], tool: ToolsetTool[TurnDeps]
    ) -> Any:
        own = self._server_names.get(name, name)

        async def request() -> Any:
            mcp = self.server.toolset
            return await mcp.call_tool(
                own, tool_args, ctx, replace(tool, toolset=mcp, tool_def=replace(tool.tool_def, name=own))
            )

        try:
            return await self.server.call(request)
        except McpUnavailable as exc:
            raise ToolFailed(f"{exc}. Tell the user if it matters; do not retry at once.") from exc


@dataclass
class McpTools(CombinedToolset[TurnDeps]):
    """An agent's MCP servers together: full schemas within `schema_budget`, the rest deferred and listed
    (within `prompt_budget`) in the instructions for `search_tools` to load."""

    schema_budget: int = 8_000
    prompt_budget: int = 4_000

    async def get_tools(self, ctx: RunContext[TurnDeps]) -> dict[str, ToolsetTool[TurnDeps]]:
        tools = await super().get_tools(ctx)
        deferred = self._deferred_servers(tools)
        return {
            name: replace(tool, tool_def=replace(tool.tool_def, defer_loading=True))
            if tool.toolset in deferred
            else tool
            for name, tool in tools.items()
        }

    def _deferred_servers(self, tools: dict[str, ToolsetTool[TurnDeps]]) -> set[AbstractToolset[TurnDeps]]:
        spent, deferred = 0, set()
        for server in self.toolsets:
            size = schema_chars([tool for tool in tools.values() if tool.toolset is server])
            if spent + size <= self.schema_budget:
                spent += size
            else:
                deferred.add(server)
        return deferred

    async def get_instructions(self, ctx: RunContext[TurnDeps]) -> str | None:
        tools = await self.get_tools(ctx)
        deferred = [(name, tool.tool_def.description) for name, tool in tools.items() if tool.tool_def.defer_loading]
        down = [
            toolset.server
            for toolset in self.toolsets
            if isinstance(toolset, McpServerToolset) and toolset.server.state is not ServerState.READY
        ]
        return render_catalog(deferred, down, self.prompt_budget) or None


def render_catalog(deferred: Sequence[tuple[str, str | None]], down: Sequence[McpServer], budget: int) -> str:
    """The instructions' MCP section: deferred tools within `budget` characters, and servers that are down."""
    notes = [_unavailable(server) for server in down]
    if not deferred:
        return "\n".join(notes)
    room = budget - len(CATALOG_HEADER) - sum(len(note) + 1 for note in notes)
    described = "\n".join(f"- {name}: {one_line(description)}" for name, description in deferred)
    listing = described if len(described) <= room else _names_within([name for name, _ in deferred], room)
    return "\n".join([CATALOG_HEADER + listing, *notes])


def _unavailable(server: McpServer) -> str:
    if server.state is ServerState.STARTING:
        return f"MCP server {server.name} is still starting; its tools will be there in a later message."
    reason = one_line(server.reason) if server.reason else "not started"
    return f"MCP server {server.name} is unavailable right now ({reason}); its tools fail until it is back."


def _names_within(names: Sequence[str], room: int) -> str:
    """`a, b, c` as far as `room` allows, then how many more there are."""
    shown: list[str] = []
    used = 0
    for index, name in enumerate(names):
        more = f" and {len(names) - index} more (search_tools finds them)"
        if used + len(name) + 2 + len(more) > room:
            return ", ".join(shown) + more
        shown.append(name)
        used += len(name) + 2
    return ", ".join(shown)
