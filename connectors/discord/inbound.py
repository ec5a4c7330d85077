"""Discord inbound: messages and the `/new` slash command translated into `Inbound`s.

`DiscordInbound` is an object the connector (connectors/discord/connector.py) owns, kept apart so
each module has one job: this one decides what a Discord message means (who it addresses, which
server and channel it may come from, its media) and fetches images and audio; the connector owns the
discord.py client, the token, delivery and sending. An image, voice message or audio file becomes a
reference (its CDN URL, which holds no token, and declared size); `fetch` downloads it once the
sender is let in.
discord.py is imported inside functions: importing this module stays cheap.

What reaches the gateway:
- DMs, always (`is_direct=True`; pairing and DM policy are the gateway's job).
- Guild messages that address the bot: an @mention (user or the bot's managed role),
  a reply to one of its messages, any message in a thread the bot answered in or
  started. `mentioned=True`, the mention stripped from the text.
- Other guild messages only when `group_policy = "open"` (then `mentioned=False`);
  under "mention"/"disabled" they are dropped here, so bystanders' chatter never
  lands in the owner's database. The gateway still applies its own gating.
- Nothing outside the optional `guilds` / `channels` allowlists (a thread counts as
  its parent channel); nothing written by this bot or any other bot.
- `/new` (a slash command, when `slash_commands = true`) as an Inbound with text "/new".
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from agentbox.download import check_declared, read_capped
from agentbox.messages import Attachment, AttachmentKind, Inbound, MediaUnavailable

if TYPE_CHECKING:
    import discord

    from .settings import DiscordConfig

MAX_IMAGE_DOWNLOAD = 25 * 1024 * 1024  # larger "images" are not worth holding in memory for a model
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


class DiscordInbound:
    """Messages of one Discord bot as `Inbound`s, and the bytes of the images they share.

    Its inputs: the channel name and the channel's settings (server and channel allowlists,
    group policy); `translate` takes the bot's user id with each message. `answered_in` tells
    it the bot answered in a thread: every later message there addresses the bot.
    """

    def __init__(self, channel: str, settings: DiscordConfig) -> None:
        self.channel = channel
        self._settings = settings
        self._bot_threads: set[int] = set()  # threads we answered in: every message there addresses us

    def answered_in(self, thread_id: int) -> None:
        self._bot_threads.add(thread_id)

    def translate(self, message: discord.Message, bot_id: int) -> Inbound | None:
        """The message as an `Inbound`; None when it is not for the bot (see the module docstring)."""
        import discord

        if message.author.bot:
            return None  # our own echo, or another bot: never a conversation partner
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None  # joins, pins, thread starters... are not things to answer
        text, thread_id, mentioned = message.content, None, False
        if message.guild is not None:
            addressed = self._in_server(message, message.guild, bot_id)
            if addressed is None:
                return None
            text, thread_id, mentioned = addressed
        attachments = _attachments(message)
        return Inbound(
            channel=self.channel,
            chat_id=str(message.channel.id),
            message_id=str(message.id),
            sender_id=str(message.author.id),
            sender_name=message.author.display_name,
            text=text,
            is_direct=message.guild is None,
            mentioned=mentioned,
            thread_id=thread_id,
            attachments=tuple(attachments),
            unsupported=_unsupported(message, text, attachments),
            reply_to_text=_referenced_text(message),
            group_id=str(message.guild.id) if message.guild is not None else None,
            group_name=message.guild.name if message.guild is not None else "",
        )

    def _in_server(
        self, message: discord.Message, guild: discord.Guild, bot_id: int
    ) -> tuple[str, str | None, bool] | None:
        """A server message as (its text without the bot's mention, its thread id, whether it addresses
        the bot); None when the bot must not see it (allowlists, or not addressed unless the policy is open)."""
        import discord

        text, thread_id, mentioned = message.content, None, False
        channel = message.channel
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        if not self.allowed(guild.id, channel.id, parent_id):
            return None
        if isinstance(channel, discord.Thread):
            thread_id = str(channel.id)
            mentioned = channel.id in self._bot_threads or channel.owner_id == bot_id
        self_role = guild.self_role
        mentioned_roles = {role.id for role in message.role_mentions}
        if any(user.id == bot_id for user in message.mentions) or (self_role and self_role.id in mentioned_roles):
            mentioned = True
            text = _strip_mention(text, bot_id, self_role.id if self_role else None)
        if _replies_to(message, bot_id):
            mentioned = True
        if not mentioned and self._settings.group_policy != "open":
            return None
        return text, thread_id, mentioned

    def command_allowed(self, interaction: discord.Interaction) -> bool:
        """May a slash command used here be answered (the server and channel allowlists)?"""
        import discord

        channel, guild_id = interaction.channel, interaction.guild_id
        if guild_id is None or channel is None:
            return True
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        return self.allowed(guild_id, channel.id, parent_id)

    def new_command(self, interaction: discord.Interaction) -> Inbound | None:
        """`/new` as the message "/new" from its user, in its channel or thread; None without a channel."""
        import discord

        channel_id, guild_id = interaction.channel_id, interaction.guild_id
        if channel_id is None:
            return None
        is_thread = isinstance(interaction.channel, discord.Thread)
        return Inbound(
            channel=self.channel,
            chat_id=str(channel_id),
            message_id=str(interaction.id),
            sender_id=str(interaction.user.id),
            sender_name=interaction.user.display_name,
            text="/new",
            is_direct=guild_id is None,
            mentioned=True,
            thread_id=str(channel_id) if is_thread else None,
            group_id=str(guild_id) if guild_id is not None else None,
            group_name=interaction.guild.name if interaction.guild is not None else "",
        )

    def allowed(self, guild_id: int, channel_id: int, parent_id: int | None) -> bool:
        guilds, channels = self._settings.guilds, self._settings.channels
        if guilds is not None and str(guild_id) not in guilds:
            return False
        if channels is not None and str(channel_id) not in channels and str(parent_id) not in channels:
            return False
        return True

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """Download an image or audio file from Discord's CDN (no token needed), never past `max_bytes`."""
        import aiohttp

        if attachment.ref is None or attachment.data is not None:
            return attachment
        limit = min(max_bytes, MAX_IMAGE_DOWNLOAD)
        check_declared(attachment.size, limit)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=60)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(attachment.ref) as response,
            ):
                if response.status != 200:
                    raise MediaUnavailable(f"Discord's CDN answered HTTP {response.status}")
                check_declared(response.content_length, limit)
                data = await read_capped(response.content.iter_chunked(64 * 1024), limit)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise MediaUnavailable(f"download failed: {type(exc).__name__}", transient=True) from None
        return replace(attachment, data=data)


def _attachments(message: discord.Message) -> list[Attachment]:
    result: list[Attachment] = []
    for item in message.attachments:
        media_type = (item.content_type or "").split(";")[0] or None
        # The CDN URL is signed but carries no bot token: safe to keep as the reference to fetch later.
        if _is_image(media_type, item.filename):
            result.append(
                Attachment(kind="image", ref=item.url, size=item.size, media_type=media_type, filename=item.filename)
            )
        elif _kind_of(media_type) == "audio" or item.is_voice_message():
            voice = item.is_voice_message()
            result.append(
                Attachment(
                    kind="audio",
                    ref=item.url,
                    size=item.size,
                    media_type=media_type,
                    filename=item.filename,
                    duration=item.duration,
                    voice=voice,
                )
            )
        else:
            kind = _kind_of(media_type)
            result.append(Attachment(kind=kind, url=item.url, media_type=media_type, filename=item.filename))
    return result


def _unsupported(message: discord.Message, text: str, attachments: list[Attachment]) -> str | None:
    """What the message is when nothing in it can be answered: a voice message without its audio, or a sticker alone."""
    if message.flags.voice and not any(item.kind == "audio" for item in attachments):
        return "voice"
    if message.stickers and not text.strip() and not attachments:
        return "sticker"
    return None


def _strip_mention(text: str, bot_id: int, role_id: int | None) -> str:
    pattern = rf"<@!?{bot_id}>" + (rf"|<@&{role_id}>" if role_id else "")
    return re.sub(rf"(?:{pattern})[ \t]?", "", text).strip()


def _replies_to(message: discord.Message, bot_id: int) -> bool:
    import discord

    resolved = message.reference.resolved if message.reference else None
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_id


def _referenced_text(message: discord.Message) -> str | None:
    """The text of the message this one replies to, as Discord sent it along (None if deleted or absent)."""
    import discord

    resolved = message.reference.resolved if message.reference else None
    if not isinstance(resolved, discord.Message):
        return None
    return resolved.content or None


def _is_image(media_type: str | None, filename: str) -> bool:
    if media_type:
        return media_type.startswith("image/")
    return filename.lower().endswith(_IMAGE_SUFFIXES)


def _kind_of(media_type: str | None) -> AttachmentKind:
    if media_type and media_type.startswith("video/"):
        return "video"
    if media_type and media_type.startswith("audio/"):
        return "audio"
    return "file"
