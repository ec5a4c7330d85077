"""The panel's state-changing requests: approve, deny and revoke senders, open and close groups, reset sessions.

They do exactly what the CLI does (`agentbox pairing ...`, `agentbox sessions reset`), through the
same services, and take effect at once: access is read from the database for every message.
A browser form gets a redirect back with a notice; a script (gateway token) gets JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agentbox.channels import CHANNEL_NAMES
from agentbox.errors import AgentboxError
from agentbox.gateway.access import PairingError
from agentbox.gateway.control import Route
from agentbox.gateway.group_pairing import GroupPairing
from agentbox.web.guard import wants_html
from agentbox.web.state import PanelState

log = logging.getLogger(__name__)

Fields = dict[str, str]
Outcome = tuple[str, dict[str, Any]]  # (sentence for the owner, JSON for a script)


class BadRequest(AgentboxError):
    """A panel request missing a field or naming an unknown channel; the message says which."""


async def read_fields(request: web.Request) -> Fields:
    """Form fields (a browser) or a JSON object (a script), as strings."""
    if request.content_type == "application/json":
        data = await request.json()
        if not isinstance(data, dict):
            raise BadRequest("send a JSON object")
        return {str(k): str(v) for k, v in data.items()}
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def required(fields: Fields, name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise BadRequest(f"the {name} field is missing")
    return value


def channel_of(fields: Fields) -> str:
    name = required(fields, "channel").lower()
    if name not in CHANNEL_NAMES:
        raise BadRequest(f"unknown channel {name!r}: use one of {', '.join(CHANNEL_NAMES)}")
    return name


def back_to(fields: Fields, default: str) -> str:
    """Where a form returns: a path on this site only (never `//elsewhere` or a URL)."""
    target = fields.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else default


class Actions:
    """POST handlers; each is the CLI command of the same name, answered as page or JSON."""

    def __init__(self, state: PanelState) -> None:
        self.state = state
        self.groups = GroupPairing(state.store.groups, state.store.pairing)

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/ui/access/approve", self._handler(self.approve, "/ui/access")),
            Route("POST", "/ui/access/deny", self._handler(self.deny, "/ui/access")),
            Route("POST", "/ui/access/revoke", self._handler(self.revoke, "/ui/access")),
            Route("POST", "/ui/access/open-group", self._handler(self.open_group, "/ui/access")),
            Route("POST", "/ui/access/close-group", self._handler(self.close_group, "/ui/access")),
            Route("POST", "/ui/sessions/reset", self._handler(self.reset, "/ui/sessions")),
        ]

    def _handler(
        self, action: Callable[[Fields], Awaitable[Outcome]], default_back: str
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            fields: Fields = {}
            try:
                fields = await read_fields(request)
                sentence, data = await action(fields)
            except (PairingError, BadRequest) as exc:
                return self._answer(request, fields, default_back, "error", str(exc), {"error": str(exc)}, 400)
            return self._answer(request, fields, default_back, "ok", sentence, data, 200)

        return handle

    def _answer(
        self,
        request: web.Request,
        fields: Fields,
        default_back: str,
        kind: str,
        sentence: str,
        data: dict[str, Any],
        status: int,
    ) -> web.Response:
        if wants_html(request):
            self.state.notify(request, kind, sentence)
            raise web.HTTPSeeOther(back_to(fields, default_back))
        return web.json_response({**data, "message": sentence}, status=status)

    async def approve(self, fields: Fields) -> Outcome:
        channel = channel_of(fields)
        request = await self.state.gateway.pairing.approve(channel, required(fields, "code"))
        sent = await self.state.gateway.notices.send_due()  # what `POST /pairing/notify` does for the CLI
        told = "They were told they can talk now." if sent else "They are told as soon as the connector is ready."
        log.info("web panel: approved %s sender %s", channel, request.sender_id)
        return (
            f"Approved {channel} sender {request.sender_id} ({request.sender_name or 'no name'}). {told}",
            {"approved": {"channel": channel, "sender_id": request.sender_id}, "notified": sent},
        )

    async def deny(self, fields: Fields) -> Outcome:
        channel = channel_of(fields)
        request = await self.state.gateway.pairing.deny(channel, required(fields, "code"))
        log.info("web panel: denied %s sender %s", channel, request.sender_id)
        return (
            f"Denied {channel} sender {request.sender_id}: their code no longer works.",
            {"denied": {"channel": channel, "sender_id": request.sender_id}},
        )

    async def revoke(self, fields: Fields) -> Outcome:
        channel, sender = channel_of(fields), required(fields, "sender_id")
        await self.state.gateway.pairing.revoke(channel, sender)
        log.info("web panel: revoked %s sender %s", channel, sender)
        return f"Revoked {channel} sender {sender}: they have to pair again.", {"revoked": sender}

    async def open_group(self, fields: Fields) -> Outcome:
        channel = channel_of(fields)
        result = await self.groups.approve(channel, required(fields, "code_or_id"))
        verb = "was already open" if result.already else "is now open to everyone in it"
        return f"{channel} group {result.group_id} {verb}.", {"group_id": result.group_id, "already": result.already}

    async def close_group(self, fields: Fields) -> Outcome:
        channel, group = channel_of(fields), required(fields, "group_id")
        await self.groups.revoke(channel, group)
        return f"Closed {channel} group {group}.", {"closed": group}

    async def reset(self, fields: Fields) -> Outcome:
        key = required(fields, "key")
        if not await self.state.store.sessions.reset(key):
            raise BadRequest(f"no session {key}")
        return f"Session {key} starts afresh; its transcript is kept.", {"reset": key}
