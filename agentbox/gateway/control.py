"""The gateway's one HTTP server: `GET /health`, `GET /status`, POST actions, and routes features mount.

Actions are what the CLI asks of a running gateway, e.g. `POST /pairing/notify` after an approval.

Everything web-facing is served here, behind one auth layer. A feature (the OpenAI-compatible
API, signed webhooks, Telegram's webhook, the web panel) mounts `Route`s with `add_route` before
`start()`; each route says how it is authenticated:

- `auth="token"` (the default): some `Authenticator` must accept the request. The first one
  checks `Authorization: Bearer <gateway token>`; features add others with `add_authenticator`
  (API keys, a web session cookie). The accepting one's `Principal` is `principal_of(request)`.
- `auth="public"`: no bearer needed, because the route proves the caller itself (an HMAC
  signature, Telegram's secret-token header, a one-time login link). Such a route must check
  before it does or stores anything.

A `token` route may name an `unauthorized` handler: what a caller nobody vouches for gets
instead of the JSON 401 (the OpenAI-compatible API: OpenAI's error shape; a browser: a page saying
how to log in).

The token is generated into `AGENTBOX_HOME/gateway.token` (mode 0600) on first start and
reused afterwards; `agentbox status` reads it from there. The address actually bound (port 0
picks a free one) is written to `AGENTBOX_HOME/gateway.json` so the CLI finds the gateway.
"""

from __future__ import annotations

import errno
import functools
import hmac
import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agentbox.errors import AgentboxError
from agentbox.paths import write_private
from agentbox.redaction import register_secrets

log = logging.getLogger(__name__)

StatusProvider = Callable[[], Awaitable[dict[str, Any]]]
Action = Callable[[], Awaitable[dict[str, Any]]]
Handler = Callable[[Any], Awaitable[Any]]  # aiohttp: web.Request -> web.StreamResponse
AuthMode = Literal["token", "public"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: the owner (gateway token), an API key, a web session."""

    kind: str  # "owner" | "api_key" | "session" | whatever an authenticator names
    name: str = "owner"
    agent: str | None = None  # set: this principal may use only this agent


Authenticator = Callable[[Any], Awaitable[Principal | None]]
"""Given an aiohttp request, the principal it proves, or None (try the next one, then 401)."""


@functools.cache
def _principal_key() -> Any:
    from aiohttp import web  # only the gateway needs aiohttp's server side

    return web.RequestKey("principal", Principal)


def principal_of(request: Any) -> Principal:
    """Who made this request to a `token` route (set by the auth layer before the handler runs)."""
    principal: Principal = request[_principal_key()]
    return principal


@dataclass(frozen=True, slots=True)
class Route:
    """One route a feature mounts on the gateway's server (aiohttp path syntax: `/media/{hash}`)."""

    method: str
    path: str
    handler: Handler
    auth: AuthMode = "token"
    unauthorized: Handler | None = None  # answers a caller no authenticator accepts, instead of the JSON 401


TOKEN_FILE = "gateway.token"
ADDRESS_FILE = "gateway.json"


class ControlError(AgentboxError):
    """The endpoint cannot be served as configured (non-loopback without consent, port taken)."""


def load_or_create_token(home: Path) -> str:
    path = home / TOKEN_FILE
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)  # someone loosened it; a readable token is a shell on the agent
            return token
    token = secrets.token_urlsafe(32)
    write_private(path, token + "\n")
    return token


def read_token(home: Path) -> str | None:
    try:
        return (home / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname could resolve anywhere


def port_in_use(host: str, port: int) -> str:
    """What to say when the gateway's port is taken: which key moves it, and where."""
    from agentbox.paths import config_path

    return (
        f"port {port} on {host} is already in use by another program: set another port with `port = {port + 1}` "
        f"under [gateway] in {config_path()} (the gateway.port key), or stop the program using it"
    )


def check_bind(host: str, allow_non_loopback: bool) -> None:
    if is_loopback(host):
        return
    if not allow_non_loopback:
        raise ControlError(
            f"gateway.host = {host!r} is not a loopback address; the control endpoint would be reachable "
            "from the network. Set gateway.allow_non_loopback = true to allow it."
        )
    log.warning("control endpoint binds %s (non-loopback): anyone who can reach it and has the token controls it", host)


def _post_handler(action: Action) -> Callable[[Any], Awaitable[Any]]:
    from aiohttp import web

    async def handle(_: web.Request) -> web.Response:
        return web.json_response(await action())

    return handle


async def _unauthorized(request: Any, fallback: Handler | None) -> Any:
    """The route's own answer to a caller nobody vouches for, or the JSON 401."""
    from aiohttp import web

    if fallback is not None:
        return await fallback(request)
    return web.json_response(
        {"error": "unauthorized: send 'Authorization: Bearer <AGENTBOX_HOME/gateway.token>'"}, status=401
    )


def bearer_matches(header: str, token: str) -> bool:
    """Constant-time check of an `Authorization` header; any bytes a client sends just fail it."""
    # aiohttp hands over bytes that are not UTF-8 as surrogates; "surrogatepass" encodes any str.
    given = header.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given, f"Bearer {token}".encode())


class ControlServer:
    """The gateway's HTTP server (aiohttp): `/health`, `/status`, the CLI's POST actions and the routes
    features mount. Every route needs the gateway token or another authenticator's consent, unless
    it is declared `public`. It binds loopback unless `allow_non_loopback`, and while running
    writes the bound address to `AGENTBOX_HOME/gateway.json` (removed by `stop()`).
    """

    def __init__(
        self,
        *,
        home: Path,
        host: str,
        port: int,
        allow_non_loopback: bool,
        status: StatusProvider,
        actions: Mapping[str, Action] | None = None,
    ) -> None:
        check_bind(host, allow_non_loopback)
        self._home = home
        self._host = host
        self._port = port
        self._status = status
        self._actions = dict(actions or {})
        self._token = load_or_create_token(home)
        register_secrets(self._token)  # a token created just now was unknown to logs and tool results
        self._runner: Any = None
        self._routes: list[Route] = []
        self._authenticators: list[Authenticator] = [self._owner]
        self.port = 0

    def add_route(self, route: Route) -> None:
        """Mount a feature's route; only before `start()`."""
        if self._runner is not None:
            raise RuntimeError("routes are mounted before the server starts")
        self._routes.append(route)

    def add_authenticator(self, authenticator: Authenticator) -> None:
        """Another way to prove a `token` route's caller (tried after the gateway token)."""
        self._authenticators.append(authenticator)

    async def _owner(self, request: Any) -> Principal | None:
        return Principal("owner") if bearer_matches(request.headers.get("Authorization", ""), self._token) else None

    async def _principal(self, request: Any) -> Principal | None:
        for authenticator in self._authenticators:
            if (principal := await authenticator(request)) is not None:
                return principal
        return None

    async def start(self) -> None:
        from aiohttp import web  # only the gateway needs aiohttp's server side

        # aiohttp's route object -> the feature's Route: keyed by route, as one handler may serve two paths.
        mounted: dict[int, Route] = {}

        @web.middleware
        async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
            route = mounted.get(id(getattr(request.match_info, "route", None)))
            if route is None or route.auth != "public":
                principal = await self._principal(request)
                if principal is None:
                    refused: web.StreamResponse = await _unauthorized(request, route.unauthorized if route else None)
                    return refused
                request[_principal_key()] = principal
            response: web.StreamResponse = await handler(request)
            return response

        async def health(_: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        async def status(_: web.Request) -> web.Response:
            return web.json_response(await self._status())

        app = web.Application(middlewares=[auth])
        app.router.add_get("/health", health)
        app.router.add_get("/status", status)
        for path, action in self._actions.items():
            app.router.add_post(path, _post_handler(action))
        for route in self._routes:
            mounted[id(app.router.add_route(route.method, route.path, route.handler))] = route
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise ControlError(port_in_use(self._host, self._port)) from None
            raise ControlError(f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}") from None
        addresses = self._runner.addresses  # the bound (host, port, ...) tuples: port 0 picks a free one
        self.port = addresses[0][1] if addresses else self._port
        write_private(
            self._home / ADDRESS_FILE,
            json.dumps({"host": self._host, "port": self.port, "pid": os.getpid()}) + "\n",
        )
        log.info("control endpoint on http://%s:%d (token in %s)", self._host, self.port, self._home / TOKEN_FILE)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        try:
            (self._home / ADDRESS_FILE).unlink()
        except OSError:
            pass
