"""Telegram inbound: a Bot API `Update` translated into an `Inbound`.

`TelegramInbound` is an object the connector (connectors/telegram/connector.py) owns, kept apart so
each module has one job: this one decides what a Telegram message means (mentions, photos, voice
notes, replies, unsupported media) and fetches media; the connector owns polling, the token and
sending. A photo, voice note or audio file becomes a reference (its file id, declared size and
duration); the gateway asks `fetch` for the bytes only once the sender is allowed in. The file URL
contains the bot token and never leaves this module. A group's upgrade to a supergroup becomes an
`Inbound` with `migrated_from` set: an event for the gateway, never a turn.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
from telegram import Bot, Message, Update
from telegram.constants import MessageEntityType
from telegram.error import BadRequest, InvalidToken, TelegramError

from agentbox.download import check_declared, read_capped
from agentbox.messages import Attachment, Inbound, MediaTooLarge, MediaUnavailable
from agentbox.vision import sniff_image_type

log = logging.getLogger(__name__)

# Media we answer with a polite "unsupported" (checked in this order: animations also carry a document).
_UNSUPPORTED = (
    "video_note",
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
    """Updates of one bot as `Inbound`s, and the bytes of their media.

    Its inputs: the channel name; `bot`, the running `Bot` (it exists only while the connector
    is started); `reason`, the connector's token-free text of an error. `identify` tells it who
    the bot is once getMe answered: mentions and replies are recognized by its id and username.
    """

    def __init__(self, channel: str, *, bot: Callable[[], Bot], reason: Callable[[BaseException], str]) -> None:
        self.channel = channel
        self.bot_id: int | None = None
        self.bot_username = ""
        self._bot = bot
        self._reason = reason

    def identify(self, bot_id: int, username: str) -> None:
        self.bot_id, self.bot_username = bot_id, username

    async def translate(self, update: Update) -> Inbound | None:
        """The update's message as an `Inbound`; None for what is not ours (edits, service messages)."""
        msg = update.message  # edited messages, channel posts, callbacks: not ours
        if msg is None:
            return None
        if msg.migrate_to_chat_id or msg.migrate_from_chat_id:
            return self._migration(msg)
        user, chat = msg.from_user, msg.chat
        mentioned, text = self._mention_and_text(msg)
        attachments: list[Attachment] = []
        unsupported: str | None = None
        if msg.photo:
            largest = max(msg.photo, key=lambda size: (size.width * size.height, size.file_size or 0))
            attachments.append(Attachment("image", ref=largest.file_id, size=largest.file_size))
        elif msg.document and (msg.document.mime_type or "").startswith("image/"):
            doc = msg.document
            attachments.append(
                Attachment(
                    "image", ref=doc.file_id, size=doc.file_size, media_type=doc.mime_type, filename=doc.file_name
                )
            )
        elif (audio := _audio_ref(msg)) is not None:
            attachments.append(audio)
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
            channel=self.channel,
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

    def _migration(self, msg: Message) -> Inbound | None:
        """A group upgraded to a supergroup (its chat id changes): one event under the new id, never a turn.

        Telegram posts a service message in both chats: `migrate_to_chat_id` in the old group,
        `migrate_from_chat_id` in the new supergroup. Only Telegram writes these fields, so both
        ids are trusted; either message alone carries the move, and handling both changes nothing more.
        """
        chat = msg.chat
        if chat.type == "private":
            return None
        if msg.migrate_from_chat_id:
            old, new = msg.migrate_from_chat_id, chat.id
        else:
            old, new = chat.id, msg.migrate_to_chat_id or 0
        user = msg.from_user
        return Inbound(
            channel=self.channel,
            chat_id=str(new),
            message_id=str(msg.message_id),
            sender_id=str(user.id) if user is not None else str(old),
            sender_name=(user.username or user.full_name) if user is not None else "",
            text="",
            is_direct=False,
            group_name=chat.title or "",
            migrated_from=str(old),
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

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """The bytes of a photo, image, voice note or audio file: getFile, then a download capped at `max_bytes`."""
        if attachment.ref is None or attachment.data is not None:
            return attachment
        limit = min(max_bytes, _MAX_DOWNLOAD)
        check_declared(attachment.size, limit)
        try:
            file = await self._bot().get_file(attachment.ref)
        except BadRequest as exc:
            log.warning("telegram: getFile failed for %s: %s", attachment.ref, self._reason(exc))
            if "too big" in str(exc).lower():
                raise MediaTooLarge(limit, attachment.size) from None
            raise MediaUnavailable("Telegram no longer has this file") from None
        except InvalidToken:  # PTB's mapping of a 401/404 from the file endpoint
            raise MediaUnavailable("Telegram no longer has this file") from None
        except TelegramError as exc:
            raise MediaUnavailable(f"cannot reach Telegram: {self._reason(exc)}", transient=True) from None
        check_declared(file.file_size, limit)
        if not file.file_path:
            raise MediaUnavailable("Telegram gave no path for this file")
        data = await self._download(file.file_path, limit)
        if attachment.kind != "image":
            return replace(attachment, data=data)  # the gateway reads what audio it is from the bytes
        media_type = sniff_image_type(data) or attachment.media_type or "image/jpeg"
        return replace(attachment, data=data, media_type=media_type)

    async def _download(self, file_path: str, limit: int) -> bytes:
        if not file_path.startswith(("http://", "https://")):  # a local Bot API server hands out paths
            path = Path(file_path)
            check_declared((await asyncio.to_thread(path.stat)).st_size, limit)
            return await asyncio.to_thread(path.read_bytes)
        try:
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=15.0)) as client,
                client.stream("GET", file_path) as response,
            ):
                if response.status_code != 200:
                    raise MediaUnavailable(f"the file download answered HTTP {response.status_code}")
                return await read_capped(response.aiter_bytes(), limit)
        except httpx.HTTPError as exc:  # the URL holds the token: only the redacted reason is kept
            raise MediaUnavailable(f"download failed: {self._reason(exc)}", transient=True) from None


def _audio_ref(msg: Message) -> Attachment | None:
    """A voice note, an audio file or an audio document, as a reference to fetch after the access check."""
    if msg.voice is not None:
        voice = msg.voice
        return Attachment(
            "audio",
            ref=voice.file_id,
            size=voice.file_size,
            media_type=voice.mime_type or "audio/ogg",
            duration=_seconds(voice.duration),
            voice=True,
        )
    audio = msg.audio
    if audio is not None:
        return Attachment(
            "audio",
            ref=audio.file_id,
            size=audio.file_size,
            media_type=audio.mime_type,
            filename=audio.file_name,
            duration=_seconds(audio.duration),
        )
    doc = msg.document
    if doc is not None and (doc.mime_type or "").startswith("audio/"):
        return Attachment(
            "audio", ref=doc.file_id, size=doc.file_size, media_type=doc.mime_type, filename=doc.file_name
        )
    return None


def _seconds(duration: object) -> float | None:
    """PTB gives durations as int seconds or (newer setting) a timedelta."""
    if isinstance(duration, int | float):
        return float(duration)
    total = getattr(duration, "total_seconds", None)
    return float(total()) if callable(total) else None


def _quoted(msg: Message) -> str | None:
    """Text or caption of the message this one replies to (a forum topic's opening event has none)."""
    reply = msg.reply_to_message
    if reply is None:
        return None
    return reply.text or reply.caption or None
