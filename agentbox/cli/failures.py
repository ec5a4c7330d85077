"""A failed turn explained to the owner at the terminal, where the chat wording would mislead.

Chat users read `friendly_error`'s sentence ("Try /model with another id"); the owner running
`agentbox agent` has flags, not chat commands, and can be told where the rejected key came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentbox.turn.runner import TurnResult


def terminal_failure(result: TurnResult, *, one_shot: bool) -> str | None:
    """The owner's wording for a 401 (and, for `agentbox agent`, a 404), else None (keep the reply)."""
    if result.http_status == 401:
        from agentbox.keysource import api_key_source

        return (
            f"The AI/ML API rejected the key (401). It came from {api_key_source()}: fix it there "
            "(new keys: https://aimlapi.com/app/keys)."
        )
    if result.http_status == 404 and one_shot:
        return (
            f"The AI/ML API does not know the model {result.model!r} (404). Run again with --model ID, "
            "or set [agents.main] model in config.toml (model ids: https://aimlapi.com/models)."
        )
    return None
