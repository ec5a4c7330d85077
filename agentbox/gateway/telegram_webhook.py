"""Telegram's webhook on the gateway's one HTTP server: `POST /telegram/webhook`.

Mounted when `[channels.telegram] mode = "webhook"`. The route is public (Telegram sends no
bearer token) and proves its caller instead: every request must carry the
`X-Telegram-Bot-Api-Secret-Token` the connector registered with setWebhook, checked in
constant time before the body is even read. The update then goes to the running connector's
`receive`, which returns once the message is stored in the inbox; only then does Telegram get
its 200. While the connector is restarting, or when storing failed, Telegram gets an error and
sends the update again later, so nothing is lost. A reverse proxy forwards the public
`webhook_url` here; the gateway itself still listens on loopback (docs/telegram-webhook.md).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentbox.channels import get_channel
from agentbox.gateway.control import Authenticator, Route
from agentbox.gateway.requestbody import BodyTooLarge, read_body
from agentbox.messages import ConnectorError

if TYPE_CHECKING:
    from agentbox.gateway.lifecycle import Gateway

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024  # an update is a message's JSON; media stay on Telegram's servers


@runtime_checkable
class WebhookReceiver(Protocol):
    """A connector that takes updates from webhook requests (the Telegram connector in webhook mode)."""

    def accepts_secret(self, header: str) -> bool: ...

    async def receive(self, data: Any) -> None: ...


class TelegramWebhook:
    """The gateway service behind `POST /telegram/webhook`: checks Telegram's secret header, hands the
    update to the running connector, and answers 200 only once it is stored."""

    name = "telegram-webhook"

    def __init__(self, gateway: Gateway, *, channel: str = "telegram") -> None:
        self._gateway = gateway
        self._channel = channel
        settings = get_channel(channel).settings_in(gateway.config)
        self._enabled = settings.enabled and getattr(settings, "mode", "") == "webhook"

    def routes(self) -> list[Route]:
        return [Route("POST", WEBHOOK_PATH, self.handle, auth="public")] if self._enabled else []

    def authenticators(self) -> list[Authenticator]:
        return []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        try:
            connector = self._gateway.connector_now(self._channel)
        except ConnectorError as exc:  # restarting: Telegram retries
            return web.json_response({"ok": False, "error": str(exc)}, status=503)
        if not isinstance(connector, WebhookReceiver) or not connector.accepts_secret(
            request.headers.get(SECRET_HEADER, "")
        ):
            log.warning("telegram webhook: refused a request without the right secret token")
            return web.json_response({"ok": False, "error": "wrong or missing secret token"}, status=401)
        try:
            data = json.loads(await read_body(request, MAX_UPDATE_BYTES))
        except BodyTooLarge as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=413)
        except ValueError:
            return web.json_response({"ok": False, "error": "the body is not JSON"}, status=400)
        try:
            await connector.receive(data)
        except Exception as exc:  # not stored: an error makes Telegram send it again
            log.warning("telegram webhook: update not stored (%s); Telegram will send it again", exc)
            return web.json_response({"ok": False, "error": "not stored; send it again"}, status=500)
        return web.json_response({"ok": True})


def gateway_service(gateway: Gateway) -> TelegramWebhook:
    """`GATEWAY_SERVICES` factory: mounts the route when Telegram runs in webhook mode."""
    return TelegramWebhook(gateway)
