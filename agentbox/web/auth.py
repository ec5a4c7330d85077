"""Logging in to the panel: one-time login links, session cookies and the CSRF token of each session.

`agentbox dashboard` asks the running gateway (with the gateway token) for a login link. The
link works once, for `LINK_TTL` seconds: opening it sets an HttpOnly, SameSite=Strict session
cookie and redirects to the panel. Sessions live in the gateway's memory (a restart logs out)
and end after `web.session_hours` without a request. Only hashes of links and cookies are kept.

Every state-changing request a cookie authenticates must also carry the session's CSRF token
(the `X-CSRF-Token` header, or the `csrf_token` field of a form) and, when the browser sends
one, an `Origin` naming this gateway; otherwise it is refused with 403. Requests with the
gateway token (scripts) need neither: a browser never sends that token on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from agentbox.gateway.control import Principal
from agentbox.redaction import register_secrets
from agentbox.web.guard import SECURITY_HEADERS, HostGuard

log = logging.getLogger(__name__)

LINK_TTL = 600.0  # seconds a login link stays valid (unused)
MAX_LINKS = 20  # outstanding links; the oldest is dropped first
MAX_SESSIONS = 50
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM = "application/x-www-form-urlencoded"

Clock = Callable[[], float]


@dataclass(slots=True)
class WebSession:
    """One browser's login: its CSRF token, when it was last used, and a notice for its next page."""

    csrf: str
    last_seen: float
    notice: tuple[str, str] | None = None  # (kind, text): "ok" or "error", shown once


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


SESSION_KEY = web.RequestKey("web_session", WebSession)


def session_of(request: web.Request) -> WebSession | None:
    """The panel session behind this request (None when the gateway token authenticated it)."""
    return request.get(SESSION_KEY)


class WebSessions:
    """Login links and sessions, in memory, stored by hash; both bounded in number."""

    def __init__(self, *, idle_seconds: float, clock: Clock = time.time) -> None:
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._links: OrderedDict[str, float] = OrderedDict()  # digest -> expires at
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()  # digest -> session

    def new_link(self) -> str:
        """A fresh one-time login token (the path `/login/<token>`)."""
        token = secrets.token_urlsafe(32)
        register_secrets(token)
        self._links[_digest(token)] = self._clock() + LINK_TTL
        while len(self._links) > MAX_LINKS:
            self._links.popitem(last=False)
        return token

    def redeem(self, token: str) -> str | None:
        """Spend a login token: a new session's cookie value, or None (unknown, used or expired)."""
        expires = self._links.pop(_digest(token), None)
        now = self._clock()
        if expires is None or expires <= now:
            return None
        cookie = secrets.token_urlsafe(32)
        register_secrets(cookie)
        self._sessions[_digest(cookie)] = WebSession(csrf=secrets.token_urlsafe(24), last_seen=now)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return cookie

    def get(self, cookie: str) -> WebSession | None:
        """The live session for this cookie value (its idle clock restarts), or None."""
        digest = _digest(cookie)
        session = self._sessions.get(digest)
        now = self._clock()
        if session is None:
            return None
        if now - session.last_seen > self.idle_seconds:
            del self._sessions[digest]
            return None
        session.last_seen = now
        self._sessions.move_to_end(digest)
        return session

    def end(self, cookie: str) -> None:
        self._sessions.pop(_digest(cookie), None)


def csrf_refused(why: str) -> web.HTTPForbidden:
    log.warning("web panel: refused a request: %s", why)
    return web.HTTPForbidden(text=f"Refused: {why}. Reload the page and try again.\n", headers=SECURITY_HEADERS)


class CookieAuthenticator:
    """The control server's `Authenticator` for panel sessions: the cookie, the Host, and for
    state-changing requests the CSRF token and Origin. Raises 403 for a live session's request
    that fails the CSRF check (so the browser sees why), returns None when there is no session.
    """

    def __init__(self, sessions: WebSessions, guard: HostGuard, cookie_name: Callable[[], str]) -> None:
        self._sessions = sessions
        self._guard = guard
        self._cookie_name = cookie_name

    async def __call__(self, request: web.Request) -> Principal | None:
        cookie = request.cookies.get(self._cookie_name())
        if not cookie or not self._guard.allows(request.host):
            return None
        session = self._sessions.get(cookie)
        if session is None:
            return None
        if request.method not in SAFE_METHODS:
            await self._check_csrf(request, session)
        request[SESSION_KEY] = session
        return Principal("session", "web")

    async def _check_csrf(self, request: web.Request, session: WebSession) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and not self._guard.allows_origin(origin):
            raise csrf_refused(f"the request came from another site ({origin})")
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type == FORM:
            field = (await request.post()).get(CSRF_FIELD)
            given = field if isinstance(field, str) else None
        if given is None:
            raise csrf_refused("the CSRF token is missing")
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), session.csrf.encode()):
            raise csrf_refused("the CSRF token is wrong")
