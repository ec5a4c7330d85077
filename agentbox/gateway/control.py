"""The gateway's local HTTP endpoint: `GET /health`, `GET /status` and POST actions, bearer token required.

Actions are what the CLI asks of a running gateway, e.g. `POST /pairing/notify` after an approval.

The token is generated into `AGENTBOX_HOME/gateway.token` (mode 0600) on first start and
reused afterwards; `agentbox status` reads it from there. The address actually bound (port 0
picks a free one) is written to `AGENTBOX_HOME/gateway.json` so the CLI finds the gateway.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from agentbox.errors import AgentboxError
from agentbox.paths import write_private
from agentbox.redaction import register_secrets

log = logging.getLogger(__name__)

StatusProvider = Callable[[], Awaitable[dict[str, Any]]]
Action = Callable[[], Awaitable[dict[str, Any]]]

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


def bearer_matches(header: str, token: str) -> bool:
    """Constant-time check of an `Authorization` header; any bytes a client sends just fail it."""
    # aiohttp hands over bytes that are not UTF-8 as surrogates; "surrogatepass" encodes any str.
    given = header.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given, f"Bearer {token}".encode())


class ControlServer:
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
        self.port = 0

    async def start(self) -> None:
        from aiohttp import web  # only the gateway needs aiohttp's server side

        @web.middleware
        async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
            if not bearer_matches(request.headers.get("Authorization", ""), self._token):
                return web.json_response(
                    {"error": "unauthorized: send 'Authorization: Bearer <AGENTBOX_HOME/gateway.token>'"}, status=401
                )
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
