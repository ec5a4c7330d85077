"""The model's memory tools, named exactly `remember`, `recall` and `forget` (skills and docs refer to them)."""

from __future__ import annotations

from typing import Literal

from pydantic_ai import ModelRetry, RunContext
from pydantic_ai.toolsets import FunctionToolset

from agentbox.memory.model import MemoryInputError
from agentbox.memory.recall import search_answer
from agentbox.memory.service import TurnMemory
from agentbox.turn.deps import TurnDeps

OFF = "Long-term memory is off here."
_SAID = {"added": "Remembered as #{id}.", "exists": "Already remembered as #{id}.", "updated": "Updated memory #{id}."}


def _memory(ctx: RunContext[TurnDeps]) -> TurnMemory | None:
    return ctx.deps.memory


def memory_toolset() -> FunctionToolset[TurnDeps]:
    toolset: FunctionToolset[TurnDeps] = FunctionToolset()

    @toolset.tool
    async def remember(
        ctx: RunContext[TurnDeps], text: str, scope: Literal["sender", "chat", "agent"] | None = None
    ) -> str:
        """Save a durable fact (name, preference, commitment, date, ongoing project) for later conversations,
        as one short sentence about the user: "The user's dog is called Biscuit." Leave `scope` unset."""
        memory = _memory(ctx)
        if memory is None:
            return OFF
        try:
            done = await memory.remember(text, scope)
        except MemoryInputError as exc:
            raise ModelRetry(str(exc)) from None
        return _SAID[done.outcome].format(id=done.memory_id)

    @toolset.tool
    async def recall(ctx: RunContext[TurnDeps], query: str) -> str:
        """Search saved memories and past conversations (with this person, or in this group) for `query`'s words."""
        memory = _memory(ctx)
        if memory is None:
            return OFF
        return search_answer(*await memory.search(query))

    @toolset.tool
    async def forget(ctx: RunContext[TurnDeps], memory_id: int) -> str:
        """Delete saved memory #memory_id (the user asked, or it is wrong or outdated)."""
        memory = _memory(ctx)
        if memory is None:
            return OFF
        if await memory.forget(memory_id):
            return f"Forgot memory #{memory_id}."
        return f"There is no memory #{memory_id} that this conversation may change."

    return toolset
