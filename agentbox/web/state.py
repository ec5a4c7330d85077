"""What every panel handler shares: the gateway it serves, the logins, the Host guard, and page rendering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agentbox.tasks import TaskSet
from agentbox.web.auth import CSRF_FIELD, WebSessions, session_of
from agentbox.web.guard import HostGuard
from agentbox.web.render import page

if TYPE_CHECKING:
    from agentbox.config import Config
    from agentbox.gateway.lifecycle import Gateway
    from agentbox.store import Store

NAV = (
    ("home", "/", "Home"),
    ("chat", "/ui/chat", "Chat"),
    ("access", "/ui/access", "Access"),
    ("sessions", "/ui/sessions", "Sessions"),
    ("usage", "/ui/usage", "Usage"),
    ("ops", "/ui/ops", "Operations"),
)


@dataclass(slots=True)
class PanelState:
    """The panel's shared state; handlers get it at construction, never through globals."""

    gateway: Gateway
    sessions: WebSessions
    guard: HostGuard
    tasks: TaskSet
    closing: asyncio.Event = field(default_factory=asyncio.Event)  # set when the gateway stops

    @property
    def config(self) -> Config:
        return self.gateway.config

    @property
    def store(self) -> Store:
        return self.gateway.store

    @property
    def port(self) -> int:
        control = self.gateway.control
        return control.port if control is not None and control.port else self.config.gateway.port

    def cookie_name(self) -> str:
        # Browsers keep cookies per host, not per port: two gateways on one machine keep apart by name.
        return f"agentbox_session_{self.port}"

    def notify(self, request: web.Request, kind: str, text: str) -> None:
        """A one-time notice for the browser's next page ("Approved telegram sender 42.")."""
        session = session_of(request)
        if session is not None:
            session.notice = (kind, text)

    async def attention_count(self) -> int:
        """Pending pairing requests and group requests: the number the nav shows beside Access."""
        return len(await self.gateway.pairing.pending()) + len(await self.store.groups.requests())

    async def page(self, request: web.Request, name: str, *, nav: str, title: str, **context: Any) -> web.Response:
        session = session_of(request)
        notice = session.notice if session is not None else None
        if session is not None:
            session.notice = None
        return page(
            name,
            nav=NAV,
            active=nav,
            title=title,
            csrf=session.csrf if session is not None else "",
            csrf_field=CSRF_FIELD,
            notice=notice,
            attention=await self.attention_count(),
            logged_in=session is not None,
            **context,
        )
