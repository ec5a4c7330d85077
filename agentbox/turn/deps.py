"""`TurnDeps`: what every tool receives through `RunContext[TurnDeps]`.

Tools read session info, put produced media in the `outbox` (delivered to the chat
after or during the turn), call the AI/ML API through `aimlapi`, and report
progress ("rendering video... 40 s") through `progress`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentbox.messages import Address, Attachment, AttachmentKind

if TYPE_CHECKING:
    from agentbox.aimlapi import AimlapiClient
    from agentbox.config import Config
    from agentbox.store import Store

Progress = Callable[[str], Awaitable[None]]


async def _no_progress(_: str) -> None:
    return None


@dataclass(slots=True)
class Outbox:
    """Media produced during a turn, in order."""

    items: list[Attachment] = field(default_factory=list)

    def add(
        self,
        kind: AttachmentKind,
        *,
        data: bytes | None = None,
        url: str | None = None,
        path: str | None = None,
        media_type: str | None = None,
        filename: str | None = None,
        caption: str | None = None,
    ) -> Attachment:
        if data is None and url is None and path is None:
            raise ValueError("an attachment needs data, a url or a path")
        item = Attachment(
            kind, data=data, url=url, path=path, media_type=media_type, filename=filename, caption=caption
        )
        self.items.append(item)
        return item


@dataclass(frozen=True, slots=True)
class SessionContext:
    key: str
    agent_id: str = "main"
    channel: str = "cli"
    sender_id: str | None = None
    address: Address | None = None  # where to deliver (None: the CLI)


@dataclass(slots=True)
class TurnDeps:
    session: SessionContext
    config: Config
    aimlapi: AimlapiClient
    store: Store | None = None
    outbox: Outbox = field(default_factory=Outbox)
    progress: Progress = _no_progress
    images: list[Attachment] = field(default_factory=list)  # images the user sent with this turn
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the job runner, set by the gateway
