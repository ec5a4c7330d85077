"""Keeps a session's prompt view within a token budget.

When the history for the next request would pass the budget, older turns are summarized
by the model; the summary is stored and replaces them in the prompt, recent turns stay
verbatim. A single turn bigger than half the budget (a huge paste, a long tool result) is
shortened in the prompt, so no one turn can wedge a session. Nothing is deleted: the
transcript (the `turns` table) keeps every turn in full.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    ModelResponsePart,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from agentbox.store import Store, StoredTurn
from agentbox.turn.history import estimate_blob_tokens, estimate_tokens, load_messages

log = logging.getLogger(__name__)

Summarize = Callable[[str], Awaitable[str]]
"""Transcript text (with any earlier summary first) -> a new summary."""

SUMMARY_PREFIX = "Summary of the earlier conversation (older messages are not shown):\n"
SUMMARY_PART_CHARS = 2000  # what the summarizer sees of any one message: the gist, not a 600 KB paste
MIN_KEPT_CHARS = 200  # a shortened text keeps at least its opening


@dataclass(frozen=True, slots=True)
class PromptHistory:
    """The history one turn sends, within the memory budget, with its estimated size."""

    messages: list[ModelMessage]
    estimated_tokens: int
    compacted: bool  # a new summary was written for this request


def transcript_text(messages: list[ModelMessage]) -> str:
    """A plain-text rendering of messages for the summarizer (no media, no tool payload bulk)."""
    lines: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart):
                content = (
                    part.content
                    if isinstance(part.content, str)
                    else " ".join(item if isinstance(item, str) else "[image]" for item in part.content)
                )
                lines.append(f"User: {_clip(content, SUMMARY_PART_CHARS)}")
            elif isinstance(part, TextPart) and isinstance(message, ModelResponse):
                lines.append(f"Assistant: {_clip(part.content, SUMMARY_PART_CHARS)}")
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
    summarize: Summarize,
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
        summary_text = await _summarize(store, older, summary_text, summarize)
        await store.sessions.add_summary(session_key, older[-1].id, summary_text)
        total = estimate_tokens(summary_text) + sum(sizes)
        compacted = True
        log.info("compacted session %s: %d turns summarized", session_key, len(older))
    messages: list[ModelMessage] = [_summary_message(summary_text)] if summary_text else []
    allowance = max(1, budget // 2)  # no single turn may take more than half the budget
    for turn, size in zip(turns, sizes, strict=True):
        if not turn.messages:
            continue
        loaded = await load_messages(store, turn.messages)
        if size > allowance:
            loaded = shorten_messages(loaded, allowance / size)
            total -= size - allowance
            log.info("session %s: turn %d (~%d tokens) shortened in the prompt", session_key, turn.id, size)
        messages.extend(loaded)
    return PromptHistory(messages, total, compacted)


def shorten_messages(messages: list[ModelMessage], factor: float) -> list[ModelMessage]:
    """The messages with every long text cut to `factor` of its length (a note says so); media untouched."""
    shortened: list[ModelMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            shortened.append(replace(message, parts=[_shorten_request_part(part, factor) for part in message.parts]))
        else:
            shortened.append(replace(message, parts=[_shorten_response_part(part, factor) for part in message.parts]))
    return shortened


def _shorten_request_part(part: ModelRequestPart, factor: float) -> ModelRequestPart:
    if isinstance(part, UserPromptPart):
        if isinstance(part.content, str):
            return replace(part, content=shorten_text(part.content, factor))
        return replace(part, content=[shorten_text(c, factor) if isinstance(c, str) else c for c in part.content])
    if type(part) is ToolReturnPart:  # not its subclasses (tool search, capabilities): those are small and typed
        tool_return: ToolReturnPart[Any] = part
        text = part.content if isinstance(part.content, str) else part.model_response_str()
        shorter = shorten_text(text, factor)
        return part if shorter is text else replace(tool_return, content=shorter)
    if isinstance(part, RetryPromptPart) and isinstance(part.content, str):
        return replace(part, content=shorten_text(part.content, factor))
    return part


def _shorten_response_part(part: ModelResponsePart, factor: float) -> ModelResponsePart:
    if isinstance(part, TextPart | ThinkingPart):
        return replace(part, content=shorten_text(part.content, factor))
    return part


def shorten_text(text: str, factor: float) -> str:
    """`text` cut to `factor` of its length (at least its opening), with a note saying so."""
    keep = max(MIN_KEPT_CHARS, int(len(text) * factor))
    if len(text) <= keep:
        return text
    return (
        text[:keep] + f"\n\n[agentbox shortened this for the prompt: it was {len(text):,} characters; "
        f"only the first {keep:,} are shown.]"
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" […{len(text) - limit:,} more characters]"


def _recent_to_keep(sizes: list[int], allowance: int) -> int:
    """How many of the newest turns fit in `allowance` (at least one, at most all but one)."""
    keep, used = 0, 0
    for size in reversed(sizes):
        if keep >= 1 and used + size > allowance:
            break
        keep += 1
        used += size
    return min(keep, len(sizes) - 1)


async def _summarize(store: Store, older: list[StoredTurn], previous: str, summarize: Summarize) -> str:
    messages: list[ModelMessage] = []
    for turn in older:
        if turn.messages:
            messages.extend(await load_messages(store, turn.messages))
    text = transcript_text(messages)
    if previous:
        text = f"Earlier summary:\n{previous}\n\nConversation since:\n{text}"
    try:
        return (await summarize(text)).strip() or previous
    except Exception as exc:  # a failed summary must not fail the user's turn
        log.warning("summary failed (%s); keeping a truncated transcript instead", type(exc).__name__)
        return (previous + "\n" + text)[-4000:]
