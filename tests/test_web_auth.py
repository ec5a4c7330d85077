"""Web panel security: no page without a login, one-time links, session cookies, CSRF, Host, headers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agentbox.gateway.control import Principal
from agentbox.web.auth import LINK_TTL, WebSessions
from agentbox.web.guard import HostGuard
from tests.gatewaykit import FakeConnector, inbound, wait_until
from tests.webkit import HTML, browser_session, csrf_of, logged_in, running_panel

PAGES = ["/", "/ui/chat", "/ui/access", "/ui/sessions", "/ui/sessions/telegram:dm:42", "/ui/usage", "/ui/ops"]
ACTIONS = ["/ui/access/approve", "/ui/access/deny", "/ui/access/revoke", "/ui/sessions/reset", "/ui/chat/new"]


async def test_nothing_is_served_without_a_login(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home) as panel, aiohttp.ClientSession() as http:
        for path in [*PAGES, "/ui/ops/log", "/ui/fragments/attention", "/ui/media/abc.png"]:
            async with http.get(panel.base + path, headers=HTML) as answer:
                page = await answer.text()
                assert answer.status == 401, path
                assert "agentbox dashboard" in page and "csrf-token" not in page, path  # the login help, nothing else
            async with http.get(panel.base + path) as answer:  # a script: JSON
                assert answer.status == 401 and "Bearer" in (await answer.json())["error"]
        for path in [*ACTIONS, "/ui/login-link"]:
            async with http.post(panel.base + path, data={"channel": "telegram", "code": "X"}) as answer:
                assert answer.status == 401, path
        async with http.get(
            panel.base + "/ui/access",
            headers={**HTML, "Cookie": f"agentbox_session_{panel.gateway.control.port}=forged"},
        ) as answer:
            assert answer.status == 401


async def test_a_login_link_works_once_and_sets_a_strict_http_only_cookie(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home) as panel, browser_session() as http:
        path = await panel.login_path(http)
        assert re.fullmatch(r"/login/[A-Za-z0-9_-]{40,}", path)
        async with http.get(panel.base + path, allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/"
            cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # gone when the browser closes
        async with http.get(panel.base + "/ui/access", headers=HTML) as answer:
            assert answer.status == 200 and "Log out" in await answer.text()
        async with (
            aiohttp.ClientSession() as stranger,
            stranger.get(panel.base + path, allow_redirects=False) as answer,
        ):
            assert answer.status == 403 and "expired or was already used" in await answer.text()
            assert "Set-Cookie" not in answer.headers


async def test_only_the_gateway_token_mints_links_and_logout_ends_the_session(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home) as panel, browser_session() as http:
        csrf = await logged_in(panel, http)
        async with http.post(panel.base + "/ui/login-link", headers={"X-CSRF-Token": csrf}) as answer:
            assert answer.status == 403  # a session cannot extend itself into more logins
        async with http.post(panel.base + "/ui/logout", data={"csrf_token": csrf}, headers=HTML) as answer:
            assert str(answer.url).endswith("/login") and "not logged in" in await answer.text()
        async with http.get(panel.base + "/", headers=HTML) as answer:
            assert answer.status == 401


def test_links_expire_and_idle_sessions_end() -> None:
    now = [1000.0]
    sessions = WebSessions(idle_seconds=3600, clock=lambda: now[0])
    stale = sessions.new_link()
    now[0] += LINK_TTL + 1
    assert sessions.redeem(stale) is None
    cookie = sessions.redeem(sessions.new_link())
    assert cookie is not None and sessions.get(cookie) is not None
    now[0] += 3000
    assert sessions.get(cookie) is not None  # used: the idle clock starts again
    now[0] += 3601
    assert sessions.get(cookie) is None
    assert sessions.redeem("made-up") is None


async def test_state_changes_need_the_csrf_token(fake_aimlapi: Any, home: Path) -> None:
    connector = FakeConnector()
    async with running_panel(fake_aimlapi, home, connector) as panel, browser_session() as http:
        await connector.push(inbound("hi", sender="42"))
        await wait_until(lambda: connector.sent)
        csrf = await logged_in(panel, http)
        [request] = await panel.gateway.pairing.pending()
        fields = {"channel": "telegram", "code": request.code}
        for extra, headers, why in [
            ({}, HTML, "the CSRF token is missing"),
            ({"csrf_token": "wrong"}, HTML, "the CSRF token is wrong"),
            ({"csrf_token": csrf}, {**HTML, "Origin": "http://evil.example"}, "came from another site"),
            ({"csrf_token": csrf}, {**HTML, "Origin": "null"}, "came from another site"),
        ]:
            async with http.post(
                panel.base + "/ui/access/approve", data={**fields, **extra}, headers=headers
            ) as answer:
                assert answer.status == 403 and why in await answer.text()
                assert answer.headers["X-Frame-Options"] == "DENY"
        async with http.post(panel.base + "/ui/access/approve", json=fields) as answer:
            assert answer.status == 403  # JSON is no way around it: it needs the header
        assert not await panel.gateway.store.pairing.is_allowed("telegram", "42")
        origin = {**HTML, "Origin": panel.base}
        async with http.post(
            panel.base + "/ui/access/approve", data={**fields, "csrf_token": csrf}, headers=origin
        ) as answer:
            assert answer.status == 200 and "Approved telegram sender 42" in await answer.text()
        assert await panel.gateway.store.pairing.is_allowed("telegram", "42")


async def test_two_browsers_keep_their_own_csrf_token_notices_and_login(fake_aimlapi: Any, home: Path) -> None:
    connector = FakeConnector()
    async with (
        running_panel(fake_aimlapi, home, connector) as panel,
        browser_session() as alice,
        browser_session() as bob,
    ):
        await connector.push(inbound("hi", sender="42"))
        await wait_until(lambda: connector.sent)
        alice_csrf, bob_csrf = await logged_in(panel, alice), await logged_in(panel, bob)
        assert alice_csrf != bob_csrf
        forged = {**HTML, "Cookie": f"agentbox_session_{panel.gateway.control.port}=forged"}
        async with aiohttp.ClientSession() as stranger, stranger.get(panel.base + "/", headers=forged) as answer:
            assert answer.status == 401  # two live sessions, and a made-up cookie still opens neither
        [request] = await panel.gateway.pairing.pending()
        fields = {"channel": "telegram", "code": request.code}
        async with alice.post(panel.base + "/ui/access/approve", data={**fields, "csrf_token": bob_csrf}) as answer:
            assert answer.status == 403 and "the CSRF token is wrong" in await answer.text()  # bob's is not alice's
        assert not await panel.gateway.store.pairing.is_allowed("telegram", "42")
        notice = '<p class="notice ok" role="status">✓ Approved telegram sender 42'
        async with alice.post(
            panel.base + "/ui/access/approve", data={**fields, "csrf_token": alice_csrf}, headers=HTML
        ) as answer:
            assert answer.status == 200 and notice in await answer.text()
        async with bob.get(panel.base + "/ui/access", headers=HTML) as answer:
            page = await answer.text()
            assert answer.status == 200 and "Log out" in page and notice not in page  # alice's notice is hers
        async with alice.post(panel.base + "/ui/logout", data={"csrf_token": alice_csrf}, headers=HTML) as answer:
            assert "not logged in" in await answer.text()
        async with alice.get(panel.base + "/", headers=HTML) as answer:
            assert answer.status == 401
        async with bob.get(panel.base + "/", headers=HTML) as answer:
            assert answer.status == 200 and csrf_of(await answer.text()) == bob_csrf  # bob's login goes on


async def test_a_forged_host_is_refused_even_with_valid_credentials(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home) as panel, browser_session() as http:
        await logged_in(panel, http)
        port = panel.gateway.control.port
        path = await panel.login_path(http)
        for host in ["attacker.example", f"attacker.example:{port}", f"127.0.0.2:{port}", "127.0.0.1:1"]:
            for url, headers in [("/", HTML), ("/ui/usage", panel.bearer), (path, {}), ("/ui/static/panel.css", {})]:
                async with http.get(panel.base + url, headers={**headers, "Host": host}) as answer:
                    assert answer.status == 421, (host, url)
                    assert "allowed_hosts" in await answer.text()
        async with http.get(panel.base + path, headers={"Host": f"localhost:{port}"}, allow_redirects=False) as answer:
            assert answer.status == 303  # the link was not spent by the refused requests; localhost is loopback


async def test_the_gateway_token_works_for_scripts_and_other_principals_are_refused(
    fake_aimlapi: Any, home: Path
) -> None:
    connector = FakeConnector()
    async with running_panel(fake_aimlapi, home, connector) as panel, aiohttp.ClientSession() as http:
        await connector.push(inbound("hi", sender="42"))
        await wait_until(lambda: connector.sent)
        [request] = await panel.gateway.pairing.pending()
        async with http.get(panel.base + "/ui/access", headers=panel.bearer) as answer:
            assert answer.status == 200 and request.code in await answer.text()
        body = {"channel": "telegram", "code": request.code}
        async with http.post(panel.base + "/ui/access/approve", json=body, headers=panel.bearer) as answer:
            assert answer.status == 200
            assert (await answer.json())["approved"] == {"channel": "telegram", "sender_id": "42"}
        async with http.post(panel.base + "/ui/access/approve", json=body, headers=panel.bearer) as answer:
            assert answer.status == 400 and "no pending pairing request" in (await answer.json())["error"]

        async def api_key(request: Any) -> Principal | None:
            return Principal("api_key", "ci") if request.headers.get("Authorization") == "Bearer sk-ci" else None

        panel.gateway.control.add_authenticator(api_key)  # another feature's keys open its routes, not the panel
        async with http.get(panel.base + "/ui/access", headers={"Authorization": "Bearer sk-ci"}) as answer:
            assert answer.status == 403 and "owner only" in (await answer.json())["error"]


async def test_pages_carry_strict_headers_and_no_inline_script_or_style(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home) as panel, browser_session() as http:
        await logged_in(panel, http)
        for path in [*PAGES, "/login"]:
            async with http.get(panel.base + path, headers=HTML) as answer:
                page = await answer.text()
                csp = answer.headers["Content-Security-Policy"]
                assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
                assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
                assert answer.headers["X-Frame-Options"] == "DENY"
                assert answer.headers["X-Content-Type-Options"] == "nosniff"
                assert answer.headers["Cache-Control"] == "no-store"
            assert not re.search(r"<script(?![^>]*\bsrc=)", page), path  # every script is a file
            assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page), path
            assert "http://" not in page.replace(panel.base, "") and "https://" not in page, path  # nothing remote
        static = re.search(r'href="(/ui/static/panel\.css\?v=[0-9a-f]{12})"', page)
        assert static
        async with aiohttp.ClientSession() as anonymous, anonymous.get(panel.base + static.group(1)) as answer:
            assert answer.status == 200 and answer.content_type == "text/css"
            assert "immutable" in answer.headers["Cache-Control"]
        async with http.get(panel.base + "/ui/static/..%2Fpanel.py") as answer:
            assert answer.status == 404


@pytest.mark.parametrize(
    ("host", "extra", "port", "accepted", "refused"),
    [
        ("127.0.0.1", [], 18789, ["127.0.0.1:18789", "LOCALHOST:18789", "[::1]:18789"], ["127.0.0.1", "evil:18789"]),
        (
            "0.0.0.0",
            ["panel.example.org"],
            8080,
            ["panel.example.org", "panel.example.org:8080", "127.0.0.1:8080"],
            ["panel.example.org:9"],
        ),
        (
            "192.168.1.5",
            ["proxy.lan:443"],
            18789,
            ["192.168.1.5:18789", "proxy.lan:443"],
            ["127.0.0.1:18789", "proxy.lan"],
        ),
        ("::1", [], 80, ["[::1]", "localhost", "[::1]:80"], ["::1"]),
    ],
)
def test_host_guard(host: str, extra: list[str], port: int, accepted: list[str], refused: list[str]) -> None:
    guard = HostGuard(host, extra, lambda: port)
    assert all(guard.allows(name) for name in accepted)
    assert not any(guard.allows(name) for name in refused) and not guard.allows(None)


async def test_a_disabled_panel_mounts_nothing(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home, config="[web]\nenabled = false\n") as panel:
        async with aiohttp.ClientSession() as http:
            async with http.get(panel.base + "/", headers=HTML) as answer:
                assert answer.status == 401 and answer.content_type == "application/json"
            async with http.post(panel.base + "/ui/login-link", headers=panel.bearer) as answer:
                assert answer.status == 404
