"""A cap on what one tool call returns to the model (and so to the stored history).

A web page, a log file or a runaway script can return megabytes; sent whole it overflows the
model's context on this turn and, stored, on every later one. `CapToolResults` wraps a toolset
and cuts any result over `limit` bytes (UTF-8), telling the model it was cut and by how much.
Images and other media a tool returns pass through: they are stored once and sized apart.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai import RunContext, ToolFailed
from pydantic_ai.messages import BinaryContent, FileUrl, ToolReturn
from pydantic_ai.toolsets import WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from agentbox.turn.deps import TurnDeps

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 32 * 1024


def cut_text(text: str, limit: int, *, what: str = "This tool result") -> str:
    """`text` if it fits in `limit` UTF-8 bytes, else its start and a note saying how much was cut."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", "ignore")  # never half a character
    return (
        f"{kept}\n\n[agentbox cut this: {what} was {len(data):,} bytes; only the first {limit:,} are shown. "
        "Ask for a smaller part if you need more.]"
    )


_ANY: TypeAdapter[Any] = TypeAdapter(Any)


def cap_result(value: Any, limit: int) -> Any:
    """The tool's return value, with any text (or JSON rendering of data) over `limit` bytes cut."""
    if isinstance(value, str):
        return cut_text(value, limit)
    if isinstance(value, BinaryContent | FileUrl):
        return value
    if isinstance(value, ToolReturn):
        return dataclasses.replace(value, return_value=cap_result(value.return_value, limit))
    if isinstance(value, list) and any(isinstance(item, BinaryContent | FileUrl) for item in value):
        return [cap_result(item, limit) for item in value]
    try:
        rendered = _ANY.dump_json(value, fallback=str)
    except (ValueError, TypeError):  # PydanticSerializationError is a ValueError
        return value  # pydantic-ai reports unserializable results itself
    if len(rendered) <= limit:
        return value
    return cut_text(rendered.decode("utf-8", "replace"), limit)


@dataclass
class CapToolResults(WrapperToolset[TurnDeps]):
    """Cuts every tool result (and failure message) of the wrapped toolset to `limit` bytes."""

    limit: int = DEFAULT_LIMIT

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[TurnDeps], tool: ToolsetTool[TurnDeps]
    ) -> Any:
        try:
            result = await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except ToolFailed as exc:
            if len(exc.message.encode("utf-8", "surrogatepass")) <= self.limit:
                raise
            raise ToolFailed(cut_text(exc.message, self.limit, what="This error message")) from exc
        capped = cap_result(result, self.limit)
        if capped is not result:
            log.info("tool %s returned more than %d bytes in session %s: cut", name, self.limit, ctx.deps.session.key)
        return capped
