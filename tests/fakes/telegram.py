"""A fake Telegram Bot API on 127.0.0.1 speaking the real wire format.

Methods live at `{url}/bot{token}/{method}` (GET or POST; query, form, multipart or
JSON parameters) and answer `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ...}`; files download from
`{url}/file/bot{token}/{file_path}`. Point python-telegram-bot at it with
`Bot(token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot")`.

Implemented: getMe, getUpdates (long polling with `offset` and `timeout`; a newer
getUpdates on the same token ends the older one with 409 Conflict, as Telegram does),
sendMessage, editMessageText, deleteMessage, sendChatAction, sendPhoto, sendVideo,
sendDocument, sendVoice, sendAudio, getFile, setMyCommands, getMyCommands, deleteWebhook, setWebhook,
getWebhookInfo.

Webhooks work as Telegram's do: while one is set, getUpdates answers 409 and pending updates
are POSTed to it one at a time, in order, with `X-Telegram-Bot-Api-Secret-Token`; an update
leaves the queue only when the webhook answered 200 (otherwise it is sent again after
`webhook_retry_delay`, and getWebhookInfo reports the error). deleteWebhook keeps pending
updates for getUpdates unless `drop_pending_updates`. The registered URL is public (https);
`webhook_target` stands for the reverse proxy: the base URL the request really goes to (None: nothing
answers, as when no gateway runs; the public URL itself is never contacted).
sendMessage/editMessageText with parse_mode=HTML run `parse_html`, a strict version
of Telegram's HTML entity parser, and reject what it rejects.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import html
import itertools
import json
import re
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from tests.fakes.base import FakeServer

MAX_TEXT = 4096
MAX_CAPTION = 1024

# Tags Telegram's HTML parse mode accepts (https://core.telegram.org/bots/api#html-style).
_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "blockquote",
}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*)\s*>")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")


class HtmlParseError(ValueError):
    """What Telegram answers as 400 "Bad Request: can't parse entities: ..."."""


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """Check `text` as Telegram's HTML parse mode would; return the visible text.

    Stricter than Telegram in one way only: every `&` must start a known entity.
    """
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            match = _TAG.match(text, i)
            if match is None:
                raise HtmlParseError(f"Unsupported start tag at byte offset {i}")
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in _ALLOWED_TAGS:
                raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {i}')
            if closing:
                if not stack or stack[-1] != name:
                    raise HtmlParseError(
                        f'Unmatched end tag at byte offset {i}, expected "</{stack[-1] if stack else ""}>"'
                    )
                stack.pop()
            else:
                if name in ("pre", "code") and stack and stack[-1] == "code":
                    raise HtmlParseError(f"Can't nest entities inside code at byte offset {i}")
                stack.append(name)
            i = match.end()
        elif ch == ">":
            raise HtmlParseError(f"Unexpected end tag at byte offset {i}")  # Telegram requires &gt;
        elif ch == "&":
            match = _ENTITY.match(text, i)
            if match is None:
                raise HtmlParseError(f"Character entity expected at byte offset {i}")
            out.append(html.unescape(match.group(0)))
            i = match.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def png_bytes(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real, decodable PNG: so code that sniffs or decodes images sees the real thing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@dataclass
class SentMessage:
    """A message the bot sent, as the fake stores it (after edits)."""

    chat_id: int | str
    message_id: int
    method: str  # sendMessage, sendPhoto, ...
    text: str  # visible text (HTML parsed) or caption
    raw: str  # as sent
    parse_mode: str | None
    reply_to: int | None
    thread_id: int | None
    edits: int = 0
    deleted: bool = False
    media: dict[str, Any] | None = None  # uploads: size, filename, content_type, bytes; or url


@dataclass
class WebhookPost:
    """One attempt of the fake to deliver an update to the webhook."""

    update_id: int
    status: int  # 0: no connection
    with_secret: bool


@dataclass
class _Poll:
    conflict: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeTelegram(FakeServer):
    bot_id: int = 7000001
    bot_username: str = "agentbox_test_bot"
    bad_token: bool = False  # every method answers 401 Unauthorized
    report_file_sizes: bool = True  # getFile's file_size is optional in the Bot API: False omits it
    webhook_target: str | None = None  # the reverse proxy: webhook requests go to this base URL + the URL's path
    webhook_retry_delay: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        self.token = f"{self.bot_id}:AA{secrets.token_urlsafe(27)[:33]}"
        self.updates: list[dict[str, Any]] = []  # pending, not yet confirmed by an offset
        self.messages: list[SentMessage] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, parsed params), in order
        self.commands: list[dict[str, str]] = []
        self.webhook_url: str = ""
        self.webhook: dict[str, Any] = {}  # the parameters of the last setWebhook
        self.webhook_posts: list[WebhookPost] = []  # every delivery attempt, in order
        self._webhook_error: tuple[int, str] | None = None  # (unix time, message) of the last failed attempt
        self._pump: asyncio.Task[None] | None = None
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self._failures: dict[str, list[tuple[int, int | None, str | None]]] = {}
        self._update_ids = itertools.count(500_000)
        self._message_ids = itertools.count(1000)
        self._wakeup: asyncio.Event | None = None
        self._active_poll: _Poll | None = None
        self.closing = False
        self._held: set[str] = set()
        self._release: asyncio.Event | None = None

    # -- routes ----------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        self._wakeup = asyncio.Event()
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)

    async def _startup(self) -> None:
        await super()._startup()
        self._pump = asyncio.get_running_loop().create_task(self._webhook_pump())

    async def _shutdown(self) -> None:
        self.closing = True
        self._notify()
        if self._release is not None:
            self._release.set()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await super()._shutdown()

    def _check_token(self, token: str) -> web.Response | None:
        if self.bad_token or token != self.token:
            return _error(401, "Unauthorized")
        return None

    async def _handle_method(self, request: web.Request) -> web.Response:
        if (denied := self._check_token(request.match_info["token"])) is not None:
            return denied
        method = request.match_info["method"]
        params, uploads = await _read_params(request)
        with self.lock:
            self.calls.append((method, params))
            scripted = self._failures.get(method.lower())
            failure = scripted.pop(0) if scripted else None
        if failure is not None:
            status, retry_after, description = failure
            if description:
                return _error(status, description)
            if status == 429:
                wait = retry_after or 1
                return _error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
            return _error(status, {500: "Internal Server Error", 502: "Bad Gateway"}.get(status, "Service Unavailable"))
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found")
        if method.lower() in self._held and not await self._held_call(request):
            return _error(500, "the client went away while the call was held")  # never reaches anyone
        try:
            result = await handler(params, uploads)
        except _ApiError as exc:
            return _error(exc.status, exc.description)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._check_token(request.match_info["token"])) is not None:
            return denied
        wanted = request.match_info["file_path"]
        for path, data in self.files.values():
            if path == wanted:
                return web.Response(body=data, content_type="application/octet-stream")
        return _error(404, "Not Found")

    # -- methods ---------------------------------------------------------------
    async def _m_getme(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getupdates(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        allowed = params.get("allowed_updates") or None  # Telegram never sends other update types
        # Telegram ends the older long poll when a newer one arrives on the same token.
        poll = _Poll()
        if self._active_poll is not None:
            self._active_poll.conflict = True
            self._active_poll.wake.set()
        self._active_poll = poll
        deadline = time.monotonic() + timeout
        try:
            while True:
                assert self._wakeup is not None
                wakeup = self._wakeup
                with self.lock:
                    if offset:
                        self.updates = [u for u in self.updates if u["update_id"] >= offset]
                    ready = [u for u in self.updates if allowed is None or any(k in u for k in allowed)][:limit]
                if poll.conflict:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self.closing:
                    return ready
                waiters = [asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(poll.wake.wait())]
                _done, pending = await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
        finally:
            if self._active_poll is poll:
                self._active_poll = None

    async def _m_sendmessage(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        raw = str(params.get("text") or "")
        parse_mode = params.get("parse_mode")
        visible = self._visible(raw, parse_mode, MAX_TEXT)
        if not visible.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        sent = self._store_sent(params, "sendMessage", visible, raw)
        return {**self._message_base(sent), "text": visible}

    async def _m_editmessagetext(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        raw = str(params.get("text") or "")
        parse_mode = params.get("parse_mode")
        visible = self._visible(raw, parse_mode, MAX_TEXT)
        sent = self._find(params)
        if sent.method != "sendMessage":
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        if sent.raw == raw and sent.parse_mode == parse_mode:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        with self.lock:
            sent.text, sent.raw, sent.parse_mode = visible, raw, parse_mode
            sent.edits += 1
        return {**self._message_base(sent), "text": visible, "edit_date": int(time.time())}

    async def _m_deletemessage(self, params: dict[str, Any], uploads: dict[str, Any]) -> bool:
        sent = self._find(params)
        with self.lock:
            sent.deleted = True
        return True

    async def _m_sendchataction(self, params: dict[str, Any], uploads: dict[str, Any]) -> bool:
        if params.get("action") not in (
            "typing",
            "upload_photo",
            "record_video",
            "upload_video",
            "upload_document",
            "choose_sticker",
            "find_location",
            "record_voice",
            "upload_voice",
        ):
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _m_sendphoto(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        sent = self._send_media("sendPhoto", "photo", params, uploads)
        size = {"file_id": f"photo-{sent.message_id}", "file_unique_id": f"u{sent.message_id}", "width": 4, "height": 3}
        return {**self._message_base(sent), "photo": [size], **self._caption(sent)}

    async def _m_sendvideo(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        sent = self._send_media("sendVideo", "video", params, uploads)
        video = {
            "file_id": f"video-{sent.message_id}",
            "file_unique_id": f"u{sent.message_id}",
            "width": 4,
            "height": 3,
            "duration": 1,
        }
        return {**self._message_base(sent), "video": video, **self._caption(sent)}

    async def _m_senddocument(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        sent = self._send_media("sendDocument", "document", params, uploads)
        doc = {"file_id": f"doc-{sent.message_id}", "file_unique_id": f"u{sent.message_id}"}
        return {**self._message_base(sent), "document": doc, **self._caption(sent)}

    async def _m_sendvoice(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        sent = self._send_media("sendVoice", "voice", params, uploads)
        voice = {"file_id": f"voice-{sent.message_id}", "file_unique_id": f"u{sent.message_id}", "duration": 1}
        if sent.media and "content_type" in sent.media:
            voice["mime_type"] = sent.media["content_type"]
        return {**self._message_base(sent), "voice": voice, **self._caption(sent)}

    async def _m_sendaudio(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        sent = self._send_media("sendAudio", "audio", params, uploads)
        audio = {"file_id": f"audio-{sent.message_id}", "file_unique_id": f"u{sent.message_id}", "duration": 1}
        return {**self._message_base(sent), "audio": audio, **self._caption(sent)}

    async def _m_getfile(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id") or "")
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        size = {"file_size": len(data)} if self.report_file_sizes else {}
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", **size, "file_path": path}

    async def _m_setmycommands(self, params: dict[str, Any], uploads: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")) or not command.get("description"):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands = commands
        return True

    async def _m_getmycommands(self, params: dict[str, Any], uploads: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands

    async def _m_deletewebhook(self, params: dict[str, Any], uploads: dict[str, Any]) -> bool:
        with self.lock:
            self.webhook_url = ""
            if _flag(params.get("drop_pending_updates")):
                self.updates.clear()
        return True

    async def _m_setwebhook(self, params: dict[str, Any], uploads: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if url and not url.startswith("https://"):
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self.lock:
            self.webhook_url, self.webhook = url, dict(params)
            self._webhook_error = None
            if _flag(params.get("drop_pending_updates")):
                self.updates.clear()
        self._notify()
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            info: dict[str, Any] = {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self.updates),
            }
            if self.webhook_url and self._webhook_error is not None:
                info |= {"last_error_date": self._webhook_error[0], "last_error_message": self._webhook_error[1]}
        return info

    # -- webhook delivery --------------------------------------------------------
    async def _webhook_pump(self) -> None:
        """Post pending updates to the webhook, oldest first, one at a time, until each is answered 200."""
        import aiohttp

        async with aiohttp.ClientSession() as session:
            while not self.closing:
                wakeup = self._wakeup
                with self.lock:
                    url, params = self.webhook_url, dict(self.webhook)
                    allowed = params.get("allowed_updates") or None
                    update = next((u for u in self.updates if allowed is None or any(k in u for k in allowed)), None)
                if not url or update is None or wakeup is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait() if wakeup else asyncio.sleep(0.05), 0.2)
                    continue
                status, error = await self._post_update(session, url, params.get("secret_token"), update)
                if status == 200:
                    with self.lock:
                        self.updates = [u for u in self.updates if u["update_id"] != update["update_id"]]
                    continue
                with self.lock:
                    self._webhook_error = (int(time.time()), error)
                await asyncio.sleep(self.webhook_retry_delay)

    async def _post_update(self, session: Any, url: str, secret: Any, update: dict[str, Any]) -> tuple[int, str]:
        headers = {"X-Telegram-Bot-Api-Secret-Token": str(secret)} if secret else {}
        if self.webhook_target is None:  # no proxy in front of a gateway: nothing answers (and no DNS lookup)
            with self.lock:
                self.webhook_posts.append(WebhookPost(update["update_id"], 0, secret is not None))
            return 0, "Connection refused"
        target = self.webhook_target.rstrip("/") + urlsplit(url).path
        try:
            async with session.post(target, json=update, headers=headers) as response:
                await response.read()
                status, error = response.status, f"Wrong response from the webhook: {response.status} {response.reason}"
        except OSError as exc:
            status, error = 0, f"Connection refused ({type(exc).__name__})"
        with self.lock:
            self.webhook_posts.append(WebhookPost(update["update_id"], status, secret is not None))
        return status, error

    # -- method helpers --------------------------------------------------------
    def _visible(self, raw: str, parse_mode: Any, limit: int) -> str:
        visible = raw
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            try:
                visible = parse_html(raw)
            except HtmlParseError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if utf16_len(visible) > limit:
            raise _ApiError(
                400,
                "Bad Request: message is too long" if limit == MAX_TEXT else "Bad Request: message caption is too long",
            )
        return visible

    def _store_sent(self, params: dict[str, Any], method: str, visible: str, raw: str, **media: Any) -> SentMessage:
        if "chat_id" not in params:
            raise _ApiError(400, "Bad Request: chat_id is empty")
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or params.get("reply_to_message_id")
        thread = params.get("message_thread_id")
        sent = SentMessage(
            chat_id=_chat_id(params["chat_id"]),
            message_id=next(self._message_ids),
            method=method,
            text=visible,
            raw=raw,
            parse_mode=params.get("parse_mode"),
            reply_to=int(reply_to) if reply_to else None,
            thread_id=int(thread) if thread else None,
            media=media or None,
        )
        with self.lock:
            self.messages.append(sent)
        return sent

    def _send_media(self, method: str, field_name: str, params: dict[str, Any], uploads: dict[str, Any]) -> SentMessage:
        caption_raw = str(params.get("caption") or "")
        caption = self._visible(caption_raw, params.get("parse_mode"), MAX_CAPTION)
        value = params.get(field_name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = uploads.get(value.removeprefix("attach://"))
        elif field_name in uploads:
            value = uploads[field_name]
        if isinstance(value, dict):
            media = value
        elif isinstance(value, str) and value:
            media = {"url": value}
        else:
            raise _ApiError(400, f"Bad Request: there is no {field_name} in the request")
        return self._store_sent(params, method, caption, caption_raw, **media)

    def _find(self, params: dict[str, Any]) -> SentMessage:
        chat_id, message_id = _chat_id(params.get("chat_id")), int(params.get("message_id") or 0)
        with self.lock:
            for sent in self.messages:
                if sent.chat_id == chat_id and sent.message_id == message_id and not sent.deleted:
                    return sent
        raise _ApiError(400, "Bad Request: message to edit not found")

    def _message_base(self, sent: SentMessage) -> dict[str, Any]:
        chat_id = sent.chat_id
        chat_type = "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"
        base: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": chat_type,
                **({"first_name": "User"} if chat_type == "private" else {"title": "Group"}),
            },
            "from": self._bot_user(),
        }
        if sent.thread_id:
            base |= {"message_thread_id": sent.thread_id, "is_topic_message": True}
        return base

    @staticmethod
    def _caption(sent: SentMessage) -> dict[str, Any]:
        return {"caption": sent.text} if sent.text else {}

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Agentbox", "username": self.bot_username}

    # -- helpers for tests: inbound --------------------------------------------
    def _notify(self) -> None:
        def wake() -> None:
            if self._wakeup is not None:
                self._wakeup.set()
                self._wakeup = asyncio.Event()

        if self._loop is not None:
            self._loop.call_soon_threadsafe(wake)

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an `update_id` is added when missing) and wake a waiting getUpdates."""
        update = dict(update)
        with self.lock:
            update.setdefault("update_id", next(self._update_ids))
            self.updates.append(update)
        self._notify()
        return update

    def push_message(
        self,
        chat_id: int,
        *,
        from_id: int = 835750362,
        chat_type: str = "private",
        username: str | None = "alice",
        first_name: str = "Alice",
        is_bot: bool = False,
        reply_to_bot: bool = False,
        message_thread_id: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """Queue a `message` update with the given content fields (text, photo, voice, ...)."""
        sender = {"id": from_id, "is_bot": is_bot, "first_name": first_name}
        if username:
            sender["username"] = username
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat |= {k: v for k, v in sender.items() if k in ("first_name", "username")}
        else:
            chat |= {"title": "Test group", **({"is_forum": True} if message_thread_id else {})}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            **content,
        }
        if message_thread_id is not None:
            message |= {"message_thread_id": message_thread_id, "is_topic_message": True}
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": self._bot_user(),
                "text": "an earlier answer",
            }
        return self.push_update({"message": message})

    def push_text(
        self, chat_id: int, text: str, *, entities: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """A text message; @mentions in the text get `mention` entities as Telegram adds them."""
        if entities is None:
            entities = [
                {"type": "mention", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
                for m in _MENTION.finditer(text)
            ]
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        return self.push_message(chat_id, **fields, **kwargs)

    def push_group_upgrade(
        self,
        old_chat_id: int,
        new_chat_id: int,
        *,
        title: str = "Test group",
        from_id: int = 835750362,
        sides: tuple[str, ...] = ("to", "from"),
    ) -> list[dict[str, Any]]:
        """A group upgraded to a supergroup, as Telegram reports it: a service message in the old
        group (`migrate_to_chat_id`), then one in the new supergroup (`migrate_from_chat_id`).
        `sides` picks which of the two arrive.
        """
        sender = {"id": from_id, "is_bot": False, "first_name": "Alice", "username": "alice"}
        chats = {
            "to": ({"id": old_chat_id, "type": "group", "title": title}, {"migrate_to_chat_id": new_chat_id}),
            "from": ({"id": new_chat_id, "type": "supergroup", "title": title}, {"migrate_from_chat_id": old_chat_id}),
        }
        updates = []
        for side in sides:
            chat, field = chats[side]
            message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": sender}
            updates.append(self.push_update({"message": message | field}))
        return updates

    def add_file(self, data: bytes, *, kind: str = "photos", ext: str = "jpg") -> str:
        """Register a downloadable file; return its file_id."""
        file_id = f"AgAC{secrets.token_hex(8)}"
        with self.lock:
            self.files[file_id] = (f"{kind}/file_{len(self.files)}.{ext}", data)
        return file_id

    def push_photo(
        self, chat_id: int, data: bytes | None = None, *, caption: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """A photo: a small thumbnail and the full image (last, largest), both real PNG bytes."""
        data = data or png_bytes(64, 48)
        thumb = png_bytes(4, 3)
        sizes = [
            {
                "file_id": self.add_file(thumb),
                "file_unique_id": "thumb",
                "width": 4,
                "height": 3,
                "file_size": len(thumb),
            },
            {
                "file_id": self.add_file(data),
                "file_unique_id": "full",
                "width": 64,
                "height": 48,
                "file_size": len(data),
            },
        ]
        fields: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            fields["caption"] = caption
        return self.push_message(chat_id, **fields, **kwargs)

    def push_document(
        self,
        chat_id: int,
        data: bytes,
        *,
        mime_type: str,
        file_name: str,
        caption: str | None = None,
        declare_size: bool = True,
        **kwargs: Any,
    ) -> dict[str, Any]:
        file_id = self.add_file(data, kind="documents", ext=file_name.rsplit(".", 1)[-1])
        doc: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": "doc",
            "file_name": file_name,
            "mime_type": mime_type,
        }
        if declare_size:  # optional in the Bot API
            doc["file_size"] = len(data)
        fields: dict[str, Any] = {"document": doc}
        if caption is not None:
            fields["caption"] = caption
        return self.push_message(chat_id, **fields, **kwargs)

    def push_voice(
        self, chat_id: int, data: bytes = b"OggS", *, duration: int = 2, declare_size: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        """A voice note (OGG/Opus, as Telegram clients record them); `data` is what getFile then serves."""
        voice: dict[str, Any] = {
            "file_id": self.add_file(data, kind="voice", ext="oga"),
            "file_unique_id": "voice",
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        if declare_size:
            voice["file_size"] = len(data)
        return self.push_message(chat_id, voice=voice, **kwargs)

    def push_audio(
        self, chat_id: int, data: bytes, *, duration: int, file_name: str = "song.mp3", **kwargs: Any
    ) -> dict[str, Any]:
        """An audio file (sent as music, not recorded): `audio` with its duration, size and type."""
        audio = {
            "file_id": self.add_file(data, kind="music", ext=file_name.rsplit(".", 1)[-1]),
            "file_unique_id": "audio",
            "duration": duration,
            "mime_type": "audio/mpeg",
            "file_name": file_name,
            "file_size": len(data),
        }
        return self.push_message(chat_id, audio=audio, **kwargs)

    def push_sticker(self, chat_id: int, **kwargs: Any) -> dict[str, Any]:
        sticker = {
            "file_id": "sticker1",
            "file_unique_id": "st",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "emoji": "👍",
        }
        return self.push_message(chat_id, sticker=sticker, **kwargs)

    # -- helpers for tests: scripted failures and inspection ------------------
    def fail_next(
        self,
        method: str,
        status: int = 502,
        times: int = 1,
        *,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """The next `times` calls of `method` fail with `status` (429 carries `parameters.retry_after`).

        `description` scripts a specific error, e.g. 400 "Bad Request: can't parse entities: ...".
        """
        with self.lock:
            self._failures.setdefault(method.lower(), []).extend([(status, retry_after, description)] * times)

    def hold(self, method: str) -> None:
        """Calls of `method` wait, unanswered, until `release()`: a send in flight, for as long as a test needs.

        A held call whose client is gone by then (killed) is dropped: it never reached Telegram.
        """
        with self.lock:
            self._held.add(method.lower())

    def release(self) -> None:
        """Let held calls go on (and stop holding new ones)."""
        with self.lock:
            self._held.clear()
        if self._loop is not None:  # `_release` is read on the loop: a call being held right now gets it too
            self._loop.call_soon_threadsafe(lambda: self._release is not None and self._release.set())

    async def _held_call(self, request: web.Request) -> bool:
        """Wait for `release()`; False when the client disconnected meanwhile."""
        if self._release is None or self._release.is_set():
            self._release = asyncio.Event()
        await self._release.wait()
        transport = request.transport
        return transport is not None and not transport.is_closing()

    def clear_failures(self) -> None:
        """Telegram is back: drop every scripted failure still pending."""
        with self.lock:
            self._failures.clear()

    def sent(self, chat_id: int | str | None = None, *, include_deleted: bool = False) -> list[SentMessage]:
        with self.lock:
            return [
                m
                for m in self.messages
                if (chat_id is None or m.chat_id == _chat_id(chat_id)) and (include_deleted or not m.deleted)
            ]

    def sent_messages(self, chat_id: int | str | None = None) -> list[str]:
        """Visible texts (captions for media) of the bot's messages still in the chat, in order, after edits."""
        return [m.text for m in self.sent(chat_id)]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for name, params in self.calls if name.lower() == method.lower()]


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _chat_id(value: Any) -> int | str:
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


_JSON_FIELDS = (
    "reply_parameters",
    "entities",
    "caption_entities",
    "commands",
    "allowed_updates",
    "link_preview_options",
)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parameters from query, JSON, form or multipart bodies; uploads as {size, filename, content_type, data}."""
    params: dict[str, Any] = dict(request.query)
    uploads: dict[str, Any] = {}
    content_type = request.content_type
    if request.method == "POST" and content_type == "application/json":
        params |= await request.json()
    elif request.method == "POST" and content_type.startswith("multipart/"):
        # the recording middleware already consumed the stream: parse the cached body
        body = await request.read()
        head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if not isinstance(name, str) or not isinstance(data, bytes):
                continue
            if filename := part.get_filename():
                uploads[name] = {
                    "size": len(data),
                    "filename": filename,
                    "content_type": part.get_content_type(),
                    "data": data,
                }
            else:
                params[name] = data.decode("utf-8")
    elif request.method == "POST":
        params |= dict(await request.post())
    for key in _JSON_FIELDS:
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass
    return params, uploads
