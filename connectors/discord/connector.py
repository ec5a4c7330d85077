"""Discord connector: a discord.py `Client` translated to `Inbound` / `Outbound`.

Public surface: `create(config, env)` and `DiscordConnector` (the `Connector` protocol,
plus `state` for /status). discord.py is imported lazily, only here.

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

Pointing the real library at another server: discord.py has no base-URL option. Every
REST URL is `discord.http.Route.BASE + path` (the library's own `_set_api_version`
rewrites that class attribute), and the first gateway connection goes to
`DiscordWebSocket.DEFAULT_GATEWAY` (resumes use READY's `resume_gateway_url`). The
connector sets both while it runs and restores them in `stop()`, so one process runs one
Discord connector. `gateway_url` wins; otherwise, with a non-default `api_base_url`, the
gateway URL is asked from that server's `GET /gateway/bot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any

from agentbox.config import ConfigError
from agentbox.connectors.discord.settings import DiscordConfig
from agentbox.download import check_declared, read_capped
from agentbox.messages import (
    Address,
    Attachment,
    AttachmentKind,
    ConnectorError,
    ConnectorLimits,
    Deliver,
    Inbound,
    MediaUnavailable,
    Outbound,
)
from agentbox.textsplit import split_markdown
from agentbox.tokenlock import acquire_token_lock

if TYPE_CHECKING:
    import discord

__all__ = ["DiscordConnector", "create"]

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
MAX_TEXT = 2000  # Discord rejects longer message content
UPLOAD_LIMIT = 10 * 1024 * 1024  # per file, DMs and unboosted guilds; boosted guilds allow more
MAX_FILES_PER_MESSAGE = 10
MAX_IMAGE_DOWNLOAD = 25 * 1024 * 1024  # larger "images" are not worth holding in memory for a model
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def create(config: DiscordConfig, env: Mapping[str, str]) -> DiscordConnector:
    """Build the connector from `[channels.discord]` and the environment (the token lives in an env var)."""
    token = (env.get(config.token_env) or "").strip()
    if not token:
        raise ConfigError(
            f"channels.discord: the bot token is missing: set it with `export {config.token_env}=...` "
            "(Discord developer portal → your application → Bot → Reset Token; see docs/discord.md)"
        )
    return DiscordConnector(config, token)


class DiscordConnector:
    """One Discord bot: receives over the gateway websocket, sends over REST."""

    name = "discord"
    limits = ConnectorLimits(max_text=MAX_TEXT, max_upload_bytes=UPLOAD_LIMIT)

    def __init__(
        self,
        config: DiscordConfig,
        token: str,
        *,
        ready_timeout: float = 60.0,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        self.config = config
        self.state = "starting"
        self._token = token
        self._ready_timeout = ready_timeout
        self._guild_ready_timeout = guild_ready_timeout  # discord.py waits this long for GUILD_CREATEs before READY
        self._client: discord.Client | None = None
        self._deliver: Deliver | None = None
        self._ready = asyncio.Event()
        self._client_task: asyncio.Task[None] | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[discord.Message] = asyncio.Queue()
        self._degraded: str | None = None
        self._bot_threads: set[int] = set()  # threads we answered in: every message there addresses us
        self._interactions: deque[str] = deque(maxlen=256)  # /new interaction ids: not message ids to reply to
        self._saved_globals: tuple[str, Any] | None = None
        self._lock_file: IO[str] | None = None

    # -- lifecycle ---------------------------------------------------------------
    async def start(self, deliver: Deliver) -> None:
        """Log in, connect the gateway and return once READY; the client keeps running in a task."""
        import aiohttp
        import discord

        self._deliver = deliver
        self.state = "starting"
        self._ready.clear()
        # Discord sends every message to every client on a token: a second gateway would answer twice.
        self._lock_file = acquire_token_lock(
            "discord", self._token, why=" (two clients on one token answer every message twice)"
        )
        self._point_library_at(self.config.api_base_url.rstrip("/"), None)
        client = self._client = self._build_client()
        try:
            await client.login(self._token)
        except discord.LoginFailure:
            await self._abort(f"failed: Discord rejected the bot token in ${self.config.token_env}")
            raise ConnectorError(
                f"Discord rejected the bot token (401 Unauthorized): check ${self.config.token_env}, "
                "or reset the token in the developer portal (Bot → Reset Token)",
                fatal=True,
            ) from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            await self._abort(f"failed: cannot log in: {exc}")
            raise ConnectorError(f"Discord: cannot log in at {self.config.api_base_url}: {exc}") from exc

        gateway = self.config.gateway_url
        if gateway is None and self.config.api_base_url.rstrip("/") != DEFAULT_API_BASE_URL:
            with contextlib.suppress(discord.HTTPException, discord.GatewayNotFound):
                _shards, gateway, _limits = await client.http.get_bot_gateway()
        self._point_library_at(None, gateway)

        self._pump_task = asyncio.create_task(self._pump(), name="discord-inbound")
        self._client_task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._client_task}, timeout=self._ready_timeout, return_when="FIRST_COMPLETED"
        )
        if ready in done:
            self._client_task.add_done_callback(self._on_client_exit)
            return
        ready.cancel()
        if self._client_task in done:
            error = self._connect_error(self._client_task)
            await self._abort(f"failed: {error}")
            raise error
        await self._abort(f"failed: no READY from the gateway within {self._ready_timeout:.0f}s")
        raise ConnectorError(f"Discord: no READY from the gateway within {self._ready_timeout:.0f}s")

    async def stop(self) -> None:
        """Close the gateway and HTTP session, stop delivering, restore discord.py's URLs."""
        if self._client is not None:
            await self._client.close()
        for task in (self._client_task, self._pump_task):
            if task is not None and not task.done():
                task.cancel()
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._client_task = self._pump_task = None
        self._client = None
        self._restore_library()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the token lock
            self._lock_file = None
        if not self.state.startswith("failed"):
            self.state = "stopped"

    async def _abort(self, state: str) -> None:
        await self.stop()
        self.state = state

    def _point_library_at(self, api_base_url: str | None, gateway_url: str | None) -> None:
        import discord.gateway
        import discord.http
        import yarl

        if self._saved_globals is None:
            self._saved_globals = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        if api_base_url is not None:
            discord.http.Route.BASE = api_base_url
        if gateway_url is not None:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def _restore_library(self) -> None:
        import discord.gateway
        import discord.http

        if self._saved_globals is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_globals
            self._saved_globals = None

    def _connect_error(self, task: asyncio.Task[None]) -> ConnectorError:
        import discord

        exc = task.exception() if not task.cancelled() else None
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            return ConnectorError(
                "Discord refused the Message Content intent: enable it in the developer portal "
                "(Bot → Privileged Gateway Intents → Message Content Intent)",
                fatal=True,
            )
        if isinstance(exc, discord.ConnectionClosed) and exc.code == 4004:
            return ConnectorError(
                f"Discord gateway rejected the bot token (4004): check ${self.config.token_env}", fatal=True
            )
        return ConnectorError(f"Discord gateway connection ended: {exc!r}")

    def _on_client_exit(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._client is None or self._client.is_closed():
            return
        self.state = f"failed: {self._connect_error(task)}"  # logged once, by the gateway's supervisor

    def _set_ready(self) -> None:
        self.state = f"degraded: {self._degraded}" if self._degraded else "ready"
        self._ready.set()

    # -- the discord.py client ---------------------------------------------------
    def _build_client(self) -> discord.Client:
        import discord

        connector = self
        intents = discord.Intents.none()
        intents.guilds = True  # channel/thread cache: tells threads from channels, resolves guilds
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = True  # privileged: must be enabled in the developer portal

        class _Client(discord.Client):
            async def setup_hook(self) -> None:
                await connector._register_commands(self)

            async def on_ready(self) -> None:
                connector._set_ready()

            async def on_resumed(self) -> None:
                connector._set_ready()

            async def on_disconnect(self) -> None:
                if connector._ready.is_set():
                    connector.state = "degraded: gateway connection lost, reconnecting"

            async def on_message(self, message: discord.Message) -> None:
                # One queue, one consumer: delivery keeps the gateway's order even while images download.
                connector._queue.put_nowait(message)

        # The model's text never pings @everyone, roles or users; replies still notify their author.
        mentions = discord.AllowedMentions(everyone=False, roles=False, users=False, replied_user=True)
        return _Client(intents=intents, allowed_mentions=mentions, guild_ready_timeout=self._guild_ready_timeout)

    async def _register_commands(self, client: discord.Client) -> None:
        if not self.config.slash_commands:
            return
        import discord
        from discord import app_commands

        tree = app_commands.CommandTree(client)

        @tree.command(name="new", description="Start a new conversation (forget this chat's history)")
        async def new(interaction: discord.Interaction) -> None:
            await self._on_new_command(interaction)

        try:
            await tree.sync()  # a bulk overwrite: re-sending unchanged commands is idempotent
        except discord.HTTPException as exc:
            self._degraded = f"/new not registered ({exc.status})"
            log.warning("Discord: could not register the /new slash command: %s", exc)

    # -- inbound -----------------------------------------------------------------
    async def _pump(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                inbound = await self._to_inbound(message)
                if inbound is not None and self._deliver is not None:
                    await self._deliver(inbound)
            except Exception:
                log.exception("Discord: could not deliver message %s in channel %s", message.id, message.channel.id)

    async def _to_inbound(self, message: discord.Message) -> Inbound | None:
        import discord

        client = self._client
        if client is None or client.user is None or message.author.bot:
            return None  # our own echo, or another bot: never a conversation partner
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None  # joins, pins, thread starters... are not things to answer
        bot_id = client.user.id
        text = message.content
        chat_id, thread_id = str(message.channel.id), None
        mentioned = False
        if message.guild is not None:
            channel = message.channel
            parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
            if not self._allowed(message.guild.id, channel.id, parent_id):
                return None
            if isinstance(channel, discord.Thread):
                thread_id = str(channel.id)
                mentioned = channel.id in self._bot_threads or channel.owner_id == bot_id
            self_role = message.guild.self_role
            mentioned_roles = {role.id for role in message.role_mentions}
            if any(user.id == bot_id for user in message.mentions) or (self_role and self_role.id in mentioned_roles):
                mentioned = True
                text = _strip_mention(text, bot_id, self_role.id if self_role else None)
            if _replies_to(message, bot_id):
                mentioned = True
            if not mentioned and self.config.group_policy != "open":
                return None

        attachments = self._attachments(message)
        unsupported: str | None = None
        if message.flags.voice:
            unsupported = "voice"
        elif message.stickers and not text.strip() and not attachments:
            unsupported = "sticker"
        return Inbound(
            channel=self.name,
            chat_id=chat_id,
            message_id=str(message.id),
            sender_id=str(message.author.id),
            sender_name=message.author.display_name,
            text=text,
            is_direct=message.guild is None,
            mentioned=mentioned,
            thread_id=thread_id,
            attachments=tuple(attachments),
            unsupported=unsupported,
            group_id=str(message.guild.id) if message.guild is not None else None,
            group_name=message.guild.name if message.guild is not None else "",
        )

    def _allowed(self, guild_id: int, channel_id: int, parent_id: int | None) -> bool:
        guilds, channels = self.config.guilds, self.config.channels
        if guilds is not None and str(guild_id) not in guilds:
            return False
        if channels is not None and str(channel_id) not in channels and str(parent_id) not in channels:
            return False
        return True

    def _attachments(self, message: discord.Message) -> list[Attachment]:
        result: list[Attachment] = []
        for item in message.attachments:
            media_type = (item.content_type or "").split(";")[0] or None
            # The CDN URL is signed but carries no bot token: safe to keep as the reference to fetch later.
            if _is_image(media_type, item.filename):
                result.append(
                    Attachment(
                        kind="image", ref=item.url, size=item.size, media_type=media_type, filename=item.filename
                    )
                )
            else:
                kind = _kind_of(media_type)
                result.append(Attachment(kind=kind, url=item.url, media_type=media_type, filename=item.filename))
        return result

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """Download an image from Discord's CDN (no token needed), never past `max_bytes`."""
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

    async def _on_new_command(self, interaction: discord.Interaction) -> None:
        import discord

        channel = interaction.channel
        guild_id = interaction.guild_id
        if guild_id is not None and channel is not None:
            parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
            if not self._allowed(guild_id, channel.id, parent_id):
                await interaction.response.send_message("I am not enabled in this channel.", ephemeral=True)
                return
        channel_id = interaction.channel_id
        if channel_id is None or self._deliver is None:
            return
        # Acknowledge within Discord's 3 s window; the gateway's answer follows as a normal message.
        await interaction.response.send_message("Starting a new conversation…", ephemeral=True)
        self._interactions.append(str(interaction.id))
        is_thread = isinstance(channel, discord.Thread)
        await self._deliver(
            Inbound(
                channel=self.name,
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
        )

    # -- outbound ----------------------------------------------------------------
    async def send(self, address: Address, outbound: Outbound) -> list[str]:
        """Send text in chunks ≤ 2,000 chars (code blocks kept valid), then files; return message ids.

        The first message replies to `address.reply_to`. Raises `ConnectorError` when Discord refuses.
        """
        import aiohttp
        import discord

        client = self._require_client()
        channel_id = int(address.thread_id or address.chat_id)
        channel = client.get_partial_messageable(channel_id)
        files, notes = self._prepare_files(outbound.attachments, self._upload_limit(client, channel_id))
        text = "\n".join(part for part in (outbound.text.strip(), *notes) if part)
        chunks = split_markdown(text, MAX_TEXT) if text else []
        reference = self._reference(address, channel_id)
        ids: list[str] = []
        try:
            for chunk in chunks:
                sent = await channel.send(chunk, reference=None if ids else reference)  # type: ignore[arg-type]
                ids.append(str(sent.id))
            for batch, caption in files:
                as_files = [discord.File(source, filename=name) for source, name in batch]
                sent = await channel.send(caption, files=as_files, reference=None if ids else reference)  # type: ignore[arg-type]
                ids.append(str(sent.id))
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            status = exc.status if isinstance(exc, discord.HTTPException) else 0
            raise ConnectorError(
                f"Discord: send to channel {channel_id} (reply to {address.reply_to}) failed "
                f"after {len(ids)} message(s): {exc}",
                rejected=400 <= status < 500 and status != 429,  # missing access, unknown channel: final
            ) from exc
        if address.thread_id is not None:
            self._bot_threads.add(channel_id)
        return ids

    async def typing(self, address: Address) -> None:
        """Trigger Discord's typing indicator (it lasts ~10 s or until the bot sends)."""
        import discord

        client = self._client
        if client is None:
            return
        try:
            await client.http.send_typing(int(address.thread_id or address.chat_id))
        except (discord.HTTPException, OSError) as exc:
            log.debug("Discord: typing indicator failed: %s", exc)

    def _require_client(self) -> discord.Client:
        if self._client is None or self._client.is_closed():
            raise ConnectorError("Discord connector is not running")
        return self._client

    def _reference(self, address: Address, channel_id: int) -> discord.MessageReference | None:
        import discord

        if not address.reply_to or not address.reply_to.isdigit() or address.reply_to in self._interactions:
            return None
        # fail_if_not_exists=False: a deleted question must not swallow the answer.
        return discord.MessageReference(
            message_id=int(address.reply_to), channel_id=channel_id, fail_if_not_exists=False
        )

    def _upload_limit(self, client: discord.Client, channel_id: int) -> int:
        channel = client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        return max(guild.filesize_limit, UPLOAD_LIMIT) if guild is not None else UPLOAD_LIMIT

    def _prepare_files(
        self, attachments: tuple[Attachment, ...], limit: int
    ) -> tuple[list[tuple[list[tuple[Any, str]], str | None]], list[str]]:
        """Group uploadable media into messages (≤ 10 files, ≤ `limit` bytes each); the rest become links."""
        import io

        batches: list[tuple[list[tuple[Any, str]], str | None]] = []
        notes: list[str] = []
        batch: list[tuple[Any, str]] = []
        captions: list[str] = []
        total = 0
        for index, item in enumerate(attachments):
            name = item.filename or (os.path.basename(item.path) if item.path else _default_name(item, index))
            size = len(item.data) if item.data is not None else _file_size(item.path)
            if size is None or size > limit:
                if item.url:
                    notes.append(f"{item.caption}: {item.url}" if item.caption else item.url)
                elif size is None:
                    notes.append(f"({name} could not be attached: file not found)")
                else:
                    notes.append(f"({name} is too large to upload to Discord: {size / 1_048_576:.1f} MB)")
                continue
            if batch and (len(batch) == MAX_FILES_PER_MESSAGE or total + size > limit):
                batches.append((batch, _caption(captions)))
                batch, captions, total = [], [], 0
            source = io.BytesIO(item.data) if item.data is not None else item.path
            batch.append((source, name))
            total += size
            if item.caption:
                captions.append(item.caption)
        if batch:
            batches.append((batch, _caption(captions)))
        return batches, notes


def _strip_mention(text: str, bot_id: int, role_id: int | None) -> str:
    pattern = rf"<@!?{bot_id}>" + (rf"|<@&{role_id}>" if role_id else "")
    return re.sub(rf"(?:{pattern})[ \t]?", "", text).strip()


def _replies_to(message: discord.Message, bot_id: int) -> bool:
    import discord

    resolved = message.reference.resolved if message.reference else None
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_id


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


def _default_name(item: Attachment, index: int) -> str:
    ext = mimetypes.guess_extension(item.media_type or "") or {"image": ".png", "video": ".mp4"}.get(item.kind, ".bin")
    return f"{item.kind}-{index + 1}{ext}"


def _file_size(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _caption(captions: list[str]) -> str | None:
    text = "\n".join(captions)
    return text[:MAX_TEXT] or None
