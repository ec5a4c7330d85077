"""Helpers for web panel tests: a gateway with the panel mounted, and an owner's browser-like HTTP client."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from agentbox.web.panel import gateway_service
from tests.gatewaykit import running_gateway

HTML = {"Accept": "text/html"}


@dataclass
class Panel:
    """A running gateway's panel: its base URL, the gateway token, and the gateway itself."""

    gateway: Any
    base: str
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def login_path(self, http: aiohttp.ClientSession) -> str:
        async with http.post(self.base + "/ui/login-link", headers=self.bearer) as answer:
            assert answer.status == 200, await answer.text()
            return str((await answer.json())["path"])


@asynccontextmanager
async def running_panel(fake_aimlapi: Any, home: Path, *connectors: Any, config: str = "") -> AsyncIterator[Panel]:
    async with running_gateway(fake_aimlapi, home, *connectors, config=config, services=[gateway_service]) as gateway:
        token = (home / "gateway.token").read_text().strip()
        yield Panel(gateway, f"http://127.0.0.1:{gateway.control.port}", token)


def browser_session() -> aiohttp.ClientSession:
    # The cookie jar refuses cookies for IP addresses unless told otherwise (browsers don't).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def logged_in(panel: Panel, http: aiohttp.ClientSession) -> str:
    """Log `http` in through a fresh link; return the CSRF token the pages carry."""
    async with http.get(panel.base + await panel.login_path(http), headers=HTML) as answer:
        assert answer.status == 200 and str(answer.url) == panel.base + "/", answer.url
        return csrf_of(await answer.text())


def csrf_of(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]*)">', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sse_events(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream."""
    events = []
    for block in body.split("\n\n"):
        name, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
        if data:
            events.append((name, data))
    return events


class StreamGate(threading.Event):
    """Holds the fake AI/ML API's `request`-th chat stream after its first `after_chunks` chunks until `set()`.

    Proves streaming without a clock: while `rest_sent` is false the fake has sent nothing past the
    gate (a retried request waits at it too), so what the browser reads then was streamed, not
    buffered until the end. It replaces the fake's pause between chunks (run on the fake's own
    thread). A gate never opened gives way after about 30 s, so a test that waited in vain fails
    instead of hanging.
    """

    def __init__(self, fake: Any, *, request: int, after_chunks: int) -> None:
        super().__init__()
        self.rest_sent = False
        self._fake, self._request, self._after = fake, request, after_chunks
        self._pauses = 0
        self._pause = fake._sleep
        fake._sleep = self._gated

    async def _gated(self, seconds: float) -> None:
        if not self.is_set() and len(self._fake.chat_requests()) >= self._request:
            self._pauses += 1  # the request's latency first, then one pause before each chunk after the first
            if self._pauses > self._after:
                for _ in range(3000):
                    if self.is_set():
                        break
                    await asyncio.sleep(0.01)
                self.rest_sent = True
                self.set()
        await self._pause(seconds)
