"""Logging in and out: the login link `agentbox dashboard` asks for, redeeming it, the page for strangers."""

from __future__ import annotations

import logging

from aiohttp import web

from agentbox.gateway.control import Route, principal_of
from agentbox.web.auth import LINK_TTL
from agentbox.web.guard import SECURITY_HEADERS, misdirected, secured, wants_html
from agentbox.web.render import page
from agentbox.web.state import PanelState

log = logging.getLogger(__name__)

LOGIN_HELP = "run `agentbox dashboard` on the gateway's machine for a login link"


class Login:
    """`POST /ui/login-link` (gateway token only), `GET /login/{token}`, `GET /login`, `POST /ui/logout`."""

    def __init__(self, state: PanelState) -> None:
        self.state = state

    def token_routes(self) -> list[Route]:
        return [Route("POST", "/ui/login-link", self.new_link), Route("POST", "/ui/logout", self.logout)]

    def public_routes(self) -> list[Route]:
        return [
            Route("GET", "/login", self.help_page, auth="public"),
            Route("GET", "/login/{token}", self.redeem, auth="public"),
        ]

    async def new_link(self, request: web.Request) -> web.Response:
        # Only the gateway token mints logins: a panel session or an API key must not extend itself.
        if principal_of(request).kind != "owner":
            return web.json_response({"error": "only the gateway token can create login links"}, status=403)
        token = self.state.sessions.new_link()
        log.info("web panel: login link created (valid %d min, once)", LINK_TTL // 60)
        return web.json_response({"path": f"/login/{token}", "expires_in": LINK_TTL})

    async def redeem(self, request: web.Request) -> web.Response:
        cookie = self.state.sessions.redeem(request.match_info["token"])
        if cookie is None:
            log.warning("web panel: an unknown, used or expired login link was opened")
            return page(
                "login.html",
                status=403,
                title="Link expired",
                reason="This login link has expired or was already used.",
            )
        log.info("web panel: logged in through a login link")
        response = web.HTTPSeeOther("/", headers=SECURITY_HEADERS)
        response.set_cookie(self.state.cookie_name(), cookie, httponly=True, samesite="Strict", path="/")
        raise response

    async def help_page(self, request: web.Request) -> web.Response:
        return page("login.html", title="Log in", reason="You are not logged in.")

    async def logout(self, request: web.Request) -> web.Response:
        cookie = request.cookies.get(self.state.cookie_name())
        if cookie:
            self.state.sessions.end(cookie)
        response = web.HTTPSeeOther("/login", headers=SECURITY_HEADERS)
        response.del_cookie(self.state.cookie_name(), path="/")
        raise response

    async def unauthorized(self, request: web.Request) -> web.StreamResponse:
        """What a caller without credentials gets: a page saying how to log in (browser) or JSON (script)."""
        if not self.state.guard.allows(request.host):
            return misdirected(request.host)
        if wants_html(request) and request.method == "GET":
            return secured(page("login.html", status=401, title="Log in", reason="You are not logged in."))
        return secured(
            web.json_response(
                {
                    "error": "unauthorized: send 'Authorization: Bearer <AGENTBOX_HOME/gateway.token>', "
                    f"or in a browser {LOGIN_HELP}"
                },
                status=401,
            )
        )
