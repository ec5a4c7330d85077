"""The request's messages as one turn: what the user asks now, and what came before.

The last message must be the user's: its text and images are the turn. With a session (`user`
or `X-Agentbox-Session`) the session's stored history stands in for the earlier messages, so
a client may resend the whole conversation or only the new message. Without one the request
is stateless: the earlier messages become the turn's history (system and developer messages
as system prompts, user and assistant messages as they are; tool messages are skipped, since
the agent runs its own tools). Images are `data:` URLs (checked like any image: `[vision]`
types and size) or http(s) URLs, which the model service fetches itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)

from agentbox.api.wire import ApiError, ChatMessage, ImagePart
from agentbox.config import VisionConfig
from agentbox.messages import Attachment
from agentbox.turn.runner import user_content
from agentbox.vision import InputError, check_image_bytes


@dataclass(frozen=True, slots=True)
class TurnInput:
    """The new user message (text and images) and, for a stateless request, the messages before it."""

    text: str
    images: tuple[Attachment, ...]
    history: tuple[ModelMessage, ...] = ()


def turn_input(messages: Sequence[ChatMessage], vision: VisionConfig, *, stateless: bool) -> TurnInput:
    """Raises ApiError(400) for a conversation that does not end with the user, or a bad image."""
    last = messages[-1]
    if last.role != "user":
        raise ApiError(400, f"the last message must be the user's (it is {last.role!r})", param="messages")
    text, images = _content(last, vision, len(messages) - 1)
    if not text.strip() and not images:
        raise ApiError(400, "the last user message is empty", param="messages")
    history = _history(messages[:-1], vision) if stateless else ()
    return TurnInput(text, tuple(images), history)


def _history(messages: Sequence[ChatMessage], vision: VisionConfig) -> tuple[ModelMessage, ...]:
    history: list[ModelMessage] = []
    pending: list[ModelRequestPart] = []
    for index, message in enumerate(messages):
        text, images = _content(message, vision, index)
        if message.role in ("system", "developer"):
            pending.append(SystemPromptPart(text))
        elif message.role == "user":
            pending.append(UserPromptPart(user_content(text, images)))
        elif message.role == "assistant" and text:
            if pending:
                history.append(ModelRequest(parts=pending))
                pending = []
            history.append(ModelResponse(parts=[TextPart(text)]))
    if pending:
        history.append(ModelRequest(parts=pending))
    return tuple(history)


def _content(message: ChatMessage, vision: VisionConfig, index: int) -> tuple[str, list[Attachment]]:
    if message.content is None or isinstance(message.content, str):
        return message.content or "", []
    texts: list[str] = []
    images: list[Attachment] = []
    for part in message.content:
        if isinstance(part, ImagePart):
            images.append(_image(part.image_url.url, vision, index))
        else:
            texts.append(part.text)
    return "\n".join(texts), images


def _image(url: str, vision: VisionConfig, index: int) -> Attachment:
    where = f"messages.{index}.content"
    if url.startswith(("http://", "https://")):
        return Attachment("image", url=url)
    header, comma, encoded = url.partition(",")
    if not (url.startswith("data:") and comma and header.endswith(";base64")):
        raise ApiError(400, "an image_url must be a base64 data: URL or an http(s) URL", param=where)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "an image's data: URL is not valid base64", param=where) from None
    try:
        media_type = check_image_bytes(data, vision, name="an image in the request")
    except InputError as exc:
        raise ApiError(400, str(exc), param=where) from None
    return Attachment("image", data=data, media_type=media_type)
