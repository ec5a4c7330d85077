"""The Chat Completions wire format, as OpenAI clients send and expect it.

Requests are validated leniently: unknown fields (`temperature`, `tools`, `max_tokens`, ...) are
accepted and ignored, because the agent's own configuration decides them. Errors use OpenAI's
shape, `{"error": {"message", "type", "param", "code"}}`, so SDKs raise their usual exceptions.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentbox.errors import AgentboxError


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Lenient):
    """A `{"type": "text"}` content part."""

    type: Literal["text"]
    text: str


class ImageURL(_Lenient):
    """The `image_url` of an image part: a `data:` URL or an http(s) URL."""

    url: str


class ImagePart(_Lenient):
    """A `{"type": "image_url"}` content part."""

    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ChatMessage(_Lenient):
    """One message of the conversation a client sends."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(_Lenient):
    """`stream_options`: only `include_usage` means anything here."""

    include_usage: bool = False


class ChatRequest(_Lenient):
    """A `POST /v1/chat/completions` body."""

    model: str
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = None  # one answer per request


class ApiError(AgentboxError):
    """A refused API request, answered with its HTTP status in OpenAI's error shape (`body`)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}


def parse_request(body: bytes) -> ChatRequest:
    """The request body, or ApiError(400) naming the first field that is wrong."""
    try:
        return ChatRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(400, f"{where}: {first['msg']}", param=where) from None


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one answer, as OpenAI reports them."""

    prompt_tokens: int
    completion_tokens: int

    def as_json(self) -> dict[str, int]:
        total = self.prompt_tokens + self.completion_tokens
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens, "total_tokens": total}


@dataclass(frozen=True, slots=True)
class Completion:
    """The identity every response and chunk of one answer shares."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def _base(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model, "system_fingerprint": None}

    def response(self, content: str, usage: Usage) -> dict[str, Any]:
        """The `chat.completion` object of a non-streamed answer."""
        message = {"role": "assistant", "content": content, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return {**self._base("chat.completion"), "choices": [choice], "usage": usage.as_json()}

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        """One `chat.completion.chunk` with a choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._base("chat.completion.chunk"), "choices": [choice]}

    def usage_chunk(self, usage: Usage) -> dict[str, Any]:
        """The last chunk when `stream_options.include_usage`: no choices, the usage."""
        return {**self._base("chat.completion.chunk"), "choices": [], "usage": usage.as_json()}


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event: `data: <json>` and a blank line."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()
