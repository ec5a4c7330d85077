"""Slack connector: slack-bolt's async app over Socket Mode (default) or the HTTP Events API.

It translates and nothing else. Inbound: DMs, `app_mention` in channels, and follow-ups in
threads the bot is part of become `Inbound`s (bots, edits and deletions are dropped).
Outbound: Markdown → mrkdwn, split under Slack's limit, into the conversation's thread;
attachments go through the files_upload_v2 flow. The working signal is a reaction on the
user's message, added by `typing` and removed by `send` or `done`.

Sessions: one per DM (`thread_id=None`), one per thread in a channel (`thread_id` = the
thread's root ts; a mention outside a thread gets its own ts, so the answer starts a thread).

slack_bolt/slack_sdk are imported inside methods: importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentbox.config import ConfigError
from agentbox.messages import (
    Address,
    Attachment,
    ConnectorError,
    ConnectorLimits,
    ConnectorState,
    ConnectorStatus,
    Deliver,
    Inbound,
    Outbound,
)
from agentbox.tasks import TaskSet
from agentbox.textsplit import split_markdown, split_text

from .bounded import Bounded
from .format import markdown_to_mrkdwn, with_mention
from .inbound import SlackInbound
from .settings import SlackConfig

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["REQUIRED_SCOPES", "SlackConnector", "check_auth", "create"]

log = logging.getLogger(__name__)

# Exactly what docs/slack-app-manifest.yaml grants; check_auth names any that are missing.
REQUIRED_SCOPES: tuple[str, ...] = (
    "app_mentions:read",  # app_mention events
    "channels:history",  # thread follow-ups in public channels (message.channels)
    "groups:history",  # ... and in private channels (message.groups)
    "im:history",  # direct messages (message.im)
    "chat:write",  # replies
    "reactions:write",  # the working signal
    "files:read",  # downloading images users share
    "files:write",  # uploading generated images and videos
    "users:read",  # sender display names
)
# Errors where retrying with the same token cannot help.
_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type"}
)
# Errors about the message or its channel itself: sending it again would be refused again.
_REJECTED_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "restricted_action",
        "cannot_reply_to_message",
        "user_not_found",
        "file_uploads_disabled",
    }
)
TEXT_LIMIT = 3900  # Slack truncates long messages and renders >4,000 chars poorly
_MARKDOWN_CHUNK = 3500  # split before converting: escaping and link syntax grow the text
SOCKET_CONNECT_TIMEOUT = 30.0


def _require(env: Mapping[str, str], name: str, what: str, key: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise ConfigError(f"Slack needs {what}: set the {name} environment variable (named by channels.slack.{key}).")
    return value


def create(config: SlackConfig, env: Mapping[str, str], *, http_port: int | None = None) -> SlackConnector:
    """Build the connector from config and environment; ConfigError names a missing env var.

    `http_port` overrides `config.http_port` (0 picks a free port; see `connector.http_port`).
    """
    bot_token = _require(env, config.bot_token_env, "a bot token (xoxb-...)", "bot_token_env")
    app_token = signing_secret = None
    if config.mode == "socket":
        app_token = _require(
            env, config.app_token_env, "an app-level token (xapp-...) for Socket Mode", "app_token_env"
        )
    else:
        signing_secret = _require(
            env, config.signing_secret_env, "the signing secret for HTTP mode", "signing_secret_env"
        )
    return SlackConnector(
        config, bot_token=bot_token, app_token=app_token, signing_secret=signing_secret, http_port=http_port
    )


async def check_auth(config: SlackConfig, env: Mapping[str, str]) -> list[str]:
    """Problems with the Slack setup (for `agentbox doctor`), each phrased for the user; [] if fine."""
    try:
        connector = create(config, env)
    except ConfigError as exc:
        return [str(exc)]
    try:
        return await connector.check_auth()
    finally:
        await connector.stop()


class SlackConnector:
    """The `Connector` for Slack: Socket Mode or HTTP events in, Web API calls out."""

    name = "slack"
    limits = ConnectorLimits(max_text=TEXT_LIMIT, max_upload_bytes=1024 * 1024 * 1024)

    def __init__(
        self,
        config: SlackConfig,
        *,
        bot_token: str,
        app_token: str | None = None,
        signing_secret: str | None = None,
        http_port: int | None = None,
    ) -> None:
        self.config = config
        self._bot_token = bot_token
        self._app_token = app_token
        self._signing_secret = signing_secret
        self.http_port: int = config.http_port if http_port is None else http_port
        self.status = ConnectorStatus()
        self._deliver: Deliver | None = None
        self._client: AsyncWebClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._app: AsyncApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._tasks = TaskSet("slack connector", log)  # the Socket Mode health monitor
        self._problems: list[str] = []  # non-fatal setup problems (missing scopes) kept in `status`
        self.health_interval = 5.0
        self._reacted = Bounded()  # (channel, ts) -> True while the working reaction is on
        self._finished = Bounded()  # (channel, ts) whose turn ended: typing() no longer reacts
        self._sent = Bounded()  # idempotency: (address, chunk no., digest) -> ts already posted
        self._inbound = SlackInbound(
            self.name,
            api_base_url=config.api_base_url,
            bot_token=bot_token,
            client=self._web_client,
            session=self._http_session,
        )

    @property
    def bot_user_id(self) -> str | None:
        return self._inbound.bot_user_id

    @property
    def bot_id(self) -> str | None:
        return self._inbound.bot_id

    @property
    def http_url(self) -> str:
        """The Events API endpoint (HTTP mode), valid after `start`."""
        return f"http://{self.config.http_host}:{self.http_port}{self.config.http_path}"

    # -- lifecycle ---------------------------------------------------------------
    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise ConnectorError("slack connector is not started")
        return self._session

    def _web_client(self) -> AsyncWebClient:
        if self._client is None:
            from slack_sdk.http_retry.builtin_async_handlers import (
                AsyncConnectionErrorRetryHandler,
                AsyncRateLimitErrorRetryHandler,
                AsyncServerErrorRetryHandler,
            )
            from slack_sdk.web.async_client import AsyncWebClient

            self._client = AsyncWebClient(
                token=self._bot_token,
                base_url=self.config.api_base_url,
                logger=log,
                # The SDK honours Retry-After on 429 and retries resets/5xx: no hand-rolled loops.
                retry_handlers=[
                    AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                    AsyncConnectionErrorRetryHandler(max_retry_count=2),
                    AsyncServerErrorRetryHandler(max_retry_count=1),
                ],
            )
        return self._client

    async def start(self, deliver: Deliver) -> None:
        """Check the token (auth.test), then listen (Socket Mode or HTTP); return once ready.

        Raises ConnectorError, `fatal=True` when a token is rejected.
        """
        import aiohttp

        self.status.set(ConnectorState.STARTING)
        self._deliver = deliver
        client = self._web_client()
        # One pooled session for all API calls and downloads instead of one per request; no total
        # timeout because a video upload may take minutes, but a stalled socket must not hang a turn.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=60))
        client.session = self._session
        try:
            self._problems = await self._auth_test()
            self._app = self._build_app(client)
            if self.config.mode == "http":
                await self._serve_http()
            else:
                await self._connect_socket()
        except ConnectorError as exc:
            self.status.set(ConnectorState.FAILED, str(exc))
            await self._close()
            raise
        self._set_healthy()
        where = self.http_url if self.config.mode == "http" else "Socket Mode"
        log.info("slack connector ready as %s (%s)", self.bot_user_id, where)

    async def stop(self) -> None:
        """Stop listening and close network resources; safe to call twice."""
        await self._close()
        self.status.set(ConnectorState.STOPPED)

    async def _close(self) -> None:
        await self._tasks.aclose()
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close_async()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._session is not None:
            session, self._session = self._session, None
            if self._client is not None:
                self._client.session = None
            await session.close()

    def _build_app(self, client: AsyncWebClient) -> AsyncApp:
        from slack_bolt.async_app import AsyncApp

        app = AsyncApp(
            name="agentbox",
            client=client,
            logger=logging.getLogger(__name__),
            # Socket Mode payloads are not signed; bolt verifies every HTTP request.
            signing_secret=self._signing_secret or "",
            request_verification_enabled=self.config.mode == "http",
            # Ack only after `deliver` stored the message: a crash before that makes Slack
            # redeliver, and the gateway dedupes redeliveries by message id.
            process_before_response=True,
        )
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_app_mention)
        return app

    # bolt passes handler arguments by name: `event` is the event's payload
    async def _on_message(self, event: dict[str, Any]) -> None:
        await self._deliver_inbound(await self._inbound.message(event))

    async def _on_app_mention(self, event: dict[str, Any]) -> None:
        await self._deliver_inbound(await self._inbound.app_mention(event))

    async def _deliver_inbound(self, inbound: Inbound | None) -> None:
        if inbound is not None:
            assert self._deliver is not None
            await self._deliver(inbound)

    async def _serve_http(self) -> None:
        from aiohttp import web
        from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

        app = self._app
        assert app is not None

        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

        web_app = web.Application()
        web_app.router.add_post(self.config.http_path, events)
        self._runner = web.AppRunner(web_app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.http_host, self.http_port)
        try:
            await site.start()
        except OSError as exc:
            raise ConnectorError(
                f"cannot listen on {self.config.http_host}:{self.http_port} for Slack events: {exc}"
            ) from None
        # With port 0 the OS picked one: expose it for tests and the gateway's status.
        self.http_port = int(self._runner.addresses[0][1])

    async def _connect_socket(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self._app is not None
        # The SDK's connect() retries every error forever, a rejected app token included:
        # open the first connection URL ourselves so a bad token fails start() loudly.
        url = await self._open_socket_url()
        handler = AsyncSocketModeHandler(self._app, self._app_token, web_client=self._web_client())
        handler.client.wss_uri = url

        self._socket = handler
        try:
            await asyncio.wait_for(handler.connect_async(), SOCKET_CONNECT_TIMEOUT)
        except (TimeoutError, OSError) as exc:
            raise ConnectorError(f"cannot open the Slack Socket Mode connection: {type(exc).__name__}") from None
        self._tasks.spawn(self._watch_socket(handler), name="slack-socket-health")

    async def _watch_socket(self, handler: AsyncSocketModeHandler) -> None:
        """Mirror the socket's health into `status`; the SDK itself does the reconnecting."""
        while True:
            await asyncio.sleep(self.health_interval)
            connected = await handler.client.is_connected()
            if self.status.state is ConnectorState.FAILED:
                return
            if connected:
                self._set_healthy()
            else:
                self.status.set(ConnectorState.DEGRADED, "Socket Mode disconnected, reconnecting")

    def _set_healthy(self) -> None:
        """READY, or DEGRADED naming the setup problems (missing scopes) found at start."""
        if self._problems:
            self.status.set(ConnectorState.DEGRADED, "; ".join(self._problems))
        else:
            self.status.set(ConnectorState.READY)

    async def _open_socket_url(self) -> str:
        from slack_sdk.errors import SlackApiError

        try:
            response = await self._web_client().apps_connections_open(app_token=self._app_token or "")
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            fatal = error in _TOKEN_ERRORS
            hint = f" check {self.config.app_token_env} (an xapp- token with connections:write)" if fatal else ""
            raise ConnectorError(f"Slack refused the Socket Mode connection ({error});{hint}", fatal=fatal) from None
        except Exception as exc:
            raise ConnectorError(f"cannot reach Slack for Socket Mode: {type(exc).__name__}: {exc}") from None
        return str(response.get("url"))

    # -- auth ----------------------------------------------------------------------
    async def _auth_test(self) -> list[str]:
        """auth.test: remember who the bot is; raise on a rejected token; return missing-scope notes."""
        from slack_sdk.errors import SlackApiError

        try:
            response = await self._web_client().auth_test()
        except SlackApiError as exc:
            raise self._api_error("auth.test", exc) from None
        except Exception as exc:
            raise ConnectorError(
                f"cannot reach Slack at {self.config.api_base_url}: {type(exc).__name__}: {exc}"
            ) from None
        self._inbound.identify(response.get("user_id"), response.get("bot_id"))
        granted = response.headers.get("x-oauth-scopes") or response.headers.get("X-OAuth-Scopes")
        if granted is None:
            return []
        scopes = {scope.strip() for scope in str(granted).split(",")}
        missing = [scope for scope in REQUIRED_SCOPES if scope not in scopes]
        if not missing:
            return []
        return [
            f"the Slack bot token lacks scope(s) {', '.join(missing)}: add them under OAuth & Permissions "
            "(or recreate the app from docs/slack-app-manifest.yaml) and reinstall the app"
        ]

    def _api_error(self, method: str, exc: Any) -> ConnectorError:
        """A ConnectorError phrased for the user, naming the env var or scope; never the token."""
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = str(data.get("error") or f"HTTP {exc.response.status_code}")
        if error in _TOKEN_ERRORS:
            message = f"Slack rejected the bot token ({error}) on {method}: check {self.config.bot_token_env}"
            return ConnectorError(message, fatal=True)
        if error == "missing_scope":
            needed = data.get("needed") or "unknown"
            return ConnectorError(
                f"{method} needs the Slack scope {needed}: add it under OAuth & Permissions and reinstall the app"
            )
        return ConnectorError(f"Slack {method} failed: {error}", rejected=error in _REJECTED_ERRORS)

    async def check_auth(self) -> list[str]:
        """Problems with the tokens and scopes (for `agentbox doctor`); [] when all is well."""
        problems: list[str] = []
        if not self._bot_token.startswith("xoxb-"):
            problems.append(f"{self.config.bot_token_env} should be a bot token starting with xoxb-")
        if self.config.mode == "socket" and not (self._app_token or "").startswith("xapp-"):
            problems.append(f"{self.config.app_token_env} should be an app-level token starting with xapp-")
        try:
            problems.extend(await self._auth_test())
        except ConnectorError as exc:
            problems.append(str(exc))
            return problems
        if self.config.mode == "socket" and self._app_token:
            problems.extend(await self._check_app_token())
        return problems

    async def _check_app_token(self) -> list[str]:
        try:
            await self._open_socket_url()
        except ConnectorError as exc:
            return [str(exc)]
        return []

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """A shared image or audio file the gateway let in, downloaded with the bot token (see `SlackInbound.fetch`)."""
        return await self._inbound.fetch(attachment, max_bytes)

    # -- outbound ----------------------------------------------------------------
    @staticmethod
    def render(text: str) -> list[str]:
        """Markdown → mrkdwn chunks, each at most TEXT_LIMIT characters, in order."""
        if not text.strip():
            return []
        chunks: list[str] = []
        for piece in split_markdown(text, _MARKDOWN_CHUNK):
            converted = markdown_to_mrkdwn(piece)
            chunks.extend(split_text(converted, TEXT_LIMIT) if len(converted) > TEXT_LIMIT else [converted])
        return [chunk for chunk in chunks if chunk.strip()]

    async def send(self, address: Address, outbound: Outbound) -> list[str]:
        """Post the text (split, in order) and upload attachments into the address's thread.

        Returns message ts values (and file ids for uploads). Raises ConnectorError after the
        SDK's retries give up. A retried send skips chunks that already went out. The working
        reaction on `address.reply_to` is removed afterwards, success or not.
        """
        ids: list[str] = []
        try:
            for index, chunk in enumerate(with_mention(self.render(outbound.text), outbound.mention)):
                ids.append(await self._post_chunk(address, index, chunk))
            for attachment in outbound.attachments:
                ids.append(await self._upload(address, attachment))
        finally:
            if address.thread_id:
                self._inbound.joined(address.chat_id, address.thread_id)
            await self.done(address)
        return ids

    async def _post_chunk(self, address: Address, index: int, chunk: str) -> str:
        from slack_sdk.errors import SlackApiError

        key = None
        if address.reply_to:
            digest = hashlib.sha256(chunk.encode()).hexdigest()[:16]
            key = (address.chat_id, address.thread_id, address.reply_to, index, digest)
            if key in self._sent:
                return str(self._sent[key])
        try:
            response = await self._web_client().chat_postMessage(
                channel=address.chat_id,
                text=chunk,
                thread_ts=address.thread_id,
                mrkdwn=True,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise self._api_error("chat.postMessage", exc) from None
        except Exception as exc:
            raise ConnectorError(f"Slack chat.postMessage failed: {type(exc).__name__}: {exc}") from None
        ts = str(response.get("ts"))
        if key is not None:
            self._sent.remember(key, ts)
        return ts

    async def _upload(self, address: Address, attachment: Attachment) -> str:
        from slack_sdk.errors import SlackApiError

        data = attachment.data
        if data is None and attachment.path:
            data = await asyncio.to_thread(Path(attachment.path).read_bytes)
        if data is None:
            if attachment.url:  # nothing to upload: link it, Slack unfurls it
                return await self._post_chunk(address, -1, f"<{attachment.url}>")
            raise ConnectorError("attachment has neither bytes, a path nor a URL", rejected=True)
        if len(data) > self.limits.max_upload_bytes:
            raise ConnectorError(f"attachment too large for Slack ({len(data)} bytes)", rejected=True)
        filename = attachment.filename or (Path(attachment.path).name if attachment.path else None)
        if not filename:
            subtype = (attachment.media_type or "").rsplit("/", 1)[-1] or "bin"
            filename = f"{attachment.kind}.{subtype}"
        try:
            response = await self._web_client().files_upload_v2(
                channel=address.chat_id,
                thread_ts=address.thread_id,
                file=data,
                filename=filename,
                title=filename,
                initial_comment=markdown_to_mrkdwn(attachment.caption) if attachment.caption else None,
            )
        except SlackApiError as exc:
            raise self._api_error("files.completeUploadExternal", exc) from None
        except Exception as exc:
            raise ConnectorError(f"Slack file upload failed: {type(exc).__name__}: {exc}") from None
        file = response.get("file") or {}
        return str(file.get("id", ""))

    # -- working signal ----------------------------------------------------------
    async def typing(self, address: Address) -> None:
        """Put `working_reaction` on the user's message (`address.reply_to`); repeated calls are free."""
        if not address.reply_to:
            return
        key = (address.chat_id, address.reply_to)
        if key in self._reacted or key in self._finished:
            return
        from slack_sdk.errors import SlackApiError

        self._reacted.remember(key)
        try:
            await self._web_client().reactions_add(
                channel=address.chat_id, timestamp=address.reply_to, name=self.config.working_reaction
            )
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                log.warning("slack: cannot add the working reaction: %s", exc.response.get("error"))
        except Exception as exc:  # best effort: the turn goes on without the signal
            log.warning("slack: cannot add the working reaction: %s", type(exc).__name__)

    async def done(self, address: Address) -> None:
        """End the working signal for `address.reply_to` (idempotent; `send` calls it too)."""
        if not address.reply_to:
            return
        key = (address.chat_id, address.reply_to)
        self._finished.remember(key)
        if self._reacted.pop(key, None) is None:
            return
        from slack_sdk.errors import SlackApiError

        try:
            await self._web_client().reactions_remove(
                channel=address.chat_id, timestamp=address.reply_to, name=self.config.working_reaction
            )
        except SlackApiError as exc:
            if exc.response.get("error") != "no_reaction":
                log.warning("slack: cannot remove the working reaction: %s", exc.response.get("error"))
        except Exception as exc:
            log.warning("slack: cannot remove the working reaction: %s", type(exc).__name__)
