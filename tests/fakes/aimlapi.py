"""A fake AI/ML API (api.aimlapi.com) on 127.0.0.1 that speaks the documented wire format.

The real `openai` SDK (through pydantic-ai's OpenAIChatModel, base_url = ``fake.url + "/v1"``)
and agentbox's own httpx client talk to it, so the JSON and SSE shapes follow
/work/shared/aimlapi/API-NOTES.md (§2 chat, §3 tools, §5 search, §6 images, §7 video,
§8 speech (`fake.speech`, tests/fakes/aimlapi_speech.py), §9 model list, §10 errors) rather than
whatever would be easiest to fake.

Tests script it with a queue of steps, one consumed per chat request::

    fake.script(Reply(tool_calls=[ToolCall("get_time", '{"tz":"UTC"}')]), Reply(text="It is noon."))
    fake.script(Fail(429, headers={"Retry-After": "1"}), Fail(500, times=3), Hang(30), Malformed())

With the queue empty a default responder echoes the conversation (``echo: <last user text>``,
``tool said: <tool output>``), so end-to-end tests work without scripting anything.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import itertools
import json
import math
import re
import struct
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal

from aiohttp import web

from tests.fakes.base import FakeServer

# --------------------------------------------------------------------------------------------
# Static payloads


def _make_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (255, 0, 128)) -> bytes:
    """A valid PNG built by hand: tests must be able to decode what the fake serves, without Pillow."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width  # filter byte 0 (None) + RGB pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


TINY_PNG: bytes = _make_png()
# An ISO-BMFF `ftyp` box so sniffers recognize it as MP4; players are never asked to decode it.
TINY_MP4: bytes = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2" + b"\x00" * 64

ERROR_MESSAGES: dict[int, str] = {  # API-NOTES §10: the documented message per status
    400: "Body validation error!",
    401: (
        "This request requires a valid API key. You can create a new API key on the Billing page: "
        "https://aimlapi.com/app/keys"
    ),
    403: (
        "You've run out of credits. Please top up your balance or update your payment method to continue: "
        "https://aimlapi.com/app/billing/"
    ),
    404: "Not Found",
    429: "Too Many Requests",
    500: "Something wrong with the server. Please, try again later.",
    502: "Bad Gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}

CREDITS_PER_USD = 2_000_000  # API-NOTES §1: $1 = 2,000,000 credits
CREDITS_PER_TOKEN = 20  # arbitrary but fixed, so auto-computed costs are predictable in tests

DEFAULT_SEARCH_SOURCES: list[tuple[str, str]] = [
    ("Example source one", "https://example.com/one"),
    ("Example source two", "https://example.org/two"),
]

_CHAT_FEATURES = [
    "openai/chat-completion",
    "openai/chat-completion.function",
    "openai/chat-completion.message.system",
    "openai/chat-completion.message.assistant",
    "openai/chat-completion.stream",
    "openai/chat-completion.max-completion-tokens",
]


def default_models() -> list[dict[str, Any]]:
    """A few catalogue entries in the `GET /v1/models` shape (API-NOTES §9)."""

    def chat(model_id: str, name: str, developer: str, features: list[str], ctx: int = 128_000) -> dict[str, Any]:
        return {
            "id": model_id,
            "type": "chat-completion",
            "info": {"name": name, "developer": developer, "description": f"{name} (fake)", "contextLength": ctx},
            "features": features,
            "endpoints": ["/v1/chat/completions"],
        }

    no_tools = [f for f in _CHAT_FEATURES if f != "openai/chat-completion.function"]
    no_system = [f for f in _CHAT_FEATURES if f != "openai/chat-completion.message.system"]
    return [
        chat("gpt-4o", "GPT-4o", "Open AI", _CHAT_FEATURES),
        chat(
            "openai/gpt-5-nano-2025-08-07",
            "GPT-5 nano",
            "Open AI",
            [*_CHAT_FEATURES, "openai/chat-completion.reasoning"],
        ),
        chat("anthropic/claude-sonnet-4.6", "Claude Sonnet 4.6", "Anthropic", _CHAT_FEATURES, 200_000),
        chat("google/gemini-3-flash-preview", "Gemini 3 Flash", "Google", _CHAT_FEATURES, 1_000_000),
        chat("google/gemma-3n-e4b-it", "Gemma 3n 4B", "Google", no_system, 32_000),
        chat("perplexity/sonar-pro", "Sonar Pro", "Perplexity", no_tools, 200_000),
        {
            "id": "flux/schnell",
            "type": "image",
            "info": {"name": "FLUX.1 schnell"},
            "features": [],
            "endpoints": ["/v1/images/generations"],
        },
        {
            "id": "openai/gpt-image-1",
            "type": "image",
            "info": {"name": "GPT Image 1"},
            "features": [],
            "endpoints": ["/v1/images/generations", "/v1/images/edits"],
        },
        {
            "id": "google/veo-3.1-t2v",
            "type": "video",
            "info": {"name": "Veo 3.1"},
            "features": [],
            "endpoints": ["/v2/video/generations"],
        },
    ]


# --------------------------------------------------------------------------------------------
# Script steps


class _Auto(enum.Enum):
    AUTO = "auto"


AUTO = _Auto.AUTO
"""Marker for "compute it": `Reply(usd=AUTO)` derives the cost; `Reply(usd=None)` omits the field."""


@dataclass
class ToolCall:
    """One function call the fake model asks for. `arguments` is the raw JSON string sent on the wire."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")

    @property
    def arguments_json(self) -> str:
        # A dict is a convenience for tests; the wire always carries a string (API-NOTES §3).
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Reply:
    """A successful chat completion. Every field is optional; unset ones are derived sensibly.

    usage: (prompt_tokens, completion_tokens); default estimated from message and reply sizes.
    credits/usd: `meta.usage.credits_used` / `usd_spent`; AUTO computes them, None omits the field.
    meta: False drops `meta` entirely (several real models return none).
    finish_reason: default "tool_calls" when there are tool calls, else "stop".
    model: the model name echoed back; default the requested one.
    citations/search_results/annotations: search extras; None = generated for `perplexity/` models.
    done: whether a stream ends with `data: [DONE]` (None = the fake's `send_done` setting).
    """

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: tuple[int, int] | None = None
    usd: float | _Auto | None = AUTO
    credits: int | _Auto | None = AUTO
    meta: bool = True
    finish_reason: str | None = None
    model: str | None = None
    reasoning_content: str | None = None
    citations: list[str] | None = None
    search_results: list[dict[str, Any]] | None = None
    annotations: list[dict[str, Any]] | None = None
    done: bool | None = None


@dataclass
class Fail:
    """An error response with the documented body (API-NOTES §10), repeated for `times` requests.

    body replaces the documented JSON body (a dict is sent as JSON, str/bytes verbatim).
    """

    status: int
    message: str | None = None
    headers: dict[str, str] | None = None
    times: int = 1
    body: dict[str, Any] | str | bytes | None = None


@dataclass
class Hang:
    """Say nothing for `seconds` (to trip client timeouts), then answer with the default responder."""

    seconds: float


@dataclass
class Malformed:
    """HTTP 200 with a body that is not valid JSON; for a stream, a garbage `data:` line."""


@dataclass
class CutStream:
    """Drop the connection after `after_chunks` SSE events (no finish chunk, no [DONE]).

    For a non-stream request the JSON body is cut short instead. `reply` is what was being sent
    (default: the default responder's answer).
    """

    after_chunks: int = 1
    reply: Reply | None = None


Step = Reply | Fail | Hang | Malformed | CutStream


def context_length_exceeded(limit_tokens: int, used_tokens: int) -> Fail:
    """The 400 an OpenAI-family model behind the AI/ML API answers when the prompt overflows its window.

    The body is OpenAI's error object (what the API passes through for these models), so the openai
    SDK and pydantic-ai classify it the way they classify the real one.
    """
    message = (
        f"This model's maximum context length is {limit_tokens} tokens. However, your messages resulted in "
        f"{used_tokens} tokens. Please reduce the length of the messages."
    )
    error = {
        "message": message,
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    return Fail(400, body={"error": error})


def window_limited(limit_tokens: int, fallback: Callable[[dict[str, Any]], Step]) -> Callable[[dict[str, Any]], Step]:
    """A responder for a model with a real context window: over `limit_tokens` it fails as the API does."""

    def respond(body: dict[str, Any]) -> Step:
        used = _estimate_tokens(_prompt_chars(body.get("messages") or []))
        return context_length_exceeded(limit_tokens, used) if used > limit_tokens else fallback(body)

    return respond


Responder = Callable[[dict[str, Any]], Step]
ImageFormat = Literal["url", "b64_json", "fal"]


@dataclass
class _Queued:
    """A queued step and how many more requests it answers: `Fail(times=3)` stays at the head of
    the queue for three requests without mutating the caller's dataclass."""

    step: Step
    remaining: int


@dataclass
class VideoJob:
    id: str
    model: str
    body: dict[str, Any]
    states: list[str]
    polls: int = 0

    @property
    def status(self) -> str:
        return self.states[min(self.polls, len(self.states)) - 1] if self.polls else "queued"


# --------------------------------------------------------------------------------------------
# Helpers


def message_text(content: Any) -> str:
    """Text of an OpenAI message `content`: a string, or the text parts of a list joined (images skipped)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", None)]
        return " ".join(t for t in texts if t)
    return str(content)


def _estimate_tokens(chars: int) -> int:
    return max(1, math.ceil(chars / 4))


def _prompt_chars(messages: list[Any]) -> int:
    total = 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        total += len(message_text(m.get("content")))
        for tc in m.get("tool_calls") or []:
            fn = tc.get("function") or {}
            total += len(fn.get("name") or "") + len(fn.get("arguments") or "")
    return total


def _split_text(text: str) -> list[str]:
    """Token-like pieces (`" world"`), so a stream has several content deltas as real ones do."""
    pieces = re.findall(r"\s*\S+|\s+", text)
    if len(pieces) == 1 and len(text) > 1:
        mid = len(text) // 2
        pieces = [text[:mid], text[mid:]]
    return pieces


def _split_arguments(arguments: str) -> list[str]:
    """At least two fragments whenever possible: clients must concatenate `arguments` deltas."""
    if len(arguments) < 2:
        return [arguments] if arguments else []
    n = min(4, len(arguments))
    size = math.ceil(len(arguments) / n)
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def _safe_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", value)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Form fields of a multipart body. The recording middleware already consumed the request
    stream, so aiohttp's `request.post()` cannot be used; the stdlib email parser reads the bytes."""
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, Any] = {}
    if not msg.is_multipart():
        return fields
    for part in msg.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            value: Any = {"filename": filename, "content_type": part.get_content_type(), "data": data}
        else:
            value = data.decode("utf-8", "replace")
        if name in fields:  # repeated fields (e.g. `image[]`) become lists
            prev = fields[name]
            fields[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            fields[name] = value
    return fields


# --------------------------------------------------------------------------------------------
# The server


@dataclass
class FakeAimlapi(FakeServer):
    """Fake AI/ML API. Settings are plain attributes; change them any time (they are read per request).

    api_key: None accepts any non-empty bearer token; a string must match exactly.
    latency: seconds slept before answering every request (benchmarks).
    chunk_delay: seconds slept between SSE events (tests of incremental delivery).
    send_done: end streams with `data: [DONE]` (the docs never show it; clients must cope without).
    stream_meta: also put `meta.usage` on the final usage chunk (real streams carry none).
    image_format: "url" (default), "b64_json" or "fal" (`images[]`); `response_format: b64_json`
        in a request also selects b64.
    video_states: statuses returned by successive polls of a new job; the last one sticks.
    video_error: the `error` object of a job whose status is "error".
    video_poll_status: set (e.g. 503): every status poll answers this error, an outage.
    search_fields: which search extras `perplexity/` models return.
    missing_files: names under /files/ that answer 404.
    responder: replaces the default echo responder when the script queue is empty.
    """

    api_key: str | None = None
    latency: float = 0.0
    peak_sleepers: int = 0  # most requests waiting out `latency` at once: proves concurrency untimed
    chunk_delay: float = 0.0
    send_done: bool = True
    stream_meta: bool = False
    image_format: ImageFormat = "url"
    video_states: list[str] = field(default_factory=lambda: ["queued", "generating", "completed"])
    video_error: dict[str, str] = field(
        default_factory=lambda: {"name": "GenerationError", "message": "The video could not be generated."}
    )
    video_poll_status: int | None = None
    video_credits: int = 420_000
    image_credits: int = 6_000
    search_fields: set[str] = field(default_factory=lambda: {"citations", "search_results", "annotations"})
    search_sources: list[tuple[str, str]] = field(default_factory=lambda: list(DEFAULT_SEARCH_SOURCES))
    models: list[dict[str, Any]] = field(default_factory=default_models)
    missing_files: set[str] = field(default_factory=set)
    responder: Responder | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        # Scripted steps per endpoint; "stt" and "tts" are `self.speech`'s.
        self._queues: dict[str, deque[_Queued]] = {k: deque() for k in ("chat", "images", "video", "stt", "tts")}
        self.video_jobs: dict[str, VideoJob] = {}
        self._closing = False
        self._sleepers: set[asyncio.Future[None]] = set()  # touched only on the server loop
        self._ids = itertools.count(1)
        from tests.fakes.aimlapi_speech import FakeSpeech  # it builds on this module

        self.speech = FakeSpeech(self)

    def __repr__(self) -> str:
        # The generated repr would dump every recorded request into pytest's failure output.
        return f"FakeAimlapi(url={self.url!r}, requests={len(self.requests)}, pending={self.pending})"

    # -- scripting -------------------------------------------------------------------------
    def script(self, *steps: Step) -> FakeAimlapi:
        """Queue steps for the next chat requests, one per request (in order)."""
        return self._enqueue("chat", steps)

    def script_images(self, *steps: Fail | Hang | Malformed) -> FakeAimlapi:
        """Queue failures for the next image generation/edit requests."""
        return self._enqueue("images", steps)

    def script_video(self, *steps: Fail | Hang | Malformed) -> FakeAimlapi:
        """Queue failures for the next video creation requests."""
        return self._enqueue("video", steps)

    def _enqueue(self, kind: str, steps: Iterable[Any]) -> FakeAimlapi:
        with self.lock:
            for step in steps:
                times = step.times if isinstance(step, Fail) else 1
                if times > 0:
                    self._queues[kind].append(_Queued(step, times))
        return self

    @property
    def pending(self) -> int:
        """Scripted chat steps not consumed yet (a test can assert its script was used up)."""
        with self.lock:
            return sum(q.remaining for q in self._queues["chat"])

    def _pop(self, kind: str) -> Step | None:
        with self.lock:
            queue = self._queues[kind]
            if not queue:
                return None
            entry = queue[0]
            entry.remaining -= 1
            if entry.remaining <= 0:
                queue.popleft()
            return entry.step

    def reset(self) -> None:
        """Forget recorded requests, queued steps and video jobs; settings stay as they are."""
        with self.lock:
            self.requests.clear()
            for queue in self._queues.values():
                queue.clear()
            self.video_jobs.clear()
        self.speech.reset()

    # -- inspection ------------------------------------------------------------------------
    def chat_requests(self) -> list[dict[str, Any]]:
        """JSON bodies of every chat completion request, oldest first."""
        return [r.json for r in self.requests_to("/chat/completions") if r.method == "POST"]

    def last_chat(self) -> dict[str, Any]:
        bodies = self.chat_requests()
        if not bodies:
            raise AssertionError("the fake AI/ML API received no chat request")
        return bodies[-1]

    def image_requests(self) -> list[dict[str, Any]]:
        """Bodies of image generation (JSON) and edit (multipart fields) requests, oldest first."""
        with self.lock:
            recorded = [r for r in self.requests if r.path.endswith(("/images/generations", "/images/edits"))]
        return [
            _parse_multipart(r.headers.get("Content-Type", ""), r.body) if r.path.endswith("/edits") else r.json
            for r in recorded
        ]

    def video_requests(self) -> list[dict[str, Any]]:
        return [r.json for r in self.requests_to("/video/generations") if r.method == "POST"]

    # -- lifecycle -------------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        for prefix in ("/v1", ""):  # the docs show both `/v1/chat/completions` and `/chat/completions`
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
        app.router.add_post("/v1/images/generations", self._images)
        app.router.add_post("/v1/images/edits", self._images)
        app.router.add_post("/v2/video/generations", self._video_create)
        app.router.add_get("/v2/video/generations", self._video_poll)
        app.router.add_get("/files/{name}", self._file)
        self.speech.setup_routes(app)

    async def _startup(self) -> None:
        self._closing = False  # a stopped fake may be started again
        await super()._startup()

    async def _shutdown(self) -> None:
        # Wake Hang/latency sleepers first: aiohttp waits for in-flight handlers on cleanup, and a
        # Hang(30) left behind by a timed-out client would otherwise stall `stop()`.
        self._closing = True
        for waiter in list(self._sleepers):
            if not waiter.done():
                waiter.set_result(None)
        await super()._shutdown()

    async def _sleep(self, seconds: float) -> None:
        """asyncio.sleep that shutdown can cut short. A bare future + call_later (no task per
        sleep) keeps the per-request cost low when the benchmark parks 1,000 requests here."""
        if seconds <= 0 or self._closing:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, lambda: waiter.done() or waiter.set_result(None))
        self._sleepers.add(waiter)
        self.peak_sleepers = max(self.peak_sleepers, len(self._sleepers))
        try:
            await waiter
        finally:
            timer.cancel()
            self._sleepers.discard(waiter)

    # -- shared response helpers -----------------------------------------------------------
    def error_response(
        self,
        request: web.Request,
        status: int,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | str | bytes | None = None,
    ) -> web.Response:
        if body is None:
            payload: dict[str, Any] = {
                "message": message or ERROR_MESSAGES.get(status, "Error"),
                "path": request.path,
                "requestId": str(uuid.uuid4()),
                "statusCode": str(status),  # a string in the documented example
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            return web.json_response(payload, status=status, headers=headers)
        if isinstance(body, dict):
            return web.json_response(body, status=status, headers=headers)
        data = body.encode() if isinstance(body, str) else body
        return web.Response(body=data, status=status, headers=headers, content_type="application/json")

    def _check_auth(self, request: web.Request) -> web.Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or (self.api_key is not None and token != self.api_key):
            return self.error_response(request, 401)
        return None

    async def _json_body(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def _meta(self, total_tokens: int, credits: int | _Auto | None, usd: float | _Auto | None) -> dict[str, Any]:
        c = total_tokens * CREDITS_PER_TOKEN if credits is AUTO else credits
        u = (c or total_tokens * CREDITS_PER_TOKEN) / CREDITS_PER_USD if usd is AUTO else usd
        usage: dict[str, Any] = {}
        if c is not None:
            usage["credits_used"] = c
        if u is not None:
            usage["usd_spent"] = u
        return {"usage": usage}

    # -- chat ------------------------------------------------------------------------------
    def default_reply(self, body: dict[str, Any]) -> Reply:
        """`echo: <last user text>`, or `tool said: <output>` after tool results."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        trailing_tools: list[str] = []
        for m in reversed(messages):
            if m.get("role") != "tool":
                break
            trailing_tools.insert(0, message_text(m.get("content")))
        if trailing_tools:
            # Parallel tool calls end with several tool messages; report them all, in order.
            return Reply(text="tool said: " + " | ".join(trailing_tools))
        for m in reversed(messages):
            if m.get("role") == "user":
                return Reply(text=f"echo: {message_text(m.get('content'))}")
        return Reply(text="ok")

    def _next_step(self, body: dict[str, Any]) -> Step:
        step = self._pop("chat")
        if step is not None:
            return step
        if self.responder is not None:
            return self.responder(body)
        return self.default_reply(body)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        await self._sleep(self.latency)
        if (denied := self._check_auth(request)) is not None:
            return denied
        body = await self._json_body(request)
        if body is None or not body.get("model") or not isinstance(body.get("messages"), list):
            return self.error_response(request, 400, "Body validation error! 'model' and 'messages' are required")
        step = self._next_step(body)
        stream = bool(body.get("stream"))
        if isinstance(step, Hang):
            await self._sleep(step.seconds)
            step = self.responder(body) if self.responder is not None else self.default_reply(body)
            if isinstance(step, Hang):  # a responder answering Hang again would hang forever
                step = self.default_reply(body)
        if isinstance(step, Fail):
            return self.error_response(request, step.status, step.message, step.headers, step.body)
        if isinstance(step, Malformed):
            if stream:
                return await self._stream_garbage(request, body)
            return web.Response(
                body=b'{"id": "chatcmpl-broken", "choices": [{"message": ', content_type="application/json"
            )
        cut: int | None = None
        if isinstance(step, CutStream):
            cut = step.after_chunks
            step = step.reply or self.default_reply(body)
        assert isinstance(step, Reply)
        if stream:
            return await self._stream(request, body, step, cut)
        payload = json.dumps(self._completion(body, step)).encode()
        if cut is not None:
            return await self._send_truncated(request, payload)
        return web.Response(body=payload, content_type="application/json")

    def _is_search(self, model: str) -> bool:
        return model.startswith("perplexity/")

    def _search_extras(self, body: dict[str, Any], reply: Reply, text: str) -> dict[str, Any]:
        """Perplexity-style extras (API-NOTES §5): top-level citations/search_results, message annotations."""
        search = self._is_search(str(body.get("model", "")))
        out: dict[str, Any] = {}
        citations = reply.citations
        if citations is None and search and "citations" in self.search_fields:
            citations = [url for _, url in self.search_sources]
        if citations is not None:
            out["citations"] = citations
        results = reply.search_results
        if results is None and search and "search_results" in self.search_fields:
            results = [{"title": t, "url": u, "date": "2026-01-15"} for t, u in self.search_sources]
        if results is not None:
            out["search_results"] = results
        annotations = reply.annotations
        if annotations is None and search and "annotations" in self.search_fields:
            annotations = [
                {
                    "type": "url_citation",
                    "url_citation": {"url": u, "title": t, "start_index": 0, "end_index": len(text)},
                }
                for t, u in self.search_sources
            ]
        if annotations is not None:
            out["annotations"] = annotations
        return out

    def _usage(self, body: dict[str, Any], reply: Reply, text: str) -> dict[str, Any]:
        if reply.usage is not None:
            prompt, completion = reply.usage
        else:
            prompt = _estimate_tokens(_prompt_chars(body.get("messages") or []))
            args = sum(len(tc.name) + len(tc.arguments_json) for tc in reply.tool_calls)
            completion = _estimate_tokens(len(text) + len(reply.reasoning_content or "") + args)
        reasoning = _estimate_tokens(len(reply.reasoning_content)) if reply.reasoning_content else 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    @staticmethod
    def _finish_reason(reply: Reply) -> str:
        return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        text = reply.text or ""
        extras = self._search_extras(body, reply, text)
        message: dict[str, Any] = {
            "role": "assistant",
            # OpenAI sends null content alongside tool calls with no text.
            "content": reply.text if reply.text is not None or not reply.tool_calls else None,
            "refusal": None,
            "tool_calls": [
                {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments_json}}
                for tc in reply.tool_calls
            ]
            or None,
        }
        if reply.reasoning_content is not None:
            message["reasoning_content"] = reply.reasoning_content
        if "annotations" in extras:
            message["annotations"] = extras.pop("annotations")
        usage = self._usage(body, reply, text)
        out: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body.get("model"),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish_reason(reply)}
            ],
            "usage": usage,
            **extras,
        }
        if reply.meta:
            out["meta"] = self._meta(usage["total_tokens"], reply.credits, reply.usd)
        return out

    def _chunks(self, body: dict[str, Any], reply: Reply) -> Iterator[dict[str, Any]]:
        """The SSE events of one streamed completion, in the OpenAI order (API-NOTES §2.7)."""
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": reply.model or body.get("model"),
        }
        text = reply.text or ""
        extras = self._search_extras(body, reply, text)
        annotations = extras.pop("annotations", None)

        def chunk(delta: dict[str, Any], finish: str | None = None, **top: Any) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**base, "choices": [choice], "usage": None, **top}

        yield chunk({"role": "assistant", "content": "", "refusal": None}, **extras)
        if reply.reasoning_content:
            for piece in _split_text(reply.reasoning_content):
                yield chunk({"content": None, "reasoning_content": piece})
        for piece in _split_text(text):
            yield chunk({"content": piece})
        if annotations:
            yield chunk({"annotations": annotations})
        for index, tc in enumerate(reply.tool_calls):
            first = {"index": index, "id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": ""}}
            yield chunk({"tool_calls": [first]})
            for fragment in _split_arguments(tc.arguments_json):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        yield chunk({}, self._finish_reason(reply), **extras)
        usage = self._usage(body, reply, text)
        final: dict[str, Any] = {**base, "choices": [], "usage": usage}
        if self.stream_meta and reply.meta:
            final["meta"] = self._meta(usage["total_tokens"], reply.credits, reply.usd)
        yield final

    async def _start_sse(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        return resp

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply, cut: int | None
    ) -> web.StreamResponse:
        resp = await self._start_sse(request)
        try:
            for n, event in enumerate(self._chunks(body, reply)):
                if cut is not None and n >= cut:
                    return self._abort(request, resp)
                if n:
                    await self._sleep(self.chunk_delay)
                await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            if cut is not None:  # asked to cut after more chunks than the reply has: still cut
                return self._abort(request, resp)
            if reply.done if reply.done is not None else self.send_done:
                await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass  # the client went away mid-stream (timeouts, cancelled turns): nothing to tell it
        return resp

    async def _stream_garbage(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        resp = await self._start_sse(request)
        first = next(self._chunks(body, Reply(text="x")))
        await resp.write(b"data: " + json.dumps(first).encode() + b"\n\n")
        await resp.write(b'data: {"choices": [{"delta": {"content": "oops\n\n')
        await resp.write_eof()
        return resp

    @staticmethod
    def _abort(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
        # Abort (RST) instead of finishing the chunked body, so the client sees a broken stream, not
        # a clean end. aiohttp then skips its own write_eof because the transport is gone.
        if request.transport is not None:
            request.transport.abort()
        return resp

    async def _send_truncated(self, request: web.Request, payload: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        resp.content_length = len(payload)
        await resp.prepare(request)
        await resp.write(payload[: len(payload) // 2])
        return self._abort(request, resp)

    # -- models ----------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        # The catalogue needs no key (API-NOTES §9) and is a bare JSON array.
        await self._sleep(self.latency)
        models = self.models
        if wanted := request.query.get("id"):
            models = [m for m in models if m.get("id") == wanted]
        return web.json_response(models)

    # -- images ----------------------------------------------------------------------------
    async def _media_step(self, request: web.Request, kind: str) -> web.Response | None:
        return await self._scripted_failure(request, self._pop(kind), malformed=b'{"data": [{"url": ')

    async def _scripted_failure(self, request: web.Request, step: Any, *, malformed: bytes) -> web.Response | None:
        """The answer a scripted Fail or Malformed step gives; a Hang waits, then lets the request go on."""
        if isinstance(step, Fail):
            return self.error_response(request, step.status, step.message, step.headers, step.body)
        if isinstance(step, Hang):
            await self._sleep(step.seconds)
        if isinstance(step, Malformed):
            return web.Response(body=malformed, content_type="application/json")
        return None

    async def _images(self, request: web.Request) -> web.Response:
        await self._sleep(self.latency)
        if (denied := self._check_auth(request)) is not None:
            return denied
        if request.path.endswith("/edits"):
            form = _parse_multipart(request.headers.get("Content-Type", ""), await request.read())
            if not form.get("model") or (not form.get("image") and not form.get("image[]")):
                return self.error_response(request, 400, "Body validation error! 'model' and 'image' are required")
            body: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            parsed = await self._json_body(request)
            if parsed is None or not parsed.get("model"):
                return self.error_response(request, 400, "Body validation error! 'model' is required")
            body = parsed
        if (scripted := await self._media_step(request, "images")) is not None:
            return scripted
        count = body.get("num_images") or body.get("n") or 1
        try:
            count = max(1, min(4, int(count)))
        except (TypeError, ValueError):
            count = 1
        names = [f"img-{next(self._ids)}-{uuid.uuid4().hex[:8]}.png" for _ in range(count)]
        fmt: ImageFormat = "b64_json" if body.get("response_format") == "b64_json" else self.image_format
        meta = {"usage": {"credits_used": self.image_credits * count}}
        if fmt == "fal":
            size = body.get("image_size") if isinstance(body.get("image_size"), dict) else {}
            width, height = int(size.get("width", 1024)), int(size.get("height", 1024))
            images = [
                {"url": f"{self.url}/files/{n}", "content_type": "image/png", "width": width, "height": height}
                for n in names
            ]
            payload: dict[str, Any] = {
                "images": images,
                "seed": 42,
                "has_nsfw_concepts": [False] * count,
                "timings": {},
                "prompt": body.get("prompt", ""),
                "meta": meta,
            }
        elif fmt == "b64_json":
            encoded = base64.b64encode(TINY_PNG).decode()
            payload = {"created": int(time.time()), "data": [{"b64_json": encoded} for _ in names], "meta": meta}
        else:
            payload = {
                "created": int(time.time()),
                "data": [{"url": f"{self.url}/files/{n}"} for n in names],
                "meta": meta,
            }
        return web.json_response(payload)

    # -- video -----------------------------------------------------------------------------
    async def _video_create(self, request: web.Request) -> web.Response:
        await self._sleep(self.latency)
        if (denied := self._check_auth(request)) is not None:
            return denied
        body = await self._json_body(request)
        if body is None or not body.get("model"):
            return self.error_response(request, 400, "Body validation error! 'model' is required")
        if (scripted := await self._media_step(request, "video")) is not None:
            return scripted
        job_id = f"{uuid.uuid4()}:{body['model']}"  # the id embeds the model after ':' (API-NOTES §7)
        with self.lock:
            self.video_jobs[job_id] = VideoJob(job_id, str(body["model"]), body, list(self.video_states) or ["queued"])
        return web.json_response({"id": job_id, "status": "queued"})

    async def _video_poll(self, request: web.Request) -> web.Response:
        await self._sleep(self.latency)
        if (denied := self._check_auth(request)) is not None:
            return denied
        if self.video_poll_status is not None:
            return self.error_response(request, self.video_poll_status)
        job_id = request.query.get("generation_id", "")
        with self.lock:
            job = self.video_jobs.get(job_id)
            if job is not None:
                job.polls += 1
                status = job.status
        if job is None:
            return self.error_response(request, 404, f"Generation {job_id!r} not found")
        payload: dict[str, Any] = {"id": job.id, "status": status}
        if status == "completed":
            payload["video"] = {"url": f"{self.url}/files/{_safe_name(job.id)}.mp4"}
            payload["meta"] = {"usage": {"credits_used": self.video_credits}}
        elif status == "error":
            payload["error"] = dict(self.video_error)
        return web.json_response(payload)

    # -- files -----------------------------------------------------------------------------
    async def _file(self, request: web.Request) -> web.Response:
        await self._sleep(self.latency)
        name = request.match_info["name"]
        if name in self.missing_files:
            return self.error_response(request, 404, "File not found")
        if (speech := self.speech.file(name)) is not None:
            return speech
        if name.endswith(".png"):
            return web.Response(body=TINY_PNG, content_type="image/png")
        if name.endswith(".mp4"):
            return web.Response(body=TINY_MP4, content_type="video/mp4")
        return web.Response(body=b"fake file " + name.encode(), content_type="application/octet-stream")


__all__ = [
    "AUTO",
    "ERROR_MESSAGES",
    "TINY_MP4",
    "TINY_PNG",
    "CutStream",
    "Fail",
    "FakeAimlapi",
    "Hang",
    "Malformed",
    "Reply",
    "Responder",
    "Step",
    "ToolCall",
    "VideoJob",
    "message_text",
]
