"""The OpenAI-compatible API: `GET /v1/models`, `POST /v1/chat/completions` on the gateway's port.

Authenticated like every route of the gateway's server: `Authorization: Bearer` with the gateway
token (the owner) or an API key from `agentbox tokens create` (limited to its agent and its daily
cap, if it has them). `model` is `agentbox/<agent>` or `<agent>`. A `user` field or an
`X-Agentbox-Session` header names a session, `api:<name>` (`api:<key name>:<name>` for an API key,
so keys never share a conversation), whose history agentbox keeps; without one every request
stands alone: its own messages are the whole conversation and nothing is remembered for the next.
Long-term memory is the caller's own: the key's (or the gateway token's), and each `user`'s under it
apart (identity `api:key:<key name>[:<user>]`, `api:owner[:<user>]`), never another caller's.
The agent runs its own tools here, on the gateway. The answer is a `chat.completion`, or with
`stream: true` a stream of `chat.completion.chunk` events (`stream_options.include_usage` adds the
usage chunk) ending with `data: [DONE]`; images the agent made are Markdown links to signed
`/media/<name>` URLs. Failures answer in OpenAI's error shape: 400 a bad body, 401 no valid
token, 404 an agent that does not exist (or that the key may not use), 413 a body over
`[api] max_body_bytes`, 429 a spending cap, 502 the model service failed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agentbox.api.convert import turn_input
from agentbox.api.keys import KIND, ApiKeyAuthenticator
from agentbox.api.media import ROUTE, MediaLinks
from agentbox.api.wire import ApiError, ChatRequest, Completion, Usage, parse_request, sse
from agentbox.gateway.control import Authenticator, Principal, Route, principal_of
from agentbox.gateway.requestbody import BodyTooLarge, read_body
from agentbox.messages import Address
from agentbox.turn.runner import TurnRequest, TurnResult
from agentbox.turn.usage import spent_since, utc_day_start

if TYPE_CHECKING:
    from agentbox.gateway.lifecycle import Gateway

log = logging.getLogger(__name__)

CHANNEL = "api"  # the channel API turns are recorded under (sessions, usage, caps)
MODEL_PREFIX = "agentbox/"
SESSION_HEADER = "X-Agentbox-Session"
_SESSION_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
KEEPALIVE = 15.0  # seconds of silence in a stream before a comment line keeps proxies from closing it
_TICK = object()  # the stream's queue had nothing for KEEPALIVE seconds


async def unauthorized(_: Any) -> Any:
    """The 401 of the API's routes, in OpenAI's shape (the server's default is agentbox's own)."""
    from aiohttp import web

    message = "Incorrect API key provided: send 'Authorization: Bearer <AGENTBOX_HOME/gateway.token or an API key>'"
    return web.json_response(ApiError(401, message, code="invalid_api_key").body, status=401)


class ChatApi:
    """The gateway service that serves the OpenAI-compatible API (see the module docstring)."""

    name = "api"

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._config = gateway.config
        self._media = MediaLinks(gateway.config.home)
        self._started = int(time.time())

    def routes(self) -> list[Route]:
        if not self._config.api.enabled:
            return []
        return [
            Route("GET", "/v1/models", self.models, unauthorized=unauthorized),
            Route("POST", "/v1/chat/completions", self.chat_completions, unauthorized=unauthorized),
            Route("*", "/v1/{rest:.*}", self.not_served, unauthorized=unauthorized),  # after the real ones
            Route("GET", ROUTE, self._media.serve, auth="public"),
        ]

    def authenticators(self) -> list[Authenticator]:
        return [ApiKeyAuthenticator(self._gateway.store.api_keys)] if self._config.api.enabled else []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- GET /v1/models ------------------------------------------------------------------
    async def models(self, request: Any) -> Any:
        from aiohttp import web

        allowed = principal_of(request).agent
        data = [
            {"id": MODEL_PREFIX + agent, "object": "model", "created": self._started, "owned_by": "agentbox"}
            for agent in self._config.agents
            if allowed in (None, agent)
        ]
        return web.json_response({"object": "list", "data": data})

    async def not_served(self, request: Any) -> Any:
        """Other OpenAI endpoints (embeddings, audio, ...): a 404 an SDK understands, naming what is served."""
        from aiohttp import web

        message = f"Invalid URL ({request.method} {request.path}): agentbox serves /v1/chat/completions and /v1/models"
        return web.json_response(ApiError(404, message, code="unknown_url").body, status=404)

    # -- POST /v1/chat/completions -------------------------------------------------------
    async def chat_completions(self, request: Any) -> Any:
        from aiohttp import web

        try:
            return await self._answer(request)
        except ApiError as exc:
            return web.json_response(exc.body, status=exc.status)

    async def _answer(self, request: Any) -> Any:
        from aiohttp import web

        principal = principal_of(request)
        try:
            body = await read_body(request, self._config.api.max_body_bytes)
        except BodyTooLarge as exc:
            raise ApiError(413, str(exc), code="request_too_large") from None
        chat = parse_request(body)
        turn = self._turn(request, chat, principal)
        await self._check_key_cap(turn, principal)
        answer = Completion(MODEL_PREFIX + turn.agent_id)
        base = self._config.api.public_url or f"{request.scheme}://{request.host}"
        if chat.stream:
            include_usage = chat.stream_options is not None and chat.stream_options.include_usage
            return await self._stream(request, turn, answer, base, include_usage=include_usage)
        result = _checked(await self._gateway.runner.run(turn))
        content = _joined(result.reply, self._media.markdown(result.attachments, base))
        return web.json_response(answer.response(content, _usage(result)))

    def _turn(self, request: Any, chat: ChatRequest, principal: Principal) -> TurnRequest:
        agent_id = self._agent(chat.model, principal)
        name = request.headers.get(SESSION_HEADER) or chat.user
        session = self._session(name, principal)
        given = turn_input(chat.messages, self._config.vision, stateless=session is None)
        sender = principal.name if principal.kind != KIND else f"key:{principal.name}"
        # The chat is the caller (agentbox.memory.scopes): the key, and the user under it when one is named.
        caller = sender if session is None or name is None else f"{sender}:{quote(name.strip(), safe='')}"
        return TurnRequest(
            session_key=session
            or f"api::once:{uuid.uuid4().hex[:16]}",  # this turn only; no key or owner name makes "api::"
            text=given.text,
            images=given.images,
            agent_id=agent_id,
            sender_id=sender,
            address=Address(CHANNEL, caller),
            history=None if session else given.history,
        )

    def _agent(self, model: str, principal: Principal) -> str:
        agent = model.removeprefix(MODEL_PREFIX)
        if agent not in self._config.agents or principal.agent not in (None, agent):
            raise ApiError(
                404,
                f"The model {model!r} does not exist or you do not have access to it (GET /v1/models lists yours)",
                code="model_not_found",
                param="model",
            )
        return agent

    @staticmethod
    def _session(name: str | None, principal: Principal) -> str | None:
        if name is None or not name.strip():
            return None
        name = name.strip()
        if not _SESSION_NAME.match(name):
            raise ApiError(400, "a session name (user) is 1 to 128 characters without control characters", param="user")
        if principal.kind == KIND:
            return f"api:{principal.name}:{name}"  # a key's name has no ':', so its sessions can't meet another's
        # The owner's: ':' escaped, so `user="app:sam"` is not key app's user sam (`api:app:sam`).
        return "api:" + name.replace("%", "%25").replace(":", "%3A")

    async def _check_key_cap(self, turn: TurnRequest, principal: Principal) -> None:
        """An API key's own daily cap (the config's caps are the runner's guards, checked in the turn)."""
        if principal.kind != KIND:
            return
        store = self._gateway.store
        key = await store.api_keys.get(principal.name)
        if key is None:
            raise ApiError(401, "this API key has been revoked", code="invalid_api_key")
        if key.usd_per_day is None:
            return
        spent = await spent_since(store.conn, utc_day_start(time.time()), channel=CHANNEL, sender_id=turn.sender_id)
        if spent >= key.usd_per_day:
            log.warning("api key %s reached its daily cap: $%.4f of $%.2f", key.name, spent, key.usd_per_day)
            raise ApiError(
                429,
                f"this API key reached its daily spending cap (${key.usd_per_day:.2f}); it resets at 00:00 UTC",
                type="insufficient_quota",
                code="daily_cap_reached",
            )

    # -- streaming -----------------------------------------------------------------------
    async def _stream(
        self, request: Any, turn: TurnRequest, answer: Completion, base: str, *, include_usage: bool
    ) -> Any:
        """SSE; a turn that fails before its first word still gets a plain HTTP error (a cap: 429)."""
        from aiohttp import web

        queue: asyncio.Queue[str | None] = asyncio.Queue()
        task = asyncio.create_task(self._run_streaming(turn, queue), name=f"api turn {turn.session_key}")
        try:
            item = await _next(queue)
            if item is None:
                _checked(await task)
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            )
            await response.prepare(request)
            sink = _Sink(response)
            await sink.write(sse(answer.chunk({"role": "assistant", "content": ""})))
            while item is not None:
                await sink.write(b": keep-alive\n\n" if item is _TICK else sse(answer.chunk({"content": item})))
                item = await _next(queue)
            await self._finish_stream(sink, answer, await task, base, include_usage=include_usage)
            return response
        finally:
            task.cancel()  # a no-op once the turn ended; stops it if the server cancelled this request

    async def _run_streaming(self, turn: TurnRequest, queue: asyncio.Queue[str | None]) -> TurnResult:
        try:
            return await self._gateway.runner.run(turn, on_delta=queue.put)
        finally:
            queue.put_nowait(None)

    async def _finish_stream(
        self, sink: _Sink, answer: Completion, result: TurnResult, base: str, *, include_usage: bool
    ) -> None:
        try:
            _checked(result)
        except ApiError as exc:  # mid-stream: OpenAI's SDKs raise on an `error` event
            await sink.write(sse(exc.body))
            await sink.write(sse("[DONE]"))
            return
        if links := self._media.markdown(result.attachments, base):
            await sink.write(sse(answer.chunk({"content": "\n\n" + links})))
        await sink.write(sse(answer.chunk({}, "stop")))
        if include_usage:
            await sink.write(sse(answer.usage_chunk(_usage(result))))
        await sink.write(sse("[DONE]"))


class _Sink:
    """Writes a stream until the client goes away; the turn still finishes and is recorded."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self.gone = False

    async def write(self, data: bytes) -> None:
        if self.gone:
            return
        try:
            await self._response.write(data)
        except ConnectionError:
            self.gone = True


async def _next(queue: asyncio.Queue[str | None]) -> Any:
    try:
        return await asyncio.wait_for(queue.get(), KEEPALIVE)
    except TimeoutError:
        return _TICK


def _checked(result: TurnResult) -> TurnResult:
    """The result of a turn that answered; ApiError for a refused (429) or failed (502) one."""
    if result.status == "refused":
        raise ApiError(429, result.reply, type="insufficient_quota", code="spending_cap_reached")
    if not result.ok:
        raise ApiError(502, result.reply, type="api_error", code=result.error)
    return result


def _usage(result: TurnResult) -> Usage:
    return Usage(result.usage.input_tokens, result.usage.output_tokens)


def _joined(text: str, links: str) -> str:
    return f"{text}\n\n{links}" if text and links else text or links


def gateway_service(gateway: Gateway) -> ChatApi:
    """`GATEWAY_SERVICES` factory: the OpenAI-compatible API (`[api] enabled`)."""
    return ChatApi(gateway)
