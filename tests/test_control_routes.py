"""Features mount routes on the gateway's one HTTP server; each route is authenticated as it declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agentbox.gateway.control import ControlServer, Principal, Route, principal_of


async def _status() -> dict[str, Any]:
    return {"ok": True}


async def _whoami(request: web.Request) -> web.Response:
    principal = principal_of(request)
    return web.json_response({"kind": principal.kind, "name": principal.name})


async def _hook(request: web.Request) -> web.Response:
    # A public route proves its caller itself (here: a header); nothing reaches it otherwise.
    if request.headers.get("X-Proof") != "yes":
        return web.json_response({"error": "bad proof"}, status=401)
    return web.json_response({"accepted": True}, status=202)


async def _api_key(request: Any) -> Principal | None:
    return Principal("api_key", "ci-bot") if request.headers.get("Authorization") == "Bearer sk-extra" else None


async def test_token_routes_need_an_authenticator_and_public_routes_prove_themselves(home: Path) -> None:
    server = ControlServer(home=home, host="127.0.0.1", port=0, allow_non_loopback=False, status=_status)
    server.add_route(Route("GET", "/whoami", _whoami))
    server.add_route(Route("POST", "/hooks/{name}", _hook, auth="public"))
    server.add_authenticator(_api_key)
    await server.start()
    token = (home / "gateway.token").read_text().strip()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/whoami") as r:
                assert r.status == 401
            async with http.get(f"{base}/whoami", headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            async with http.get(f"{base}/whoami", headers={"Authorization": f"Bearer {token}"}) as r:
                assert await r.json() == {"kind": "owner", "name": "owner"}
            async with http.get(f"{base}/whoami", headers={"Authorization": "Bearer sk-extra"}) as r:
                assert await r.json() == {"kind": "api_key", "name": "ci-bot"}
            async with http.get(f"{base}/status", headers={"Authorization": "Bearer sk-extra"}) as r:
                assert r.status == 200  # an added authenticator opens token routes, the built-in ones too
            async with http.post(f"{base}/hooks/ci") as r:
                assert r.status == 401 and (await r.json()) == {"error": "bad proof"}  # the route's own check
            async with http.post(f"{base}/hooks/ci", headers={"X-Proof": "yes"}) as r:
                assert r.status == 202
            async with http.get(f"{base}/no-such-page") as r:
                assert r.status == 401  # unknown paths reveal nothing without a token
    finally:
        await server.stop()


async def test_routes_are_mounted_before_the_server_starts(home: Path) -> None:
    server = ControlServer(home=home, host="127.0.0.1", port=0, allow_non_loopback=False, status=_status)
    await server.start()
    try:
        with pytest.raises(RuntimeError, match="before the server starts"):
            server.add_route(Route("GET", "/late", _whoami))
    finally:
        await server.stop()


class Echo:
    """A feature that is a gateway service and serves HTTP: its routes are mounted before the server starts."""

    name = "echo"

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def routes(self) -> list[Route]:
        return [Route("GET", "/echo/whoami", _whoami)]

    def authenticators(self) -> list[Any]:
        return [_api_key]


async def test_a_gateway_service_mounts_its_routes_and_authenticators(fake_aimlapi: Any, home: Path) -> None:
    from tests.gatewaykit import running_gateway

    async with running_gateway(fake_aimlapi, home, services=[Echo]) as gateway:
        base = f"http://127.0.0.1:{gateway.control.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/echo/whoami", headers={"Authorization": "Bearer sk-extra"}) as r:
                assert r.status == 200 and (await r.json())["name"] == "ci-bot"
            async with http.get(f"{base}/echo/whoami") as r:
                assert r.status == 401


async def _openai_shaped_401(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": {"message": "no", "type": "invalid_request_error", "code": "invalid_api_key"}}, status=401
    )


async def _login_page(_: web.Request) -> web.Response:
    return web.Response(text="<h1>log in first</h1>", content_type="text/html", status=401)


async def test_a_route_may_answer_its_own_401(home: Path) -> None:
    # An OpenAI client reads `error.code`; agentbox's own 401 body is a string. Each route says which it needs.
    server = ControlServer(home=home, host="127.0.0.1", port=0, allow_non_loopback=False, status=_status)
    server.add_route(Route("GET", "/v1/whoami", _whoami, unauthorized=_openai_shaped_401))
    server.add_route(Route("GET", "/whoami", _whoami))
    await server.start()
    token = (home / "gateway.token").read_text().strip()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/v1/whoami") as r:
                assert r.status == 401 and (await r.json())["error"]["code"] == "invalid_api_key"
            async with http.get(f"{base}/whoami") as r:
                assert r.status == 401 and (await r.json())["error"].startswith("unauthorized")
            async with http.get(f"{base}/v1/whoami", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200  # its own 401 changes nothing about who gets in
    finally:
        await server.stop()


async def test_a_token_route_may_answer_strangers_itself(home: Path) -> None:
    """A browser page gets its own "log in" page instead of the JSON 401; authenticated callers are unaffected;
    each route is authenticated as it declares even when it shares its handler with another."""
    server = ControlServer(home=home, host="127.0.0.1", port=0, allow_non_loopback=False, status=_status)
    server.add_route(Route("GET", "/page", _whoami, unauthorized=_login_page))
    server.add_route(Route("GET", "/api", _whoami))
    server.add_route(Route("POST", "/hooks/{name}", _hook, auth="public"))
    server.add_route(Route("POST", "/private-hook", _hook))  # the same handler, but behind the token
    await server.start()
    token = (home / "gateway.token").read_text().strip()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/page") as r:
                assert r.status == 401 and await r.text() == "<h1>log in first</h1>"
            async with http.get(f"{base}/api") as r:
                assert r.status == 401 and "Bearer" in (await r.json())["error"]
            async with http.get(f"{base}/page", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200 and (await r.json())["kind"] == "owner"
            async with http.post(f"{base}/hooks/ci", headers={"X-Proof": "yes"}) as r:
                assert r.status == 202
            async with http.post(f"{base}/private-hook", headers={"X-Proof": "yes"}) as r:
                assert r.status == 401  # each route keeps its own auth, whatever handler it shares
    finally:
        await server.stop()
