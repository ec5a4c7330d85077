"""Discord connector: a discord.py `Client` translated to `Inbound` / `Outbound`.

Public surface: `create(config, env)` and `DiscordConnector` (the `Connector` protocol).
discord.py is imported lazily, inside functions.

What reaches the gateway is decided by `DiscordInbound` (connectors/discord/inbound.py);
how a reply is cut into messages and file batches by connectors/discord/format.py.

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
from collections import deque
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from agentbox.commands import command_spec
from agentbox.config import ConfigError
from agentbox.messages import (
    Address,
    Attachment,
    ConnectorError,
    ConnectorLimits,
    ConnectorState,
    ConnectorStatus,
    Deliver,
    Outbound,
)
from agentbox.tasks import TaskSet
from agentbox.tokenlock import acquire_token_lock

from .format import MAX_TEXT, UPLOAD_LIMIT, prepare_files, text_chunks, with_mention
from .inbound import DiscordInbound
from .settings import DiscordConfig

if TYPE_CHECKING:
    import discord

__all__ = ["DiscordConnector", "create"]

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"


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
        self.status = ConnectorStatus()
        self._token = token
        self._ready_timeout = ready_timeout
        self._guild_ready_timeout = guild_ready_timeout  # discord.py waits this long for GUILD_CREATEs before READY
        self._client: discord.Client | None = None
        self._deliver: Deliver | None = None
        self._ready = asyncio.Event()
        self._tasks = TaskSet("discord connector", log)  # the gateway connection and the inbound pump
        self._queue: asyncio.Queue[discord.Message] = asyncio.Queue()
        self._degraded: str | None = None
        self._inbound = DiscordInbound(self.name, config)
        self._interactions: deque[str] = deque(maxlen=256)  # /new interaction ids: not message ids to reply to
        self._saved_globals: tuple[str, Any] | None = None
        self._lock_file: IO[str] | None = None

    # -- lifecycle ---------------------------------------------------------------
    async def start(self, deliver: Deliver) -> None:
        """Log in, connect the gateway and return once READY; the client keeps running in a task."""
        import aiohttp
        import discord

        self._deliver = deliver
        self.status.set(ConnectorState.STARTING)
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
            await self._abort(f"Discord rejected the bot token in ${self.config.token_env}")
            raise ConnectorError(
                f"Discord rejected the bot token (401 Unauthorized): check ${self.config.token_env}, "
                "or reset the token in the developer portal (Bot → Reset Token)",
                fatal=True,
            ) from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            await self._abort(f"cannot log in: {exc}")
            raise ConnectorError(f"Discord: cannot log in at {self.config.api_base_url}: {exc}") from exc

        gateway = self.config.gateway_url
        if gateway is None and self.config.api_base_url.rstrip("/") != DEFAULT_API_BASE_URL:
            with contextlib.suppress(discord.HTTPException, discord.GatewayNotFound):
                _shards, gateway, _limits = await client.http.get_bot_gateway()
        self._point_library_at(None, gateway)

        self._tasks.spawn(self._pump(), name="discord-inbound")
        # awaited: its end is reported by _on_client_exit (or below), not logged by the set
        client_task = self._tasks.spawn(client.connect(reconnect=True), name="discord-gateway", awaited=True)
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({ready, client_task}, timeout=self._ready_timeout, return_when="FIRST_COMPLETED")
        if ready in done:
            client_task.add_done_callback(self._on_client_exit)
            return
        ready.cancel()
        if client_task in done:
            error = self._connect_error(client_task)
            await self._abort(str(error))
            raise error
        await self._abort(f"no READY from the gateway within {self._ready_timeout:.0f}s")
        raise ConnectorError(f"Discord: no READY from the gateway within {self._ready_timeout:.0f}s")

    async def stop(self) -> None:
        """Close the gateway and HTTP session, stop delivering, restore discord.py's URLs."""
        if self._client is not None:
            await self._client.close()
        await self._tasks.aclose()
        self._client = None
        self._restore_library()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the token lock
            self._lock_file = None
        if self.status.state is not ConnectorState.FAILED:
            self.status.set(ConnectorState.STOPPED)

    async def _abort(self, reason: str) -> None:
        await self.stop()
        self.status.set(ConnectorState.FAILED, reason)

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
        # logged once, by the gateway's supervisor (which restarts the connector)
        self.status.set(ConnectorState.FAILED, str(self._connect_error(task)))

    def _set_ready(self) -> None:
        if self._degraded:
            self.status.set(ConnectorState.DEGRADED, self._degraded)
        else:
            self.status.set(ConnectorState.READY)
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
                    connector.status.set(ConnectorState.DEGRADED, "gateway connection lost, reconnecting")

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
        spec = command_spec("new")  # the one slash command; the table's others work typed (with a mention)

        @tree.command(name=spec.name, description=spec.menu_text())
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
                me = self._client.user if self._client is not None else None
                inbound = self._inbound.translate(message, me.id) if me is not None else None
                if inbound is not None and self._deliver is not None:
                    await self._deliver(inbound)
            except Exception:
                log.exception("Discord: could not deliver message %s in channel %s", message.id, message.channel.id)

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """An image or audio file the gateway let in, from Discord's CDN (see `DiscordInbound.fetch`)."""
        return await self._inbound.fetch(attachment, max_bytes)

    async def _on_new_command(self, interaction: discord.Interaction) -> None:
        if not self._inbound.command_allowed(interaction):
            await interaction.response.send_message("I am not enabled in this channel.", ephemeral=True)
            return
        inbound = self._inbound.new_command(interaction)
        if inbound is None or self._deliver is None:
            return
        # Acknowledge within Discord's 3 s window; the gateway's answer follows as a normal message.
        # Neutral words: the access check comes after, and a stranger's /new resets nothing.
        await interaction.response.send_message("Received /new.", ephemeral=True)
        self._interactions.append(inbound.message_id)
        await self._deliver(inbound)

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
        files, notes = prepare_files(outbound.attachments, self._upload_limit(client, channel_id))
        reference = self._reference(address, channel_id)
        text, pings = with_mention(outbound.text, outbound.mention)
        ids: list[str] = []
        try:
            for chunk in text_chunks(text, notes):
                sent = await channel.send(chunk, **_replying(reference, first=not ids), **(pings if not ids else {}))
                ids.append(str(sent.id))
            for batch, caption in files:
                as_files = [discord.File(source, filename=name) for source, name in batch]
                sent = await channel.send(caption, files=as_files, **_replying(reference, first=not ids))
                ids.append(str(sent.id))
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            status = exc.status if isinstance(exc, discord.HTTPException) else 0
            raise ConnectorError(
                f"Discord: send to channel {channel_id} (reply to {address.reply_to}) failed "
                f"after {len(ids)} message(s): {exc}",
                rejected=400 <= status < 500 and status != 429,  # missing access, unknown channel: final
            ) from exc
        if address.thread_id is not None:
            self._inbound.answered_in(channel_id)
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


def _replying(reference: discord.MessageReference | None, *, first: bool) -> dict[str, Any]:
    """Only the first message of a reply answers the user's message (a quote on every chunk is noise)."""
    return {"reference": reference} if first and reference is not None else {}
