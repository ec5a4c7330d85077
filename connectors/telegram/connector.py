"""Telegram connector over python-telegram-bot's `Bot`: long polling of our own, or a webhook.

Public surface: `create(config, env)` → `TelegramConnector`, which implements
`Connector` and `StreamingConnector` (agentbox.messages).

Lifecycle: `await start(deliver)` takes the per-token lock, checks the token (getMe),
drops any webhook (polling) or sets ours (webhook mode), registers commands and starts the
poll task; it returns with `status` READY, or DEGRADED when Telegram is unreachable (the
task keeps retrying with backoff). It raises `ConnectorError(fatal=True)` for a bad token or
a token already used by another process. A token revoked while running turns `status`
FAILED and ends polling; `failure` holds the error. `await stop()`.

Delivery is at least once: the offset advances only after `deliver` returned, so an
update whose delivery raised (or was interrupted by a crash) comes back. In webhook mode
(`agentbox/gateway/telegram_webhook.py` serves `POST /telegram/webhook` on the gateway's server)
`receive` answers Telegram only once `deliver` returned; a failure makes Telegram send the
update again. Switching modes loses nothing: polling deletes the webhook and setting it keeps
pending updates (`drop_pending_updates=False`); an update seen twice is stored once (the inbox).

The bot token is part of every Telegram URL (file downloads included). It never
leaves the connector: inbound media is passed as a file id and fetched as bytes (`fetch`),
error texts are redacted, and the token is redacted from the `httpx` / `telegram` loggers
while a connector runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from telegram import Bot, BotCommand, Message, ReplyParameters, Update, WebhookInfo
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from agentbox.commands import menu_entries
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
from agentbox.retry import Backoff
from agentbox.tasks import TaskSet
from agentbox.tokenlock import acquire_token_lock
from agentbox.vision import sniff_image_type
from agentbox.voice.audio import is_ogg_opus

from .format import (
    TELEGRAM_MAX_CAPTION,
    TELEGRAM_MAX_TEXT,
    Chunk,
    markdown_to_html,
    render_chunks,
    utf16_len,
    with_mention,
)
from .inbound import TelegramInbound
from .settings import WEBHOOK_SECRET, TelegramConfig
from .stream import TelegramReplyStream, TelegramSendError, chat_ref
from .updates import DropRawBatchLog, Unreadable, parse_update, read_one_by_one

__all__ = ["TelegramConnector", "TelegramReplyStream", "TelegramSendError", "create"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_TOKEN_SHAPE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,}")
BOT_COMMANDS = menu_entries("chat")  # the menu setMyCommands registers, from the one command table
_MAX_PHOTO_UPLOAD = 10 * 1024 * 1024  # larger images go as documents
_REDACTED_LOGGERS = ("httpx", "telegram.Bot", "telegram.request.BaseRequest", "telegram.request.HTTPXRequest")
_ALLOWED_UPDATES = ["message"]
_DROP_RAW_BATCH = DropRawBatchLog()


def create(config: TelegramConfig, env: Mapping[str, str]) -> TelegramConnector:
    """Build the connector from `[channels.telegram]` and the environment (the token lives in env)."""
    token = (env.get(config.token_env) or "").strip()
    if not token:
        raise ConfigError(
            f"Telegram is enabled but ${config.token_env} is not set: "
            f"export {config.token_env}=<token from @BotFather> (channels.telegram.token_env names the variable)."
        )
    if not _TOKEN_SHAPE.fullmatch(token):
        raise ConfigError(
            f"${config.token_env} does not look like a Telegram bot token "
            "(digits, ':', then the secret from @BotFather)."
        )
    if config.mode == "webhook":
        return TelegramConnector(config, token, webhook_secret=_webhook_secret(config, env))
    return TelegramConnector(config, token)


def _webhook_secret(config: TelegramConfig, env: Mapping[str, str]) -> str:
    """The secret Telegram sends with every webhook request; without one a stranger could post updates."""
    secret = (env.get(config.webhook_secret_env) or "").strip()
    if not secret:
        raise ConfigError(
            f'channels.telegram.mode = "webhook" but ${config.webhook_secret_env} is not set: '
            f"export {config.webhook_secret_env}=$(openssl rand -hex 32) (any 1-256 letters, digits, - or _; "
            "channels.telegram.webhook_secret_env names the variable)."
        )
    if not WEBHOOK_SECRET.fullmatch(secret):
        raise ConfigError(
            f"${config.webhook_secret_env} is not a valid webhook secret: Telegram takes 1 to 256 letters, digits, - or _."
        )
    if not config.webhook_url:
        raise ConfigError('channels.telegram.mode = "webhook" needs webhook_url, the public https:// URL')
    return secret


class TelegramConnector:
    """Telegram via the Bot API: long polling (or webhook requests) in, Markdown→HTML replies and streamed edits
    out."""

    limits = ConnectorLimits(
        max_text=TELEGRAM_MAX_TEXT,
        max_upload_bytes=50 * 1024 * 1024,
        media_kinds=frozenset({"image", "video", "audio", "file"}),
    )

    def __init__(
        self,
        config: TelegramConfig,
        token: str,
        *,
        name: str = "telegram",
        lock_dir: Path | None = None,
        edit_interval: float = 1.0,  # Telegram allows ~1 edit per second per chat
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
        send_attempts: int = 4,
        max_retry_after: float = 120.0,
        webhook_secret: str | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.status = ConnectorStatus()
        self.failure: ConnectorError | None = None
        self.edit_interval = edit_interval
        self._token = token
        self._lock_dir = lock_dir
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._send_attempts = send_attempts
        self._max_retry_after = max_retry_after
        self._bot: Bot | None = None
        self._lock_file: IO[str] | None = None
        self._redactor = _RedactToken(token)
        self._inbound = TelegramInbound(name, bot=self._require_bot, reason=self._reason)
        self._offset: int | None = None
        self._tasks = TaskSet(f"{self.name} connector", log)  # the poll loop
        self._poll_call: asyncio.Task[Any] | None = None
        self._stopping = False
        self._last_edit: dict[str, float] = {}
        self._set_up = False
        self._webhook_secret = webhook_secret  # set: webhook mode (updates arrive through `receive`)
        self._deliver: Deliver | None = None
        self._last_received = time.time()  # webhook mode: Telegram's errors before this are old news
        self.webhook_check_interval = 60.0

    @property
    def bot_id(self) -> int | None:
        return self._inbound.bot_id

    @property
    def bot_username(self) -> str:
        return self._inbound.bot_username

    def __repr__(self) -> str:  # never the token
        return f"<TelegramConnector {self.name} @{self.bot_username or '?'} status={str(self.status)!r}>"

    # -- lifecycle -------------------------------------------------------------
    @property
    def _poll_name(self) -> str:
        return f"{self.name}-poll"

    async def start(self, deliver: Deliver) -> None:
        if self._poll_name in self._tasks:
            raise RuntimeError("TelegramConnector already started")
        self._stopping = False
        self.status.set(ConnectorState.STARTING)
        webhook = self._webhook_secret is not None
        self._lock_file = acquire_token_lock(
            "telegram",
            self._token,
            self._lock_dir,
            verb="using the webhook of" if webhook else "polling",
            why=" (each would set its own webhook)" if webhook else " (two pollers make Telegram answer 409 Conflict)",
        )
        for name in _REDACTED_LOGGERS:
            logging.getLogger(name).addFilter(self._redactor)
        logging.getLogger("telegram.Bot").addFilter(_DROP_RAW_BATCH)
        base = self.config.api_base_url.rstrip("/")
        self._bot = Bot(
            self._token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            # Under load (hundreds of chats answering at once) a send must queue for a connection,
            # not fail after a short pool timeout: 32 connections, and up to a minute's wait.
            request=HTTPXRequest(connection_pool_size=32, pool_timeout=60.0, media_write_timeout=120.0),
            get_updates_request=HTTPXRequest(connection_pool_size=1),
        )
        try:
            await self._set_up_bot()
        except ConnectorError:
            await self._close()
            raise
        except TelegramError as exc:
            self._degraded(f"cannot reach Telegram ({self._reason(exc)}); retrying")
        self._deliver = deliver
        self._tasks.spawn(self._run(deliver), name=self._poll_name)

    async def stop(self) -> None:
        self._stopping = True
        self._deliver = None  # webhook requests arriving now get an error: Telegram sends them again
        if self._poll_call is not None:
            self._poll_call.cancel()
        # let a running deliver() finish: cancelling it mid-write would only cause a redelivery
        await self._tasks.aclose(grace=10)
        if self._bot is not None and self._offset is not None and self.failure is None:
            # confirm the last delivered update so a restart does not fetch it again
            with contextlib.suppress(TelegramError, OSError):
                await self._bot.get_updates(offset=self._offset, timeout=0, limit=1, read_timeout=2)
        await self._close()
        if self.failure is None:
            self.status.set(ConnectorState.STOPPED)

    async def _close(self) -> None:
        if self._bot is not None:
            with contextlib.suppress(Exception):
                await self._bot.shutdown()
            self._bot = None
        for name in _REDACTED_LOGGERS:
            logging.getLogger(name).removeFilter(self._redactor)
        logging.getLogger("telegram.Bot").removeFilter(_DROP_RAW_BATCH)
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor releases the flock
            self._lock_file = None

    async def _set_up_bot(self) -> None:
        """getMe, deleteWebhook (or setWebhook), setMyCommands; raises ConnectorError(fatal) for a bad token."""
        bot = self._require_bot()
        rejected = False
        try:
            await bot.initialize()
            await self._route_updates(bot)
        except InvalidToken:
            rejected = True
        except BadRequest as exc:  # setWebhook refused our URL: only the owner can fix it
            raise self._fail(f"Telegram refused webhook_url {self.config.webhook_url}: {self._reason(exc)}") from None
        if rejected:
            # raised outside the except block: PTB's InvalidToken from initialize() quotes the token,
            # and even a suppressed __context__ would keep it reachable from our error
            raise self._fail("Telegram rejected the bot token (401 Unauthorized); check the token from @BotFather")
        me = bot.bot
        self._inbound.identify(me.id, me.username or "")
        try:
            await bot.set_my_commands([BotCommand(cmd, text) for cmd, text in BOT_COMMANDS])
        except TelegramError as exc:  # commands are a convenience; polling works without them
            log.warning("telegram: setMyCommands failed: %s", self._reason(exc))
        self._set_up = True
        self.status.set(ConnectorState.READY)
        log.info("telegram: ready as @%s", self.bot_username)

    async def _route_updates(self, bot: Bot) -> None:
        """Polling: no webhook (its pending updates stay for getUpdates). Webhook mode: ours, keeping pending ones."""
        if self._webhook_secret is None:
            await bot.delete_webhook(drop_pending_updates=False)
            return
        await bot.set_webhook(
            url=str(self.config.webhook_url),
            secret_token=self._webhook_secret,
            allowed_updates=_ALLOWED_UPDATES,
            drop_pending_updates=False,
            max_connections=1,  # one request at a time keeps each chat's messages in order
        )
        log.info("telegram: webhook set to %s", self.config.webhook_url)

    def _fail(self, reason: str) -> ConnectorError:
        self.failure = ConnectorError(f"telegram: {reason}", fatal=True)
        self.status.set(ConnectorState.FAILED, reason)  # logged once, by the gateway's supervisor
        return self.failure

    def _degraded(self, reason: str) -> None:
        if self.status.set(ConnectorState.DEGRADED, reason):
            log.warning("telegram: %s", self.status)

    def _require_bot(self) -> Bot:
        if self._bot is None:
            raise ConnectorError("telegram connector is not started")
        return self._bot

    def _reason(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return text.replace(self._token, "<token>")

    # -- polling ---------------------------------------------------------------
    async def _run(self, deliver: Deliver) -> None:
        backoff = Backoff(self._retry_initial, self._retry_max)
        if self._webhook_secret is not None:
            await self._set_webhook_until_done(backoff)
            return
        while not self._stopping:
            try:
                if not self._set_up:
                    await self._set_up_bot()
                updates = await self._poll()
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except Exception as exc:
                if not await self._after_poll_error(exc, backoff):
                    return
                continue
            finally:
                self._poll_call = None
            backoff.reset()
            self.status.set(ConnectorState.READY)
            await self._deliver_updates(updates, deliver, backoff)

    async def _set_webhook_until_done(self, backoff: Backoff) -> None:
        """Webhook mode: nothing to poll. A setWebhook that failed at start is retried; then Telegram's own
        view of the webhook is checked now and then, so a proxy that does not forward shows in the status."""
        while not self._stopping and not self._set_up:
            try:
                await self._set_up_bot()
            except Exception as exc:
                if not await self._after_poll_error(exc, backoff):
                    return
        while not self._stopping:
            await self._sleep(self.webhook_check_interval)
            with contextlib.suppress(TelegramError, OSError):
                if not self._stopping:
                    self._judge_webhook(await self._require_bot().get_webhook_info())

    def _judge_webhook(self, info: WebhookInfo) -> None:
        """READY, or DEGRADED with Telegram's own words when it could not deliver since the last update arrived."""
        failed_at = info.last_error_date.timestamp() if info.last_error_date else 0.0
        if info.url != self.config.webhook_url:
            self._degraded(f"the webhook now points to {info.url or 'nothing'} (set by another deployment?)")
        elif info.pending_update_count and failed_at > self._last_received:
            waiting = f"{info.pending_update_count} update(s) waiting"
            self._degraded(f"Telegram cannot reach {info.url}: {info.last_error_message} ({waiting})")
        else:
            self.status.set(ConnectorState.READY)

    async def _after_poll_error(self, exc: Exception, backoff: Backoff) -> bool:
        """Say what went wrong and wait before the next poll; False when polling must stop for good."""
        if isinstance(exc, ConnectorError):
            return False  # fatal, state already "failed"
        if isinstance(exc, InvalidToken):
            self._fail("Telegram rejected the bot token (401 Unauthorized); polling stopped")
            return False
        if isinstance(exc, Conflict):
            self._degraded(_conflict_reason(exc))
        elif isinstance(exc, RetryAfter):
            self._degraded(f"rate limited by Telegram for {_seconds(exc.retry_after):.0f}s")
            await self._sleep(_seconds(exc.retry_after))
            return True
        elif isinstance(exc, TelegramError):
            self._degraded(f"{self._reason(exc)}; retrying")
        else:  # a bug or an unparseable answer must not end polling silently
            log.exception("telegram: unexpected polling error")
            self._degraded(f"unexpected error {type(exc).__name__}; retrying")
        await self._sleep(backoff.next())
        return True

    async def _deliver_updates(self, updates: list[Update | Unreadable], deliver: Deliver, backoff: Backoff) -> None:
        """Deliver a batch in order, stopping at an update that must be retried (the offset stays put)."""
        for update in updates:
            if isinstance(update, Unreadable):  # logged when read; confirmed so polling goes on
                self._offset = update.update_id + 1
                continue
            if self._stopping or not await self._handle_update(update, deliver, backoff):
                break

    async def _poll(self) -> list[Update | Unreadable]:
        """One long poll; a batch PTB cannot parse is read again update by update."""
        bot = self._require_bot()
        self._poll_call = asyncio.ensure_future(
            bot.get_updates(offset=self._offset, timeout=self.config.poll_timeout, allowed_updates=_ALLOWED_UPDATES)
        )
        try:
            return list(await self._poll_call)
        except TelegramError:
            raise
        except Exception:  # a malformed update: skip it, not the whole batch, and keep polling
            return await read_one_by_one(bot, self._offset, _ALLOWED_UPDATES)

    async def _translated(self, update: Update) -> Inbound | None:
        try:  # no network: media is fetched later, after the access check
            return await self._inbound.translate(update)
        except Exception:
            # a malformed update would block every later one: skip it, loudly
            log.exception("telegram: cannot translate update %s; skipped", update.update_id)
            return None

    async def _handle_update(self, update: Update, deliver: Deliver, backoff: Backoff) -> bool:
        """Deliver one update; False when it must be retried (the offset stays put)."""
        inbound = await self._translated(update)
        if inbound is not None:
            try:
                await deliver(inbound)
            except Exception as exc:
                self._degraded(f"deliver failed ({type(exc).__name__}); will redeliver")
                log.warning("telegram: deliver failed for update %s: %r", update.update_id, exc)
                await self._sleep(backoff.next())
                return False
        self._offset = update.update_id + 1
        return True

    # -- webhook ---------------------------------------------------------------
    def accepts_secret(self, header: str) -> bool:
        """Constant-time check of a webhook request's `X-Telegram-Bot-Api-Secret-Token` (False when polling)."""
        if self._webhook_secret is None:
            return False
        return hmac.compare_digest(header.encode("utf-8", "surrogatepass"), self._webhook_secret.encode())

    async def receive(self, data: Any) -> None:
        """One update Telegram posted to the webhook, delivered (stored) before this returns.

        An update that cannot be read or translated is skipped (logged): answering with an
        error would only make Telegram send it again. Raises when `deliver` failed, so the
        webhook answers with an error and Telegram sends the update again later.
        """
        deliver = self._deliver
        if deliver is None or self._webhook_secret is None:
            raise ConnectorError("telegram: the connector is not receiving webhook updates")
        update = parse_update(data, self._require_bot())
        if not isinstance(update, Update):
            return
        inbound = await self._translated(update)
        if inbound is not None:
            await deliver(inbound)
        self._last_received = time.time()

    async def _sleep(self, seconds: float) -> None:
        # stop() sets _stopping; short slices keep shutdown prompt during long backoffs
        end = asyncio.get_running_loop().time() + seconds
        while not self._stopping:
            left = end - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.25))

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """The bytes of a photo or image document the gateway let in (see `TelegramInbound.fetch`)."""
        return await self._inbound.fetch(attachment, max_bytes)

    # -- outbound --------------------------------------------------------------
    async def send(self, address: Address, outbound: Outbound) -> list[str]:
        """Text as HTML chunks (plain-text fallback), then attachments; the first message replies to `reply_to`."""
        sent: list[str] = []
        try:
            for chunk in render_chunks(with_mention(outbound.text, outbound.mention)):
                message = await self._send_chunk(address, chunk, first=not sent)
                sent.append(str(message.message_id))
            for attachment in outbound.attachments:
                sent.extend(await self._send_attachment(address, attachment, first=not sent))
        except TelegramError as exc:
            raise TelegramSendError(
                f"telegram: sending to chat {address.chat_id} failed: {self._reason(exc)}",
                sent_ids=sent,
                fatal=isinstance(exc, InvalidToken),
                rejected=isinstance(exc, BadRequest | Forbidden),  # chat gone, bot blocked: resending won't help
            ) from None
        return sent

    async def typing(self, address: Address) -> None:
        """Best effort: Telegram shows it for ~5 s, so the gateway repeats it while a turn runs."""
        try:
            await self._require_bot().send_chat_action(
                chat_ref(address.chat_id), ChatAction.TYPING, message_thread_id=_int(address.thread_id)
            )
        except Exception as exc:
            log.debug("telegram: typing failed: %s", self._reason(exc))

    async def open_stream(self, address: Address) -> TelegramReplyStream:
        return TelegramReplyStream(self, address, live=self.config.streaming == "edit")

    def _send_kwargs(self, address: Address, first: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"chat_id": chat_ref(address.chat_id), "message_thread_id": _int(address.thread_id)}
        if first and (reply_to := _int(address.reply_to)) is not None:
            # if the user's message is gone, still answer instead of failing
            kwargs["reply_parameters"] = ReplyParameters(reply_to, allow_sending_without_reply=True)
        return kwargs

    async def _send_chunk(self, address: Address, chunk: Chunk, *, first: bool) -> Message:
        bot, kwargs = self._require_bot(), self._send_kwargs(address, first)
        try:
            return await self._call(lambda: bot.send_message(text=chunk.html, parse_mode=ParseMode.HTML, **kwargs))
        except BadRequest as exc:
            if not _cannot_parse(exc):
                raise
            log.info("telegram: HTML rejected (%s); sending plain text", exc)
            return await self._call(lambda: bot.send_message(text=chunk.plain, **kwargs))

    async def _edit_chunk(self, chat_id: str, message_id: int, chunk: Chunk) -> None:
        bot = self._require_bot()
        kwargs: dict[str, Any] = {"chat_id": chat_ref(chat_id), "message_id": message_id}
        try:
            try:
                await self._call(lambda: bot.edit_message_text(chunk.html, parse_mode=ParseMode.HTML, **kwargs), True)
            except BadRequest as exc:
                if not _cannot_parse(exc):
                    raise
                await self._call(lambda: bot.edit_message_text(chunk.plain, **kwargs), True)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():  # already showing this text: the goal is reached
                raise

    async def _send_attachment(self, address: Address, attachment: Attachment, *, first: bool) -> list[str]:
        bot, kwargs = self._require_bot(), self._send_kwargs(address, first)
        media = await _media_of(attachment)
        filename = attachment.filename or (Path(attachment.path).name if attachment.path else None)
        caption = attachment.caption or ""
        caption_html = markdown_to_html(caption) if caption else None
        long_caption = caption_html is not None and utf16_len(caption_html) > TELEGRAM_MAX_CAPTION
        kwargs |= {"caption": None if long_caption else caption_html, "parse_mode": ParseMode.HTML}
        if isinstance(media, bytes):
            kwargs["filename"] = filename or _default_filename(
                attachment.kind, attachment.media_type or sniff_image_type(media)
            )
        send = _sender(bot, attachment, media)
        try:
            message = await self._call(lambda: send(**kwargs))
        except BadRequest as exc:
            if not (_cannot_parse(exc) and caption):
                raise
            kwargs |= {"caption": caption[:TELEGRAM_MAX_CAPTION], "parse_mode": None}
            message = await self._call(lambda: send(**kwargs))
        ids = [str(message.message_id)]
        if long_caption:  # a caption over 1,024 characters follows as ordinary text
            for chunk in render_chunks(caption):
                ids.append(str((await self._send_chunk(address, chunk, first=False)).message_id))
        return ids

    async def _call(self, request: Callable[[], Awaitable[T]], idempotent: bool = False) -> T:
        """Run a Bot API call, retrying 429 (after `retry_after`) and failures that surely did not send.

        A read timeout or dropped connection after the request went out is retried only when
        `idempotent`: resending a message Telegram may already have accepted would duplicate it.
        """
        backoff = Backoff(self._retry_initial, self._retry_max)
        attempt = 1
        while True:
            try:
                return await request()
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after)
                if attempt >= self._send_attempts or wait > self._max_retry_after:
                    raise
                await asyncio.sleep(wait)
            except (BadRequest, Forbidden, InvalidToken, Conflict):
                raise
            except NetworkError as exc:
                if attempt >= self._send_attempts or not (idempotent or _surely_not_sent(exc)):
                    raise
                await asyncio.sleep(backoff.next())
            attempt += 1

    def _edit_wait(self, chat_id: str) -> float:
        last = self._last_edit.get(chat_id)
        if last is None:
            return 0.0
        return last + self.edit_interval - asyncio.get_running_loop().time()

    def _mark_edit(self, chat_id: str) -> None:
        self._last_edit[chat_id] = asyncio.get_running_loop().time()


# -- helpers -------------------------------------------------------------------
class _RedactToken(logging.Filter):
    """Replaces the bot token in log records of the HTTP/Telegram libraries (their URLs contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token in message:
            record.msg, record.args = message.replace(self._token, "<token>"), None
        return True


def _surely_not_sent(exc: NetworkError) -> bool:
    """True when Telegram cannot have processed the request: an HTTP error answer or no connection."""
    cause = exc.__cause__
    if cause is None or isinstance(cause, TelegramError):
        return True  # the server answered with an error status (5xx)
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _cannot_parse(exc: BadRequest) -> bool:
    return "can't parse entities" in str(exc).lower()


async def _media_of(attachment: Attachment) -> bytes | str:
    """What to upload: the attachment's bytes (read from its path if need be), else its URL."""
    if attachment.data is not None:
        return attachment.data
    if attachment.path is not None:
        return await asyncio.to_thread(Path(attachment.path).read_bytes)
    if attachment.url is None:
        raise ConnectorError(f"telegram: attachment {attachment.describe()} has no data, path or url", rejected=True)
    return attachment.url


def _sender(bot: Bot, attachment: Attachment, media: bytes | str) -> Callable[..., Awaitable[Message]]:
    """The Bot API method for this kind of media (a photo too big for sendPhoto goes as a document).

    Spoken audio goes as a voice note (sendVoice) when its bytes are OGG/Opus, the format Telegram
    shows as one; other audio goes with sendAudio, which plays any common format.
    """
    kind = attachment.kind
    size = len(media) if isinstance(media, bytes) else 0
    if kind == "image" and size <= _MAX_PHOTO_UPLOAD:
        return lambda **kw: bot.send_photo(photo=media, **kw)
    if kind == "video":
        return lambda **kw: bot.send_video(video=media, supports_streaming=True, **kw)
    if kind == "audio" and attachment.voice and isinstance(media, bytes) and is_ogg_opus(media):
        return lambda **kw: bot.send_voice(voice=media, **kw)
    if kind == "audio":
        return lambda **kw: bot.send_audio(audio=media, **kw)
    return lambda **kw: bot.send_document(document=media, **kw)


def _conflict_reason(exc: Conflict) -> str:
    """409 Conflict: another deployment holds this token, by webhook or by polling."""
    if "webhook" in str(exc).lower():
        return (
            "a webhook was set for this bot by someone else (409 Conflict); "
            "another deployment in webhook mode is using this token"
        )
    return (
        "another process is polling this bot token (Telegram answered 409 Conflict); "
        "stop the other bot or use a different token"
    )


def _seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def _default_filename(kind: str, media_type: str | None) -> str:
    extension = {
        "image/png": "png",
        "image/jpeg": "jpg",
        "image/gif": "gif",
        "image/webp": "webp",
        "video/mp4": "mp4",
        "audio/ogg": "ogg",
        "audio/mpeg": "mp3",
    }.get(media_type or "", "bin")
    return f"{kind}.{extension}"
