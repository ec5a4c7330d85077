"""What every panel response carries and checks: the Host it was asked for, who asks, strict headers.

- `HostGuard`: a browser's `Host` header must name this gateway (its configured address, the
  loopback names when it binds loopback, or `web.allowed_hosts`): a page on another site whose
  DNS name was rebound to 127.0.0.1 sends its own name and is refused.
- `SECURITY_HEADERS`: a Content-Security-Policy without inline script or style, no framing, no
  sniffing, no referrer to other sites (a login link must not leak through one).
- `owner_only(handler, guard)`: the Host check, then only the owner (gateway token) or a panel
  session may go on; an API key a feature issued is not a key to the panel.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from agentbox.gateway.control import principal_of

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes browsers send `Origin: null` on form posts
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
PANEL_PRINCIPALS = frozenset({"owner", "session"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
ALL_INTERFACES = ("0.0.0.0", "::", "")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def secured(response: web.StreamResponse, *, cache: str = "no-store") -> web.StreamResponse:
    """Add the security headers (and a cache policy) to a response not yet sent; ones it set stay."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", cache)
    return response


def _bracketed(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


class HostGuard:
    """The Host headers this gateway answers to; `port` is read when asked (port 0 binds a free one)."""

    def __init__(self, host: str, extra: Iterable[str], port: Callable[[], int]) -> None:
        self._host = host.strip().lower()
        self._extra = [name.strip().lower() for name in extra if name.strip()]
        self._port = port

    def names(self) -> set[str]:
        """Every accepted `Host` value, each with the port (and without it where the port is 80)."""
        port = self._port()
        bases = set(LOOPBACK_NAMES)
        if self._host not in ALL_INTERFACES and self._host not in ("127.0.0.1", "localhost", "::1"):
            bases = {_bracketed(self._host)}
        names = {f"{base}:{port}" for base in bases}
        if port == 80:
            names |= bases
        for extra in self._extra:
            names.add(extra)
            if ":" not in extra.rstrip("]").rsplit("]", 1)[-1]:
                names.add(f"{extra}:{port}")
        return names

    def allows(self, host: str | None) -> bool:
        return bool(host) and host.strip().lower() in self.names()  # type: ignore[union-attr]

    def allows_origin(self, origin: str) -> bool:
        """An `Origin` header (scheme://host[:port]) naming this gateway."""
        scheme, _, rest = origin.partition("://")
        return scheme in ("http", "https") and self.allows(rest)


def misdirected(host: str | None) -> web.Response:
    """What a request for another site's name gets (421): nothing about this gateway."""
    log.warning("web panel: refused a request for Host %r (not this gateway; see web.allowed_hosts)", host)
    return secured(
        web.Response(
            status=421,
            text=f"This server does not answer to the name {host!r}. "
            "If you reach the panel through another name, add it to allowed_hosts under [web] in config.toml.\n",
        )
    )  # type: ignore[return-value]


def owner_only(handler: Handler, guard: HostGuard) -> Handler:
    """Wrap a `token` route: Host check, owner or panel session only, security headers on the answer."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if not guard.allows(request.host):
            return misdirected(request.host)
        if principal_of(request).kind not in PANEL_PRINCIPALS:
            return secured(web.json_response({"error": "the web panel is for the owner only"}, status=403))
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(SECURITY_HEADERS)
            raise
        if not response.prepared:
            secured(response)
        return response

    return wrapped


def host_checked(handler: Handler, guard: HostGuard, *, cache: str = "no-store") -> Handler:
    """Wrap a `public` route (login link, static files): Host check and security headers only."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if not guard.allows(request.host):
            return misdirected(request.host)
        response = await handler(request)
        return secured(response, cache=cache) if not response.prepared else response

    return wrapped


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def json_or_redirect(request: web.Request, data: dict[str, Any], *, back: str, status: int = 200) -> web.Response:
    """A browser form gets a redirect back to the page (303); a script gets JSON."""
    if wants_html(request):
        raise web.HTTPSeeOther(back)
    return web.json_response(data, status=status)
