"""The AI/ML API: chat models for pydantic-ai, and a small httpx client for everything else.

- `ModelFactory.model(id)` gives an `OpenAIChatModel` on an `OpenAIProvider` pointed at the
  AI/ML API base URL, over an HTTP client with our bounded retries and `meta.usage` metering.
- `AimlapiClient` calls the non-chat endpoints (images, video, search models) with httpx and
  the same retry policy, raising `AimlapiError` with the API's own message.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from agentbox.config import Config, require_api_key
from agentbox.errors import AgentboxError
from agentbox.retry import HttpxRetryTransport, RetryPolicy, httpx2_retry_transport

if TYPE_CHECKING:
    from pydantic_ai.models.openai import OpenAIChatModel

log = logging.getLogger(__name__)

OPENCLAW_PREFIX = "aimlapi/"


def normalize_model_id(model_id: str) -> str:
    """Accept OpenClaw-style ids (`aimlapi/google/gemini-3-flash-preview`): the API wants no prefix."""
    model_id = model_id.strip()
    if model_id.startswith(OPENCLAW_PREFIX):
        model_id = model_id[len(OPENCLAW_PREFIX) :]
    if not model_id:
        raise ValueError("empty model id")
    return model_id


# -- usage metering ----------------------------------------------------------------


CREDITS_PER_USD = 2_000_000  # AI/ML API: $1 = 2,000,000 credits


@dataclass(slots=True)
class UsageMeter:
    """Cost the API reported (`meta.usage`) across the requests of one turn (or one voice call).

    `kinds` holds the USD of the calls that were not chat completions (stt, tts, image, video,
    other), so a turn's cost can be broken down by kind.
    """

    usd: float | None = None
    credits: float | None = None
    reported: float | None = None  # USD per call (usd_spent, else credits converted), summed
    kinds: dict[str, float] = field(default_factory=dict)

    def add(self, meta_usage: dict[str, Any], kind: str = "chat") -> None:
        usd = meta_usage.get("usd_spent")
        credits = meta_usage.get("credits_used")
        if isinstance(usd, int | float):
            self.usd = (self.usd or 0.0) + float(usd)
        if isinstance(credits, int | float):
            self.credits = (self.credits or 0.0) + float(credits)
        # Per call: an image priced in credits only still counts next to a chat priced in USD.
        if (cost := _usd_of(usd, credits)) is not None:
            self.reported = (self.reported or 0.0) + cost
            if kind != "chat":
                self.kinds[kind] = self.kinds.get(kind, 0.0) + cost


def _usd_of(usd: Any, credits: Any) -> float | None:
    if isinstance(usd, int | float):
        return float(usd)
    return float(credits) / CREDITS_PER_USD if isinstance(credits, int | float) else None


current_meter: contextvars.ContextVar[UsageMeter | None] = contextvars.ContextVar("agentbox_meter", default=None)


def record_usage(payload: Any, kind: str = "chat") -> None:
    """Add a response's `meta.usage` to the running meter (chat, and calls read without `request_json`)."""
    meter = current_meter.get()
    if meter is None or not isinstance(payload, dict):
        return
    meta = payload.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("usage"), dict):
        meter.add(meta["usage"], kind)


_KIND_OF_PATH = (("/stt/", "stt"), ("/tts", "tts"), ("/images/", "image"), ("/video/", "video"), ("/chat/", "chat"))


def call_kind(url: str) -> str:
    """What kind of spend a call to this endpoint is (`/v1/stt/create` → "stt"), for usage by kind."""
    path = httpx.URL(url).path
    return next((kind for marker, kind in _KIND_OF_PATH if marker in path), "other")


def _normalize_chat_json(payload: Any) -> bool:
    """Claude's non-streamed answers say `end_turn`; the OpenAI schema says `stop`."""
    changed = False
    if isinstance(payload, dict):
        for choice in payload.get("choices") or []:
            if isinstance(choice, dict) and choice.get("finish_reason") == "end_turn":
                choice["finish_reason"] = "stop"
                changed = True
    return changed


class _SseMeterStream:
    """Passes an SSE body through unchanged while reading any `meta.usage` in its events."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._buffer = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            if b'"meta"' in chunk or self._buffer:
                self._scan(chunk)
            yield chunk

    def _scan(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"data:") and b'"meta"' in line:
                try:
                    record_usage(json.loads(line[5:]))
                except ValueError:
                    pass
        if len(self._buffer) > 1_000_000:  # never hold a runaway line
            self._buffer = b""

    async def aclose(self) -> None:
        await self._inner.aclose()


def _metering_transport(inner: Any, module: Any) -> Any:
    class SseMeterStream(_SseMeterStream, module.AsyncByteStream):  # type: ignore[name-defined,misc]
        pass

    class MeteringTransport(module.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        async def handle_async_request(self, request: Any) -> Any:
            response = await inner.handle_async_request(request)
            if response.status_code != 200 or response.headers.get("content-encoding"):
                return response
            content_type = response.headers.get("content-type", "")
            if content_type.startswith("text/event-stream"):
                return module.Response(
                    200,
                    headers=response.headers,
                    stream=SseMeterStream(response.stream),
                    request=request,
                    extensions=response.extensions,
                )
            if "json" not in content_type:
                return response
            body = await response.aread()
            try:
                payload = json.loads(body)
            except ValueError:
                return module.Response(200, headers=response.headers, content=body, request=request)
            record_usage(payload)
            if _normalize_chat_json(payload):
                body = json.dumps(payload).encode()
            headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
            return module.Response(200, headers=headers, content=body, request=request)

        async def aclose(self) -> None:
            await inner.aclose()

    return MeteringTransport()


# -- chat models ---------------------------------------------------------------------


def _connection_transport(limits: Any) -> Any:
    """aiohttp under the openai SDK's httpx2 client (httpx-aiohttp's public httpx2 transport).

    httpcore's pool slows down sharply with many open connections: 1,000 concurrent
    streamed requests took ~8-10 s against a 1 s fake, ~3 s through aiohttp (bench/turns.py).
    """
    from httpx_aiohttp.httpx2 import AiohttpTransport

    return AiohttpTransport(limits=limits)


class ModelFactory:
    """One connection pool per process; a pydantic-ai model per model id."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._client: Any = None
        self._models: dict[str, OpenAIChatModel] = {}

    def _openai_client(self) -> Any:
        if self._client is None:
            import httpx2
            from openai import AsyncOpenAI

            api = self._config.aimlapi
            limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
            retrying = httpx2_retry_transport(_connection_transport(limits), RetryPolicy.from_config(api.retry))
            transport = _metering_transport(retrying, httpx2)
            http_client = httpx2.AsyncClient(
                transport=transport,
                timeout=httpx2.Timeout(api.timeout, connect=api.connect_timeout),
                limits=limits,
            )
            # Our transport retries (bounded, with jitter); the SDK's own retries would multiply them.
            self._client = AsyncOpenAI(
                base_url=api.base_url,
                api_key=require_api_key(self._config),
                http_client=http_client,
                max_retries=0,
            )
        return self._client

    def model(self, model_id: str) -> OpenAIChatModel:
        model_id = normalize_model_id(model_id)
        if model_id not in self._models:
            from pydantic_ai.models.openai import OpenAIChatModel
            from pydantic_ai.providers.openai import OpenAIProvider

            provider = OpenAIProvider(openai_client=self._openai_client())
            self._models[model_id] = OpenAIChatModel(model_id, provider=provider)
        return self._models[model_id]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._models.clear()


# -- non-chat endpoints --------------------------------------------------------------


class AimlapiError(AgentboxError):
    """A non-chat AI/ML API call failed; `message` is the API's own words when it gave some."""

    def __init__(self, status: int | None, message: str, *, request_id: str | None = None) -> None:
        super().__init__(f"AI/ML API error {status}: {message}" if status else f"AI/ML API error: {message}")
        self.status = status
        self.message = message
        self.request_id = request_id


def api_root(base_url: str) -> str:
    """`https://api.aimlapi.com/v1` → `https://api.aimlapi.com` (video lives under /v2)."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


class AimlapiClient:
    """httpx client for images, video and other non-chat endpoints, with bounded retries."""

    def __init__(self, config: Config, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._config = config
        api = config.aimlapi
        self.base_url = api.base_url
        self.root_url = api_root(api.base_url)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            api = self._config.aimlapi
            self._http = httpx.AsyncClient(
                transport=HttpxRetryTransport(
                    self._transport or httpx.AsyncHTTPTransport(), RetryPolicy.from_config(api.retry)
                ),
                timeout=httpx.Timeout(api.timeout, connect=api.connect_timeout),
                headers={"Authorization": f"Bearer {require_api_key(self._config)}"},
                follow_redirects=True,
            )
        return self._http

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Call an endpoint (absolute URL or path under the root); the response, or AimlapiError for a failure."""
        if not url.startswith(("http://", "https://")):
            url = self.root_url + url
        try:
            response = await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise AimlapiError(None, "the request timed out") from None
        except httpx.TransportError as exc:
            raise AimlapiError(None, f"cannot reach the API ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    async def request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Call an endpoint (absolute URL or path under the root) and return its JSON, or raise AimlapiError."""
        response = await self.request(method, url, **kwargs)
        payload = parse_json(response)
        record_usage(payload, call_kind(str(response.request.url)))
        return payload

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return await self.request_json("POST", path, json=body)

    async def download(self, url: str, *, max_bytes: int = 200 * 1024 * 1024) -> tuple[bytes, str]:
        """Fetch generated media (CDN URLs expire, so we keep the bytes). No auth header leaves for CDNs."""
        async with httpx.AsyncClient(timeout=self._config.aimlapi.timeout, follow_redirects=True) as client:
            async with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise AimlapiError(response.status_code, f"download failed for {url}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise AimlapiError(None, f"download larger than {max_bytes} bytes")
                    chunks.append(chunk)
                media_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
        return b"".join(chunks), media_type

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def parse_json(response: httpx.Response) -> Any:
    """The response's JSON body, or AimlapiError naming the malformed answer."""
    try:
        return response.json()
    except ValueError:
        raise AimlapiError(response.status_code, "the API answered with malformed JSON") from None


def _error_from(response: httpx.Response) -> AimlapiError:
    status = response.status_code
    request_id = None
    message = response.reason_phrase or "request failed"
    try:
        body = response.json()
        if isinstance(body, dict):
            request_id = body.get("requestId")
            raw = body.get("message") or body.get("error")
            if isinstance(raw, dict):
                raw = raw.get("message")
            if raw:
                message = str(raw)
    except ValueError:
        pass
    if status == 401:
        message = "the AI/ML API key was rejected (401); `agentbox doctor --online` checks it"
    elif status == 403:
        message = f"the AI/ML API refused the request (403): out of credits or a key limit. {message}"
    if request_id:
        log.warning("AI/ML API error %s (requestId %s)", status, request_id)
    return AimlapiError(status, message, request_id=request_id)
