"""A Telegram reply that grows in place while the model streams (message edits, throttled)."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

from telegram.error import BadRequest, InvalidToken, TelegramError

from agentbox.messages import Address, ConnectorError, Outbound

from .format import Chunk, render_chunks

if TYPE_CHECKING:
    from .connector import TelegramConnector

log = logging.getLogger(__name__)


def chat_ref(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id  # "@channel" names stay strings


class TelegramSendError(ConnectorError):
    """Sending failed; `sent_ids` are the messages that did go out before the failure (don't resend those)."""

    def __init__(self, message: str, *, sent_ids: list[str], fatal: bool = False, rejected: bool = False) -> None:
        super().__init__(message, fatal=fatal, rejected=rejected)
        self.sent_ids = sent_ids


class TelegramReplyStream:
    """One reply growing in place: the first `update` sends a message, later ones edit it (throttled).

    Text past Telegram's limit continues in further messages. `finish` waits for any edit in
    flight, then makes the final edits with the final text, deletes leftover messages, and
    returns the message ids: afterwards the chat shows exactly the final text.
    With `live=False` (config streaming = "off") updates are ignored and finish sends once.
    """

    def __init__(self, connector: TelegramConnector, address: Address, *, live: bool = True) -> None:
        self._connector = connector
        self._address = address
        self._live = live
        self._ids: list[int] = []
        self._shown: list[Chunk] = []
        self._latest = ""
        self._rendered = ""
        self._finished = False
        self._rendering = False
        self._lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None

    @property
    def message_ids(self) -> list[str]:
        return [str(i) for i in self._ids]

    async def update(self, text_so_far: str) -> None:
        """Never blocks on Telegram and never raises: edits run in a background task."""
        if self._finished or not self._live:
            return
        self._latest = text_so_far
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        chat_id = self._address.chat_id
        while not self._finished:
            wait = self._connector._edit_wait(chat_id)
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            text = self._latest
            if text == self._rendered:
                return
            async with self._lock:
                if self._finished:
                    return
                self._rendering = True
                try:
                    await self._render(text, final=False)
                except Exception as exc:  # best effort: finish() will make the text right
                    log.warning("telegram: stream edit failed: %s", self._connector._reason(exc))
                finally:
                    self._rendering = False
                    self._rendered = text

    async def finish(self, final_text: str) -> list[str]:
        self._finished = True
        if self._flusher is not None and not self._flusher.done():
            if self._rendering:
                await asyncio.gather(self._flusher, return_exceptions=True)  # never cut a send in half
            else:
                self._flusher.cancel()
                await asyncio.gather(self._flusher, return_exceptions=True)
        if not self._live:
            return await self._connector.send(self._address, Outbound(final_text))
        async with self._lock:
            wait = self._connector._edit_wait(self._address.chat_id)
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self._render(final_text, final=True)
            except TelegramError as exc:
                raise TelegramSendError(
                    f"telegram: finishing reply in chat {self._address.chat_id} failed: {self._connector._reason(exc)}",
                    sent_ids=self.message_ids,
                    fatal=isinstance(exc, InvalidToken),
                ) from None
        return self.message_ids

    async def _render(self, text: str, *, final: bool) -> None:
        connector, chat_id = self._connector, self._address.chat_id
        chunks = render_chunks(text)
        for index, chunk in enumerate(chunks):
            if index < len(self._ids):
                if self._shown[index] != chunk:
                    await connector._edit_chunk(chat_id, self._ids[index], chunk)
                    self._shown[index] = chunk
                    connector._mark_edit(chat_id)
            else:
                message = await connector._send_chunk(self._address, chunk, first=not self._ids)
                self._ids.append(message.message_id)
                self._shown.append(chunk)
                connector._mark_edit(chat_id)
        if final:
            # the final text may be shorter than what was streamed: remove what no longer belongs
            bot = connector._require_bot()
            while len(self._ids) > len(chunks):
                message_id = self._ids.pop()
                self._shown.pop()
                try:
                    await connector._call(functools.partial(bot.delete_message, chat_ref(chat_id), message_id), True)
                except BadRequest as exc:
                    log.warning("telegram: cannot delete leftover message %s: %s", message_id, exc)
