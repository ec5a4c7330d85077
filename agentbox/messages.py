"""Channel-neutral value types and the `Connector` seam.

A connector translates platform objects to `Inbound` and `Outbound` back to the
platform, and nothing else: no access policy, no agent calls, no SQL.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from agentbox.errors import AgentboxError

AttachmentKind = Literal["image", "video", "audio", "file"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A piece of media: bytes, a local file path or a URL, never more than one needed.

    Inbound media arrives as a `ref` instead: the platform's handle for the file (a file id, or a
    URL that holds no secret) and the `size` the platform declared. The gateway asks the connector
    to `fetch` it only once the sender is allowed in, so a stranger's upload is never downloaded.
    """

    kind: AttachmentKind
    data: bytes | None = None
    url: str | None = None
    path: str | None = None
    media_type: str | None = None
    filename: str | None = None
    caption: str | None = None
    ref: str | None = None
    size: int | None = None
    duration: float | None = None  # seconds of audio or video, as the platform declared it
    voice: bool = False  # spoken audio: a voice note (inbound), or sent as one where the platform can

    def describe(self) -> str:
        """Where the media is, for text output (CLI, logs): a path or URL, never bytes."""
        size = len(self.data) if self.data is not None else self.size or 0
        return self.path or self.url or f"<{self.kind} {size} bytes>"


@dataclass(frozen=True, slots=True)
class Address:
    """Where a reply goes: a chat on a channel, optionally a thread/topic and a message to reply to."""

    channel: str
    chat_id: str
    thread_id: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a platform, already translated by its connector."""

    channel: str
    chat_id: str
    message_id: str
    sender_id: str
    text: str
    is_direct: bool
    sender_name: str = ""
    mentioned: bool = False  # the bot was @mentioned or replied to (groups)
    thread_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    unsupported: str | None = None  # e.g. "voice", "sticker": the gateway answers politely
    bot_authored: bool = False  # from this bot or another bot: the gateway ignores it
    reply_to_text: str | None = None  # the text of the message this one replies to, for context
    group_id: str | None = None  # what access treats as the group when not the chat (a Discord server)
    group_name: str = ""  # the group's title, shown to the owner by `agentbox pairing list`
    # Set: not a message but a service event, never a turn. This group chat had that id before
    # (Telegram upgraded the group to a supergroup); the gateway moves the group's approval here.
    migrated_from: str | None = None

    @property
    def address(self) -> Address:
        return Address(self.channel, self.chat_id, self.thread_id, self.message_id)


@dataclass(frozen=True, slots=True)
class Mention:
    """A person a message @mentions, so the platform notifies them (a reminder in a group pings who asked)."""

    user_id: str
    name: str = ""  # shown where the platform needs a label (Telegram)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply: text (Markdown as the model wrote it), media attachments, and optionally whom it @mentions.

    A connector renders `mention` in its platform's own syntax before the text; model text itself
    can never produce a mention.
    """

    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    mention: Mention | None = None


@dataclass(frozen=True, slots=True)
class ConnectorLimits:
    """What a platform takes from a bot: characters per message, bytes per upload, and the media kinds it can send."""

    max_text: int = 4000
    max_upload_bytes: int = 50 * 1024 * 1024
    media_kinds: frozenset[AttachmentKind] = field(
        default_factory=lambda: frozenset({"image", "video", "audio", "file"})
    )


class ConnectorState(enum.Enum):
    """Where a connector is in its life (model: httpx `ClientState`)."""

    STARTING = "starting"  # start() is connecting
    READY = "ready"
    DEGRADED = "degraded"  # running, but impaired (the reason says how); it recovers on its own
    FAILED = "failed"  # no longer works (the reason says why); the gateway restarts it
    STOPPED = "stopped"  # not started yet, or stopped


class ConnectorStatus:
    """A connector's state and the reason for it, with a signal when either changes.

    Connectors `set` it; the gateway's supervisor `wait_for`s FAILED instead of polling, and
    `str()` is what `/status` shows: "ready", "degraded: <reason>", "failed: <reason>".
    """

    def __init__(self, state: ConnectorState = ConnectorState.STOPPED, reason: str = "") -> None:
        self.state = state
        self.reason = reason
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[ConnectorStatus], None]] = []

    def set(self, state: ConnectorState, reason: str = "") -> bool:
        """Move to `state` (with `reason`); True if that changed anything (only changes are signalled)."""
        if state is self.state and reason == self.reason:
            return False
        self.state, self.reason = state, reason
        changed, self._changed = self._changed, asyncio.Event()  # later waiters wait for the next change
        changed.set()
        for listener in list(self._listeners):
            listener(self)
        return True

    def add_listener(self, listener: Callable[[ConnectorStatus], None]) -> None:
        """Call `listener` right after every change (synchronously, so none is missed)."""
        self._listeners.append(listener)

    async def wait_for(self, *states: ConnectorState) -> ConnectorState:
        """Return once the state is one of `states` (at once if it already is)."""
        while self.state not in states:
            await self._changed.wait()
        return self.state

    def __str__(self) -> str:
        return f"{self.state.value}: {self.reason}" if self.reason else self.state.value

    def __repr__(self) -> str:
        return f"<ConnectorStatus {self}>"


Deliver = Callable[[Inbound], Awaitable[None]]
"""Called by a connector for each inbound message. It returns once the message is
durably stored, so the connector may acknowledge it to the platform afterwards."""


@runtime_checkable
class Connector(Protocol):
    """A chat platform, translated: `Inbound`s in through `deliver`, `Outbound`s out through `send`.

    `status` tells the gateway how it is doing; a connector that stops working for good sets it
    to FAILED (its supervisor then restarts it with backoff).
    """

    name: str
    limits: ConnectorLimits
    status: ConnectorStatus

    async def start(self, deliver: Deliver) -> None:
        """Connect and start delivering messages; return once ready (run polling in a task)."""

    async def stop(self) -> None:
        """Stop receiving and close network resources."""

    async def send(self, address: Address, outbound: Outbound) -> list[str]:
        """Send text (split under the platform limit) and attachments; return platform message ids."""

    async def typing(self, address: Address) -> None:
        """Show a short-lived 'working' signal (best effort)."""

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """Download a referenced inbound attachment (`ref`); the same attachment with `data` set.

        Called only after the sender passed the access check. Checks the declared size first and
        stops reading past `max_bytes`. Raises `MediaTooLarge` or `MediaUnavailable`.
        """


class ReplyStream(Protocol):
    """Optional: a reply that grows in place while the model streams (e.g. Telegram message edits)."""

    async def update(self, text_so_far: str) -> None: ...

    async def finish(self, final_text: str) -> list[str]: ...


@runtime_checkable
class StreamingConnector(Connector, Protocol):
    """A connector that can also show a reply growing in place (`open_stream`); the gateway streams
    to it unless the channel sets `streaming = "off"`.
    """

    async def open_stream(self, address: Address) -> ReplyStream: ...


class MediaTooLarge(AgentboxError):
    """An inbound file is bigger than the caller accepts (or than the platform lets bots download)."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        super().__init__(f"file larger than {limit} bytes" + (f" ({size} bytes)" if size is not None else ""))
        self.limit = limit
        self.size = size


class MediaUnavailable(AgentboxError):
    """An inbound file could not be downloaded; `transient` means trying again may work."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ConnectorError(AgentboxError):
    """A connector could not reach its platform; `fatal` means retrying will not help (bad token).

    `rejected` (on a send): the platform refused this message itself (chat gone, bot blocked,
    invalid request); sending it again would be refused again. Other send errors are retried
    from the outbox until the platform takes the message.
    """

    def __init__(self, message: str, *, fatal: bool = False, rejected: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.rejected = rejected
