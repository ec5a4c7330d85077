"""The audio a turn heard, kept with its stored messages: a media reference, never the bytes.

The transcript is the user's prompt (what the model saw); the audio itself is stored once in the
`media` table and referenced from the request's `metadata` (which pydantic-ai never sends to a
model), so retention keeps it as long as the turn and nothing replays it to the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart

from agentbox.turn.history import MEDIA_REF  # the reference form retention looks for

AUDIO_KEY = "agentbox_audio"


def attach_audio(messages: Sequence[ModelMessage], digests: Sequence[str]) -> None:
    """Reference the heard audio (media hashes) from the request that carries the user's prompt."""
    if not digests:
        return
    for message in messages:
        if isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts):
            message.metadata = {**(message.metadata or {}), AUDIO_KEY: [MEDIA_REF + d for d in digests]}
            return
