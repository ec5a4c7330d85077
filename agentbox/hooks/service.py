"""The signed-webhook service: `POST /hooks/<name>` on the gateway's server, and the worker behind it.

A request is checked in this order, and nothing is stored until every check passed: the hook
exists (404), the body is within `max_body_bytes` (413), its HMAC-SHA256 signature matches
(401), the hook's rate limit allows it (429), the body is JSON (400). The rendered message is
then written to the inbox (channel `hook`, chat = the hook's name, message id = the delivery
id), and the sender gets `202 {"id": ...}` at once. A delivery id sent again
(`Idempotency-Key`, `X-Agentbox-Delivery` or GitHub's `X-GitHub-Delivery`) is stored once:
the retry gets `200 {"status": "duplicate"}`.

The worker takes each stored row, one at a time per hook in arrival order: `kind = "notify"` sends the rendered text to `deliver_to`;
`kind = "task"` runs it as a turn of the hook's agent in session `hook:<name>` (the spending
caps apply; the sender is `hook:<name>`) and sends the answer, unless `deliver_to = "none"`.
Sending goes through the gateway's delivery service, so a platform that is down gets it later
from the outbox. Rows a crash or a stop left pending are taken again on the next start; a turn
that already answered is not asked again (its stored reply is sent), so each delivery is
handled once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from agentbox.config import HookConfig
from agentbox.gateway.control import Authenticator, Route
from agentbox.gateway.replies import attachments_from_paths
from agentbox.gateway.requestbody import BodyTooLarge, read_body
from agentbox.hooks.ratelimit import TokenBucket
from agentbox.hooks.signature import verify
from agentbox.hooks.template import render
from agentbox.messages import Address, Inbound, Outbound
from agentbox.redaction import register_secrets
from agentbox.store.inbox import InboxRow
from agentbox.tasks import TaskSet

if TYPE_CHECKING:
    from agentbox.gateway.lifecycle import Gateway

log = logging.getLogger(__name__)

CHANNEL = "hook"  # inbox rows of webhooks: chat = the hook's name, message id = the delivery id
DELIVERY_HEADERS = ("Idempotency-Key", "X-Agentbox-Delivery", "X-GitHub-Delivery")
_DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces
MAX_ATTEMPTS = 3  # as the gateway's: a delivery that crashed us this often is marked failed


def hook_address(hook: HookConfig) -> Address | None:
    """Where a hook's result goes: `CHANNEL:CHAT[:THREAD]`, or None for "none"."""
    if hook.deliver_to == "none":
        return None
    channel, chat, *thread = hook.deliver_to.split(":", 2)
    return Address(channel, chat, thread[0] if thread else None)


def payload_of(body: bytes, content_type: str) -> Any:
    """The JSON payload: the body, or GitHub's form encoding (`payload=<json>`); ValueError if neither."""
    text = body.decode("utf-8")
    if content_type == "application/x-www-form-urlencoded":
        [text] = parse_qs(text, strict_parsing=True).get("payload") or [""]
    return json.loads(text)


class HookService:
    """The gateway service behind `POST /hooks/<name>`: checks and stores deliveries, then handles each
    once in the background (see the module docstring). Started after the connectors; `stop()` lets
    running deliveries finish for the grace period, the rest stay pending for the next start."""

    name = "hooks"

    def __init__(self, gateway: Gateway, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self._gateway = gateway
        self._config = gateway.config
        self._hooks = {hook.name: hook for hook in self._config.hooks}
        self._secrets = {hook.name: (env.get(hook.secret_env) or "").strip() for hook in self._config.hooks}
        register_secrets(*(secret for secret in self._secrets.values() if secret))
        self._buckets = {hook.name: TokenBucket(hook.rate_limit_per_minute) for hook in self._config.hooks}
        self._tasks = TaskSet("hooks", log)
        self._claimed: set[int] = set()  # rows being handled (or handled) by this run
        self._order = {hook.name: asyncio.Lock() for hook in self._config.hooks}  # one at a time, in order
        self._running = False
        for hook in self._config.hooks:
            if not self._secrets[hook.name]:
                log.error("hook %s: $%s is not set; every request to it is refused", hook.name, hook.secret_env)
            address = hook_address(hook)
            if address is not None and address.channel not in gateway.slots:
                log.warning(
                    "hook %s delivers to %s, which is not enabled: its results wait in the outbox until it is",
                    hook.name,
                    address.channel,
                )

    def routes(self) -> list[Route]:
        return [Route("POST", "/hooks/{name}", self.receive, auth="public")]

    def authenticators(self) -> list[Authenticator]:
        return []

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Handle what arrives from now on, and what a crash or a stop left pending."""
        self._running = True
        for row in await self._gateway.store.inbox.unfinished():
            if row.inbound.channel == CHANNEL:
                await self._resume(row)

    async def stop(self) -> None:
        self._running = False
        await self._tasks.aclose(grace=self._config.gateway.grace_period)  # the rest stay pending

    async def _resume(self, row: InboxRow) -> None:
        if row.attempts >= MAX_ATTEMPTS:
            log.error(
                "hook %s: delivery %s failed %d times; giving up",
                row.inbound.chat_id,
                row.inbound.message_id,
                row.attempts,
            )
            await self._gateway.store.inbox.finish([row.id], "failed", f"gave up after {row.attempts} attempts")
            return
        log.info("hook %s: resuming delivery %s left unfinished", row.inbound.chat_id, row.inbound.message_id)
        self._submit(row.id, row.inbound, row.turn_id)

    def _submit(self, row_id: int, inbound: Inbound, turn_id: int | None = None) -> None:
        if not self._running or row_id in self._claimed:
            return  # not started yet (start() takes it) or already taken
        self._claimed.add(row_id)
        self._tasks.spawn(self._in_order(row_id, inbound, turn_id), name=f"hook {inbound.chat_id} {inbound.message_id}")

    async def _in_order(self, row_id: int, inbound: Inbound, turn_id: int | None) -> None:
        lock = self._order.setdefault(inbound.chat_id, asyncio.Lock())  # asyncio locks are FIFO
        async with lock:
            await self._handle(row_id, inbound, turn_id)

    # -- the route -----------------------------------------------------------------------
    async def receive(self, request: Any) -> Any:
        from aiohttp import web

        name = request.match_info["name"]
        hook = self._hooks.get(name)
        if hook is None:
            return _error(404, f"no hook named {name!r}")
        secret = self._secrets[name]
        if not secret:
            return _error(503, f"hook {name!r} has no secret configured; see the gateway log")
        try:
            body = await read_body(request, hook.max_body_bytes)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        if not verify(secret, body, request.headers):
            log.warning("hook %s: refused a request with a missing or wrong signature", name)
            return _error(401, "missing or wrong signature (X-Agentbox-Signature: sha256=<HMAC-SHA256 of the body>)")
        delivery_id = next((request.headers[h].strip() for h in DELIVERY_HEADERS if h in request.headers), None)
        if delivery_id is not None and not _DELIVERY_ID.match(delivery_id):
            return _error(400, "the delivery id header must be 1-200 printable characters without spaces")
        if not self._buckets[name].take():
            wait = max(1, round(self._buckets[name].retry_after()))
            return _error(429, f"hook {name!r} is over its rate limit; retry later", {"Retry-After": str(wait)})
        try:
            payload = payload_of(body, request.content_type)
        except ValueError:
            return _error(400, "the body is not JSON (nor a form with a JSON `payload` field)")
        inbound = self._inbound(hook, delivery_id or uuid.uuid4().hex, payload, request.headers)
        row_id = await self._gateway.store.inbox.add(inbound)
        if row_id is None:
            log.info("hook %s: delivery %s seen before; not handled again", name, inbound.message_id)
            return web.json_response({"id": inbound.message_id, "hook": name, "status": "duplicate"}, status=200)
        log.info("hook %s: delivery %s accepted", name, inbound.message_id)
        self._submit(row_id, inbound)
        return web.json_response({"id": inbound.message_id, "hook": name, "status": "accepted"}, status=202)

    def _inbound(self, hook: HookConfig, delivery_id: str, payload: Any, headers: Mapping[str, str]) -> Inbound:
        text = render(hook.template, payload=payload, headers=headers, hook=hook.name)
        limit = self._config.gateway.max_message_chars
        if len(text) > limit:
            text = (
                text[:limit]
                + f"\n\n[The webhook's message was cut to its first {limit:,} of {len(text):,} characters.]"
            )
        return Inbound(
            channel=CHANNEL,
            chat_id=hook.name,
            message_id=delivery_id,
            sender_id=f"hook:{hook.name}",
            sender_name=hook.name,
            text=text,
            is_direct=True,
        )

    # -- the worker ----------------------------------------------------------------------
    async def _handle(self, row_id: int, inbound: Inbound, turn_id: int | None) -> None:
        inbox = self._gateway.store.inbox
        hook = self._hooks.get(inbound.chat_id)
        if hook is None:
            await inbox.finish([row_id], "failed", "the hook is no longer configured")
            return
        await inbox.start_attempt(row_id)
        if hook.kind == "notify":
            await self._send(hook, row_id, inbound, Outbound(inbound.text))
            return
        stored = await inbox.stored_reply(turn_id) if turn_id else None
        if stored is not None:  # answered before a crash: send that answer, ask no model again
            await self._send(hook, row_id, inbound, Outbound(stored.reply, attachments_from_paths(stored.attachments)))
            return
        await self._run_task(hook, row_id, inbound)

    async def _run_task(self, hook: HookConfig, row_id: int, inbound: Inbound) -> None:
        from agentbox.turn.runner import TurnRequest

        session = f"hook:{hook.name}"
        inbox = self._gateway.store.inbox
        await inbox.set_session([row_id], session)
        request = TurnRequest(
            session_key=session,
            text=inbound.text,
            agent_id=hook.agent,
            sender_id=inbound.sender_id,
            address=hook_address(hook),
        )
        result = await self._gateway.runner.run(request)
        if result.turn_id:
            await inbox.set_turn([row_id], result.turn_id)
        log.info("hook %s: delivery %s answered by %s (%s)", hook.name, inbound.message_id, result.model, result.status)
        if hook_address(hook) is None:
            await inbox.finish([row_id], "done" if result.ok else "failed", result.error)
            return
        await self._send(hook, row_id, inbound, Outbound(result.reply, tuple(result.attachments)))

    async def _send(self, hook: HookConfig, row_id: int, inbound: Inbound, outbound: Outbound) -> None:
        address = hook_address(hook)
        if address is None:
            await self._gateway.store.inbox.finish([row_id], "done")
            return
        outcome = await self._gateway.delivery.send(
            address, outbound, answers=[row_id], session_key=f"hook:{hook.name}", message_id=inbound.message_id
        )
        log.info("hook %s: delivery %s to %s: %s", hook.name, inbound.message_id, hook.deliver_to, outcome)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Any:
    from aiohttp import web

    return web.json_response({"error": message}, status=status, headers=headers)


def gateway_service(gateway: Gateway) -> HookService:
    """`GATEWAY_SERVICES` factory: the `[[hooks]]` of the config, served at `POST /hooks/<name>`."""
    return HookService(gateway)
