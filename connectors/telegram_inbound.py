"""Telegram inbound: a Bot API `Update` translated into an `Inbound`.

A mixin of `TelegramConnector` (connectors/telegram.py), kept apart so each module has one
job: this one decides what a Telegram message means (mentions, photos, replies, unsupported
media); the connector owns polling, the token and sending. Media is downloaded as bytes: the
file URL contains the bot token and must never leave the connector.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.constants import MessageEntityType
from telegram.error import BadRequest, InvalidToken

from agentbox.config import TelegramConfig
from agentbox.messages import Attachment, Inbound
from agentbox.vision import sniff_image_type

if TYPE_CHECKING:
    from telegram import Bot

log = logging.getLogger("agentbox.connectors.telegram")

# Media we answer with a polite "unsupported" (checked in this order: animations also carry a document).
_UNSUPPORTED = (
    "voice",
    "video_note",
    "audio",
    "video",
    "animation",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "document",
)
_MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API's getFile limit


class TelegramInbound:
    """Translation; the attributes it reads are set up by `TelegramConnector.__init__`."""

    name: str
    config: TelegramConfig
    bot_id: int | None
    bot_username: str

    if TYPE_CHECKING:

        def _require_bot(self) -> Bot: ...

        def _reason(self, exc: BaseException) -> str: ...

    async def _translate(self, update: Update) -> Inbound | None:
        msg = update.message  # edited messages, channel posts, callbacks: not ours
        if msg is None:
            return None
        user, chat = msg.from_user, msg.chat
        mentioned, text = self._mention_and_text(msg)
        attachments: list[Attachment] = []
        unsupported: str | None = None
        if msg.photo:
            largest = max(msg.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
            attachment, unsupported = await self._download_image(largest.file_id, largest.file_size, None, None)
            attachments += [attachment] if attachment else []
        elif msg.document and (msg.document.mime_type or "").startswith("image/"):
            doc = msg.document
            attachment, unsupported = await self._download_image(
                doc.file_id, doc.file_size, doc.mime_type, doc.file_name
            )
            attachments += [attachment] if attachment else []
        else:
            unsupported = next((kind for kind in _UNSUPPORTED if getattr(msg, kind, None)), None)
        if unsupported:
            text = ""
        elif not text and not attachments:
            return None  # service message: member joined, pinned, ...
        if user is not None:
            sender_id, sender_name = str(user.id), user.username or user.full_name
        elif msg.sender_chat is not None:  # anonymous admin or channel
            sender_id, sender_name = str(msg.sender_chat.id), msg.sender_chat.title or ""
        else:
            sender_id, sender_name = str(chat.id), chat.title or ""
        return Inbound(
            channel=self.name,
            chat_id=str(chat.id),
            message_id=str(msg.message_id),
            sender_id=sender_id,
            sender_name=sender_name,
            text=text,
            is_direct=chat.type == "private",
            mentioned=mentioned,
            thread_id=str(msg.message_thread_id) if msg.is_topic_message and msg.message_thread_id else None,
            attachments=tuple(attachments),
            unsupported=unsupported,
            bot_authored=bool(user and user.is_bot),
            reply_to_text=_quoted(msg),
            group_name="" if chat.type == "private" else chat.title or "",
        )

    def _mention_and_text(self, msg: Message) -> tuple[bool, str]:
        """Was the bot @mentioned, text-mentioned, addressed by /cmd@bot or replied to; text without @bot."""
        text = msg.text or msg.caption or ""
        entities = msg.parse_entities() if msg.text else msg.parse_caption_entities()
        me = self.bot_username.lower()
        mentioned = False
        cuts: list[tuple[int, int, str]] = []  # UTF-16 (offset, length, replacement)
        for entity, value in entities.items():
            if entity.type == MessageEntityType.MENTION and me and value[1:].lower() == me:
                mentioned = True
                cuts.append((entity.offset, entity.length, ""))
            elif entity.type == MessageEntityType.TEXT_MENTION and entity.user and entity.user.id == self.bot_id:
                mentioned = True
            elif entity.type == MessageEntityType.BOT_COMMAND and "@" in value:
                command, _, target = value.partition("@")
                if me and target.lower() == me:
                    mentioned = True
                    cuts.append((entity.offset, entity.length, command))
        reply = msg.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == self.bot_id:
            mentioned = True
        if cuts:
            units = text.encode("utf-16-le")
            for offset, length, replacement in sorted(cuts, reverse=True):
                units = units[: offset * 2] + replacement.encode("utf-16-le") + units[(offset + length) * 2 :]
            text = re.sub(r"[ \t]{2,}", " ", units.decode("utf-16-le")).strip()
        return mentioned, text

    async def _download_image(
        self, file_id: str, size: int | None, media_type: str | None, filename: str | None
    ) -> tuple[Attachment | None, str | None]:
        """(attachment, None), or (None, reason) when the file cannot be fetched at all."""
        if size is not None and size > _MAX_DOWNLOAD:
            return None, "file_too_large"
        try:
            file = await self._require_bot().get_file(file_id)
            data = bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            # permanent (e.g. "file is too big"): retrying would block the chat forever
            log.warning("telegram: cannot download %s: %s", file_id, self._reason(exc))
            return None, "file_too_large" if "too big" in str(exc).lower() else "file_unavailable"
        except InvalidToken:  # the file endpoint answers 404 for a vanished file (PTB maps it to InvalidToken)
            return None, "file_unavailable"
        return Attachment(
            kind="image", data=data, media_type=sniff_image_type(data) or media_type or "image/jpeg", filename=filename
        ), None


def _quoted(msg: Message) -> str | None:
    """Text or caption of the message this one replies to (a forum topic's opening event has none)."""
    reply = msg.reply_to_message
    if reply is None:
        return None
    return reply.text or reply.caption or None
