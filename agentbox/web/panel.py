"""`WebPanel`: the web control panel as a gateway service that serves HTTP (a `WebFeature`).

Registered in `agentbox.runtime.GATEWAY_SERVICES`; `[web] enabled = false` mounts nothing.
Every page and action is a `token` route: the gateway token (scripts) or a panel session
cookie (browsers) opens it, and the Host check, owner-only rule and security headers wrap it.
Public routes are the login link, the "how to log in" page and the static files.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from agentbox.gateway.control import Authenticator, Route
from agentbox.tasks import TaskSet
from agentbox.web.actions import Actions
from agentbox.web.auth import CookieAuthenticator, WebSessions
from agentbox.web.chat import Chat
from agentbox.web.guard import HostGuard, host_checked, owner_only
from agentbox.web.login import Login
from agentbox.web.logtail import LogTail
from agentbox.web.pages import Pages
from agentbox.web.render import STATIC_TYPES, static_bytes
from agentbox.web.state import PanelState

if TYPE_CHECKING:
    from agentbox.gateway.lifecycle import Gateway

log = logging.getLogger(__name__)

STATIC_CACHE = "public, max-age=31536000, immutable"  # URLs carry the file's hash


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    data = static_bytes(name)
    if data is None:
        raise web.HTTPNotFound(text="no such file\n")
    return web.Response(body=data, content_type=STATIC_TYPES["." + name.rsplit(".", 1)[1]])


class WebPanel:
    """The panel: its pages, actions, chat and log tail, mounted on the gateway's server; its
    turns and event streams end (after `gateway.grace_period` for turns) when the gateway stops.
    """

    name = "web panel"

    def __init__(self, gateway: Gateway) -> None:
        config = gateway.config
        self.enabled = config.web.enabled
        self.state = PanelState(
            gateway=gateway,
            sessions=WebSessions(idle_seconds=config.web.session_hours * 3600),
            guard=HostGuard(config.gateway.host, config.web.allowed_hosts, lambda: self.state.port),
            tasks=TaskSet("web panel", log),
        )
        self.login = Login(self.state)

    async def start(self) -> None:
        self.state.closing.clear()
        if self.enabled:
            log.info("web panel on http://127.0.0.1:%d/ (log in with `agentbox dashboard`)", self.state.port)

    async def stop(self) -> None:
        self.state.closing.set()  # ends log tails
        await self.state.tasks.aclose(grace=self.state.config.gateway.grace_period)

    def routes(self) -> list[Route]:
        if not self.enabled:
            return []
        guard = self.state.guard
        owned = [
            *self.login.token_routes(),
            *Pages(self.state).routes(),
            *Actions(self.state).routes(),
            *Chat(self.state).routes(),
            *LogTail(self.state).routes(),
        ]
        routes = [
            Route(r.method, r.path, owner_only(r.handler, guard), unauthorized=self.login.unauthorized) for r in owned
        ]
        public = [*self.login.public_routes(), Route("GET", "/ui/static/{name}", static_file, auth="public")]
        for route in public:
            cache = STATIC_CACHE if route.path.startswith("/ui/static") else "no-store"
            routes.append(
                Route(route.method, route.path, host_checked(route.handler, guard, cache=cache), auth="public")
            )
        return routes

    def authenticators(self) -> list[Authenticator]:
        if not self.enabled:
            return []
        return [CookieAuthenticator(self.state.sessions, self.state.guard, self.state.cookie_name)]


def gateway_service(gateway: Gateway) -> WebPanel:
    return WebPanel(gateway)
