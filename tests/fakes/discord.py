"""A fake Discord: REST API v10 under `/api/v10` plus a gateway websocket at `/ws`.

Driven by the real discord.py client. REST answers carry full objects the library
parses; the gateway speaks the real opcodes (HELLO, IDENTIFY, RESUME, HEARTBEAT/ACK,
DISPATCH) with increasing sequence numbers and zlib-stream compression when the
client asks for it (discord.py does, unless `zstandard` is installed).

Tests push events with `push_message` / `push_slash_command` and read what the bot
sent with `sent()` / `messages`. `fail_next` scripts errors, including 429s that
discord.py honours (it needs the `Via` header, which real Discord always sends).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeServer

API_PREFIX = "/api/v10"

# A real 1x1 PNG, served by the attachment route.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)


@dataclass
class SentMessage:
    """One message the bot created through `POST /channels/{id}/messages`."""

    channel_id: str
    message_id: str
    content: str
    message_reference: dict[str, Any] | None
    files: list[tuple[str, bytes]]  # (filename, bytes) in upload order
    payload: dict[str, Any]


@dataclass
class _Script:
    pattern: re.Pattern[str]
    status: int
    retry_after: float
    times: int


@dataclass
class _Session:
    session_id: str
    seq: int = 0


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    compress: str | None
    session: _Session | None = None
    compressor: Any = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        async with self.lock:  # zlib-stream is one shared stream: frames must not interleave
            if self.compress == "zlib-stream":
                if self.compressor is None:
                    self.compressor = zlib.compressobj()
                data = self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)
            elif self.compress == "zstd-stream":
                import zstandard  # only when the client itself has it installed

                await self.ws.send_bytes(zstandard.ZstdCompressor().compress(text.encode()))
            else:
                await self.ws.send_str(text)


def _json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly "application/json" (no charset), as Discord sends it.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _route_pattern(route: str) -> re.Pattern[str]:
    """`"POST /channels/{id}/messages"` → a regex over `"METHOD /path"` (prefix stripped)."""
    method, _, path = route.partition(" ")
    parts = re.split(r"(\{[^}]*\})", path)
    body = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{re.escape(method.upper())} {body}$")


class FakeDiscord(FakeServer):
    """REST + gateway for one bot in one test guild with two text channels and a thread."""

    token = "fake.discord-bot-token.0123456789"
    bot_id = "1000000000000000001"
    application_id = "1000000000000000001"  # new applications share the bot user's id
    guild_id = "2000000000000000001"
    channel_id = "3000000000000000001"  # #general
    other_channel_id = "3000000000000000002"  # #random
    thread_id = "3000000000000000003"  # a thread under #general, started by a user
    user_id = "4000000000000000001"
    heartbeat_interval_ms = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        self.messages: list[SentMessage] = []
        self.typing: list[str] = []
        self.interaction_responses: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.echo_own_messages = True  # real Discord dispatches the bot's own messages back to it
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self._scripts: list[_Script] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._known_messages: dict[str, dict[str, Any]] = {}
        self._dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self._connections: list[_Connection] = []
        self._sessions: dict[str, _Session] = {}

    # -- routes ----------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        app.middlewares.append(self._scripted_failures)
        app.middlewares.append(self._auth)
        p = API_PREFIX
        app.router.add_get(f"{p}/gateway/bot", self._gateway_bot)
        app.router.add_get(f"{p}/gateway", self._gateway_info)
        app.router.add_get(f"{p}/users/@me", self._me)
        app.router.add_get(f"{p}/oauth2/applications/@me", self._application)
        app.router.add_post(f"{p}/users/@me/channels", self._open_dm)
        app.router.add_get(f"{p}/channels/{{channel_id}}", self._get_channel)
        app.router.add_post(f"{p}/channels/{{channel_id}}/messages", self._create_message)
        app.router.add_post(f"{p}/channels/{{channel_id}}/typing", self._typing)
        app.router.add_put(f"{p}/applications/{{app_id}}/commands", self._put_commands)
        app.router.add_put(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._put_commands)
        app.router.add_post(f"{p}/interactions/{{interaction_id}}/{{token}}/callback", self._interaction_callback)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_get("/ws", self._gateway_ws)

    @property
    def api_base_url(self) -> str:
        return f"{self.url}{API_PREFIX}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    @web.middleware
    async def _scripted_failures(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = f"{request.method} {request.path.removeprefix(API_PREFIX)}"
        with self.lock:
            script = next((s for s in self._scripts if s.times > 0 and s.pattern.match(key)), None)
            if script is not None:
                script.times -= 1
        if script is None:
            return await handler(request)
        if script.status == 429:
            return _json_response(
                {"message": "You are being rate limited.", "retry_after": script.retry_after, "global": False},
                status=429,
                headers={"Retry-After": str(script.retry_after), "Via": "1.1 google", "X-RateLimit-Scope": "user"},
            )
        return _json_response({"message": f"{script.status}: scripted failure", "code": 0}, status=script.status)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # The gateway and CDN are not authenticated by header; interaction callbacks use the token in the path.
        open_paths = ("/ws", "/attachments/", f"{API_PREFIX}/interactions/", f"{API_PREFIX}/gateway")
        if not request.path.startswith(open_paths) and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return await handler(request)

    # -- REST ------------------------------------------------------------------
    async def _gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
        return _json_response({"url": self.ws_url, "shards": 1, "session_start_limit": limit})

    async def _gateway_info(self, request: web.Request) -> web.Response:
        return _json_response({"url": self.ws_url})

    async def _me(self, request: web.Request) -> web.Response:
        return _json_response(self.bot_user())

    async def _application(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                "id": self.application_id,
                "name": "agentbox-test",
                "icon": None,
                "description": "",
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "00" * 32,
                "flags": 0,
                "owner": self.user_object(self.user_id, "owner"),
                "team": None,
            }
        )

    async def _open_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        return _json_response(self.dm_channel_object(str(body["recipient_id"])))

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        for channel in [*self.guild_channels(), self.thread_object()]:
            if channel["id"] == channel_id:
                return _json_response(channel)
        for user_id, dm_id in self._dm_channels.items():
            if dm_id == channel_id:
                return _json_response(self.dm_channel_object(user_id))
        return _json_response({"message": "Unknown Channel", "code": 10003}, status=404)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        payload, files = await self._read_message_body(request)
        message_id = self.next_id()
        attachments = []
        for index, (filename, data) in enumerate(files):
            attachments.append(self._store_attachment(channel_id, filename, data, None, id_hint=index))
        reference = payload.get("message_reference")
        message = self.message_object(
            channel_id,
            message_id,
            payload.get("content") or "",
            author=self.bot_user(),
            guild_id=self._guild_of(channel_id),
            attachments=attachments,
            reply_to=str(reference["message_id"]) if reference else None,
        )
        with self.lock:
            self.messages.append(
                SentMessage(channel_id, message_id, payload.get("content") or "", reference, files, payload)
            )
            self._known_messages[message_id] = message
        if self.echo_own_messages:
            asyncio.get_running_loop().create_task(self._dispatch("MESSAGE_CREATE", message))
        return _json_response(message)

    async def _read_message_body(self, request: web.Request) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        if not request.content_type.startswith("multipart/"):
            return await request.json(), []
        # The recording middleware already consumed the stream, so parse the cached body.
        raw = b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + await request.read()
        parsed = BytesParser(policy=HTTP).parsebytes(raw)
        payload: dict[str, Any] = {}
        files: list[tuple[str, bytes]] = []
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            if name == "payload_json":
                payload = json.loads(data)
            elif isinstance(name, str) and name.startswith("files["):
                files.append((part.get_filename() or "file", bytes(data)))
        return payload, files

    async def _typing(self, request: web.Request) -> web.Response:
        with self.lock:
            self.typing.append(request.match_info["channel_id"])
        return web.Response(status=204)

    async def _put_commands(self, request: web.Request) -> web.Response:
        body = await request.json()
        result = []
        for command in body:
            result.append(
                {
                    "id": self.next_id(),
                    "application_id": self.application_id,
                    "version": self.next_id(),
                    "default_member_permissions": None,
                    "type": 1,
                    "options": [],
                    "dm_permission": True,
                    "nsfw": False,
                    **command,
                }
            )
            if "guild_id" in request.match_info:
                result[-1]["guild_id"] = request.match_info["guild_id"]
        with self.lock:
            self.commands = result
        return _json_response(result)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            self.interaction_responses.append(body)
        interaction_id = request.match_info["interaction_id"]
        data = body.get("data") or {}
        flags = data.get("flags", 0)
        return _json_response(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": 2,
                    "response_message_id": self.next_id(),
                    "response_message_loading": body.get("type") == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": None,
            }
        )

    async def _attachment(self, request: web.Request) -> web.Response:
        key = request.path.removeprefix("/attachments/")
        stored = self._files.get(key)
        if stored is None:
            return web.Response(status=404)
        data, content_type = stored
        return web.Response(body=data, content_type=content_type)

    # -- gateway websocket -----------------------------------------------------
    async def _gateway_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = _Connection(ws, request.query.get("compress"))
        await conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is not web.WSMsgType.TEXT:
                    continue
                await self._on_gateway_payload(conn, json.loads(msg.data))
        finally:
            if conn in self._connections:
                self._connections.remove(conn)
        return ws

    async def _on_gateway_payload(self, conn: _Connection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d") or {}
        if op == 1:
            self.heartbeats += 1
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            with self.lock:
                self.identifies.append(data)
            if data.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            session = _Session(session_id=f"session-{self.next_id()}")
            self._sessions[session.session_id] = session
            conn.session = session
            self._connections.append(conn)
            await self._send_dispatch(conn, "READY", self.ready_payload(session.session_id))
            await self._send_dispatch(conn, "GUILD_CREATE", self.guild_object())
        elif op == 6:
            with self.lock:
                self.resumes.append(data)
            resumed = self._sessions.get(data.get("session_id", ""))
            if resumed is None or data.get("token") != self.token:
                await conn.send({"op": 9, "d": False, "s": None, "t": None})  # INVALID_SESSION, not resumable
                return
            conn.session = resumed
            self._connections.append(conn)
            await self._send_dispatch(conn, "RESUMED", {})

    async def _send_dispatch(self, conn: _Connection, event: str, data: dict[str, Any]) -> None:
        assert conn.session is not None
        conn.session.seq += 1
        await conn.send({"op": 0, "t": event, "s": conn.session.seq, "d": data})

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        for conn in list(self._connections):
            if not conn.ws.closed:
                await self._send_dispatch(conn, event, data)

    async def _drop(self, code: int) -> None:
        for conn in list(self._connections):
            self._connections.remove(conn)
            await conn.ws.close(code=code)

    # -- payload builders --------------------------------------------------------
    def next_id(self) -> str:
        with self.lock:
            return str(next(self._ids))

    @staticmethod
    def user_object(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": user_id,
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }

    def bot_user(self) -> dict[str, Any]:
        return {**self.user_object(self.bot_id, "agentbox", bot=True), "verified": True, "mfa_enabled": False}

    def ready_payload(self, session_id: str) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot_user(),
            "guilds": [{"id": self.guild_id, "unavailable": True}],
            "session_id": session_id,
            "resume_gateway_url": self.ws_url,
            "shard": [0, 1],
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    def guild_channels(self) -> list[dict[str, Any]]:
        def text(channel_id: str, name: str, position: int) -> dict[str, Any]:
            return {
                "id": channel_id,
                "type": 0,
                "guild_id": self.guild_id,
                "name": name,
                "position": position,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }

        return [text(self.channel_id, "general", 0), text(self.other_channel_id, "random", 1)]

    def thread_object(self) -> dict[str, Any]:
        return {
            "id": self.thread_id,
            "type": 11,
            "guild_id": self.guild_id,
            "parent_id": self.channel_id,
            "owner_id": self.user_id,
            "name": "a thread",
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _now(),
                "locked": False,
            },
        }

    def guild_object(self) -> dict[str, Any]:
        everyone = {
            "id": self.guild_id,
            "name": "@everyone",
            "permissions": str(0x0000000000000C00 | 0x0000000000040000),  # view, send, read history-ish
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        bot_member = {
            "user": self.bot_user(),
            "roles": [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        return {
            "id": self.guild_id,
            "name": "Test Guild",
            "icon": None,
            "owner_id": self.user_id,
            "unavailable": False,
            "large": False,
            "member_count": 2,
            "joined_at": _now(),
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "members": [bot_member],
            "channels": self.guild_channels(),
            "threads": [self.thread_object()],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
        }

    def dm_channel_object(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            channel_id = self._dm_channels.setdefault(user_id, self.next_id())
        return {"id": channel_id, "type": 1, "last_message_id": None, "recipients": [self.user_object(user_id, "user")]}

    def _guild_of(self, channel_id: str) -> str | None:
        guild_channels = {c["id"] for c in self.guild_channels()} | {self.thread_id}
        return self.guild_id if channel_id in guild_channels else None

    def _store_attachment(
        self, channel_id: str, filename: str, data: bytes, content_type: str | None, *, id_hint: int = 0
    ) -> dict[str, Any]:
        attachment_id = self.next_id()
        key = f"{channel_id}/{attachment_id}/{filename}"
        content_type = content_type or ("image/png" if filename.endswith(".png") else "application/octet-stream")
        with self.lock:
            self._files[key] = (data, content_type)
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data),
            "url": f"{self.url}/attachments/{key}?ex=0&is=0&hm=0",
            "proxy_url": f"{self.url}/attachments/{key}",
            "content_type": content_type,
        }

    def message_object(
        self,
        channel_id: str,
        message_id: str,
        content: str,
        *,
        author: dict[str, Any],
        guild_id: str | None,
        mentions: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        reply_to: str | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": message_id,
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions or [],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": [],
            "pinned": False,
            "type": 19 if reply_to else 0,
            "flags": 0,
        }
        if guild_id is not None:
            message["guild_id"] = guild_id
            message["member"] = {"roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0}
        if reply_to is not None:
            message["message_reference"] = {"type": 0, "message_id": reply_to, "channel_id": channel_id}
            if guild_id is not None:
                message["message_reference"]["guild_id"] = guild_id
            with self.lock:
                referenced = self._known_messages.get(reply_to)
            message["referenced_message"] = referenced
        return message

    # -- test helpers ------------------------------------------------------------
    def push_message(
        self,
        channel_id: str | None = None,
        content: str = "",
        *,
        author_id: str | None = None,
        author_name: str = "alice",
        guild_id: str | None = None,
        mentions: list[str] | None = None,
        attachments: list[tuple[str, bytes, str]] | None = None,
        bot: bool = False,
        reply_to: str | None = None,
        voice_seconds: float | None = None,
    ) -> str:
        """Dispatch MESSAGE_CREATE; `guild_id=None` is a DM (channel defaults to the author's DM).

        `mentions` are user ids (use `fake.bot_id` to mention the bot); `attachments` are
        `(filename, bytes, content_type)` served by the fake CDN. `voice_seconds` makes it a voice
        message (flag IS_VOICE_MESSAGE; its attachment gets `duration_secs` and a `waveform`). Returns the message id.
        """
        author_id = author_id or self.user_id
        if channel_id is None:
            channel_id = self.dm_channel_object(author_id)["id"] if guild_id is None else self.channel_id
        message_id = self.next_id()
        mention_objects = [
            self.bot_user() if uid == self.bot_id else self.user_object(uid, f"user{uid[-3:]}")
            for uid in mentions or []
        ]
        stored = [self._store_attachment(channel_id, name, data, ctype) for name, data, ctype in attachments or []]
        message = self.message_object(
            channel_id,
            message_id,
            content,
            author=self.user_object(author_id, author_name, bot=bot),
            guild_id=guild_id,
            mentions=mention_objects,
            attachments=stored,
            reply_to=reply_to,
        )
        if voice_seconds is not None:
            message["flags"] |= 1 << 13
            for item in stored:
                item |= {"duration_secs": voice_seconds, "waveform": base64.b64encode(bytes(range(0, 256, 4))).decode()}
        with self.lock:
            self._known_messages[message_id] = message
        self.call_in_loop(self._dispatch("MESSAGE_CREATE", message))
        return message_id

    def push_slash_command(
        self, name: str, *, channel_id: str | None = None, guild_id: str | None = None, user_id: str | None = None
    ) -> str:
        """Dispatch INTERACTION_CREATE for a chat-input command; returns the interaction id."""
        user_id = user_id or self.user_id
        if channel_id is None:
            channel_id = self.dm_channel_object(user_id)["id"] if guild_id is None else self.channel_id
        interaction_id = self.next_id()
        user = self.user_object(user_id, "alice")
        command = next((c for c in self.commands if c["name"] == name), None)
        interaction: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": 2,
            "token": f"interaction-token-{interaction_id}",
            "version": 1,
            "attachment_size_limit": 10 * 1024 * 1024,
            "locale": "en-US",
            "app_permissions": "0",
            "entitlements": [],
            "data": {"id": command["id"] if command else self.next_id(), "name": name, "type": 1},
        }
        if guild_id is None:
            interaction["user"] = user
            interaction["channel"] = {"id": channel_id, "type": 1, "recipients": [user]}
            interaction["channel_id"] = channel_id
            interaction["context"] = 1
        else:
            interaction["guild_id"] = guild_id
            interaction["member"] = {
                "user": user,
                "roles": [],
                "joined_at": _now(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": "0",
            }
            interaction["channel"] = next(c for c in self.guild_channels() if c["id"] == channel_id)
            interaction["channel_id"] = channel_id
            interaction["context"] = 0
        self.call_in_loop(self._dispatch("INTERACTION_CREATE", interaction))
        return interaction_id

    def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway websocket (a network blip); discord.py reconnects and RESUMEs."""
        self.call_in_loop(self._drop(code))

    def fail_next(self, route: str, status: int = 429, retry_after: float = 0.2, times: int = 1) -> None:
        """Answer the next `times` requests matching `"METHOD /path"` (placeholders allowed) with `status`."""
        with self.lock:
            self._scripts.append(_Script(_route_pattern(route), status, retry_after, times))

    def sent(self, channel_id: str | None = None) -> list[str]:
        """Contents the bot sent, in order, optionally for one channel."""
        with self.lock:
            return [m.content for m in self.messages if channel_id is None or m.channel_id == channel_id]
