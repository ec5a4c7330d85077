"""`TurnDeps`: what every tool receives through `RunContext[TurnDeps]`.

Tools read session info, put produced media in the `outbox` (delivered to the chat
after or during the turn), call the AI/ML API through `aimlapi`, report
progress ("rendering video... 40 s") through `progress`, hand long work to the services the
host runs (`jobs`: the gateway's video job runner, `schedules`: its scheduler; None in the CLI),
and read and write long-term memory through `memory` (the turn's scopes only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from agentbox.messages import Address, Attachment, AttachmentKind

if TYPE_CHECKING:
    from agentbox.aimlapi import AimlapiClient
    from agentbox.config import Config
    from agentbox.memory.service import TurnMemory
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
        voice: bool = False,
    ) -> Attachment:
        if data is None and url is None and path is None:
            raise ValueError("an attachment needs data, a url or a path")
        item = Attachment(
            kind, data=data, url=url, path=path, media_type=media_type, filename=filename, caption=caption, voice=voice
        )
        self.items.append(item)
        return item


class JobService(Protocol):
    """Finishes long-running work in the background (the gateway's `JobRunner` for video)."""

    def watch(self, job_id: str) -> None:
        """Poll the stored job `job_id` until it is done and deliver its result to the job's address."""
        ...

    def can_send(self, address: Address) -> bool:
        """Whether a connector serves `address` (False: the result is kept on this machine and noted in the session)."""
        ...


class ScheduleService(Protocol):
    """Whoever fires schedules, told when they change: the gateway's scheduler, or from a CLI process the
    running gateway (`agentbox.cli.gateway_client.GatewaySchedules`)."""

    async def changed(self) -> bool:
        """Schedules were added or changed: re-read them now. False when no gateway runs to fire them."""
        ...


@dataclass(frozen=True, slots=True)
class SessionContext:
    """The conversation a turn belongs to: its session key, agent, sender and where replies go."""

    key: str
    agent_id: str = "main"
    sender_id: str | None = None
    address: Address | None = None  # where to deliver (None: the CLI)
    sender_name: str = ""  # how the platform names the sender (a reminder in a group mentions them)

    @property
    def channel(self) -> str:
        """The platform the turn came from (`cli` for the terminal)."""
        return self.address.channel if self.address is not None else "cli"


@dataclass(slots=True)
class TurnDeps:
    """Everything a tool may use during one turn, typed: no bag of extras."""

    session: SessionContext
    config: Config
    aimlapi: AimlapiClient
    store: Store | None = None
    outbox: Outbox = field(default_factory=Outbox)
    progress: Progress = _no_progress
    images: list[Attachment] = field(default_factory=list)  # images the user sent with this turn
    jobs: JobService | None = None  # background jobs (set by the gateway); None: nobody finishes them here
    schedules: ScheduleService | None = None  # who fires schedules (the gateway's scheduler, or a client of it)
    memory: TurnMemory | None = None  # long-term memory of this turn's person or chat; None: memory is off
