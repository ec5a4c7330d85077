"""Reply mechanics shared by the dispatcher: streaming into a connector, typing, stored media.

Kept apart from `agentbox.gateway.dispatch` (which decides *what* to answer) so each stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
from contextlib import AbstractAsyncContextManager

from agentbox.messages import Address, Attachment, Connector, ReplyStream, StreamingConnector
from agentbox.tasks import alongside

log = logging.getLogger(__name__)

TYPING_EVERY = 4.0  # Telegram's chat action lasts ~5 s; Slack/Discord similar


class ReplyStreamer:
    """Feeds model deltas into a connector's ReplyStream, opened on the first delta."""

    def __init__(self, connector: Connector, address: Address) -> None:
        self._connector = connector
        self._address = address
        self._text = ""
        self.stream: ReplyStream | None = None
        self._broken = False

    async def delta(self, text: str) -> None:
        self._text += text
        if self._broken:
            return
        try:
            if self.stream is None:
                assert isinstance(self._connector, StreamingConnector)
                self.stream = await self._connector.open_stream(self._address)
            await self.stream.update(self._text)
        except Exception as exc:
            # Streaming is a nicety: the final text still goes out with finish()/send().
            log.warning("streaming to %s failed: %s", self._address.channel, exc)
            self._broken = True


def typing_indicator(connector: Connector, address: Address) -> AbstractAsyncContextManager[object]:
    """Keep the chat's typing indicator on while the block runs; stopped, and awaited, when it ends."""
    return alongside(keep_typing(connector, address), name=f"typing {address.channel}:{address.chat_id}", logger=log)


async def keep_typing(connector: Connector, address: Address) -> None:
    while True:
        with contextlib.suppress(Exception):
            await connector.typing(address)
        await asyncio.sleep(TYPING_EVERY)


def attachments_from_paths(paths: list[str]) -> tuple[Attachment, ...]:
    return tuple(_attachment_from_path(path) for path in paths if os.path.isfile(path))


def _attachment_from_path(path: str) -> Attachment:
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    major = media_type.split("/", 1)[0]
    kind = major if major in ("image", "video", "audio") else "file"
    return Attachment(kind, path=path, media_type=media_type, filename=os.path.basename(path))  # type: ignore[arg-type]
