"""Keeps a session's prompt view within a token budget.

When the history for the next request would pass the budget, older turns are summarised
by the model; the summary is stored and replaces them in the prompt, recent turns stay
verbatim. Nothing is deleted: the transcript (the `turns` table) keeps every turn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)

from agentbox.history import estimate_blob_tokens, estimate_tokens, load_messages
from agentbox.store import Store, StoredTurn

log = logging.getLogger("agentbox.compaction")

Summarise = Callable[[str], Awaitable[str]]
"""Transcript text (with any earlier summary first) -> a new summary."""

SUMMARY_PREFIX = "Summary of the earlier conversation (older messages are not shown):\n"


@dataclass(frozen=True, slots=True)
class PromptHistory:
    messages: list[ModelMessage]
    estimated_tokens: int
    compacted: bool  # a new summary was written for this request


def transcript_text(messages: list[ModelMessage]) -> str:
    """A plain-text rendering of messages for the summariser (no media, no tool payload bulk)."""
    lines: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                content = (
                    part.content
                    if isinstance(part.content, str)
                    else " ".join(item if isinstance(item, str) else "[image]" for item in part.content)
                )
                lines.append(f"User: {content}")
            elif isinstance(part, TextPart) and isinstance(message, ModelResponse):
                lines.append(f"Assistant: {part.content}")
            elif isinstance(part, ToolCallPart):
                lines.append(f"Assistant used tool {part.tool_name}.")
    return "\n".join(lines)


def _summary_message(text: str) -> ModelRequest:
    return ModelRequest(parts=[SystemPromptPart(content=SUMMARY_PREFIX + text)])


async def prompt_history(
    store: Store,
    session_key: str,
    *,
    budget: int,
    summarise: Summarise,
) -> PromptHistory:
    summary = await store.sessions.latest_summary(session_key)
    upto, summary_text = summary if summary else (0, "")
    turns = await store.sessions.history_turns(session_key, after_turn_id=upto)
    sizes = [estimate_blob_tokens(turn.messages) for turn in turns]
    total = estimate_tokens(summary_text) + sum(sizes)
    compacted = False
    if total > budget and len(turns) > 1:
        keep = _recent_to_keep(sizes, budget // 2)
        older, turns, sizes = turns[:-keep], turns[-keep:], sizes[-keep:]
        summary_text = await _summarise(store, older, summary_text, summarise)
        await store.sessions.add_summary(session_key, older[-1].id, summary_text)
        total = estimate_tokens(summary_text) + sum(sizes)
        compacted = True
        log.info("compacted session %s: %d turns summarised", session_key, len(older))
    messages: list[ModelMessage] = [_summary_message(summary_text)] if summary_text else []
    for turn in turns:
        if turn.messages:
            messages.extend(await load_messages(store, turn.messages))
    return PromptHistory(messages, total, compacted)


def _recent_to_keep(sizes: list[int], allowance: int) -> int:
    """How many of the newest turns fit in `allowance` (at least one, at most all but one)."""
    keep, used = 0, 0
    for size in reversed(sizes):
        if keep >= 1 and used + size > allowance:
            break
        keep += 1
        used += size
    return min(keep, len(sizes) - 1)


async def _summarise(store: Store, older: list[StoredTurn], previous: str, summarise: Summarise) -> str:
    messages: list[ModelMessage] = []
    for turn in older:
        if turn.messages:
            messages.extend(await load_messages(store, turn.messages))
    text = transcript_text(messages)
    if previous:
        text = f"Earlier summary:\n{previous}\n\nConversation since:\n{text}"
    try:
        return (await summarise(text)).strip() or previous
    except Exception as exc:  # a failed summary must not fail the user's turn
        log.warning("summary failed (%s); keeping a truncated transcript instead", type(exc).__name__)
        return (previous + "\n" + text)[-4000:]
