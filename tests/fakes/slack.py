"""A fake Slack Web API on 127.0.0.1, driven through the real slack_sdk/slack_bolt clients.

`POST {url}/api/<method>` takes form, query or JSON parameters and a bearer token, and
answers like Slack: HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "..."}`,
HTTP 429 with `Retry-After` when scripted. It also serves the external upload URLs
(`files.getUploadURLExternal` → `POST /upload/v1/<file_id>`) and private file downloads
(`url_private`, bearer token required; without it Slack answers a login page, as here).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.base import FakeServer

# Every scope the connector's manifest asks for; tests remove some to script missing scopes.
ALL_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:history",
        "groups:history",
        "im:history",
        "chat:write",
        "reactions:write",
        "files:read",
        "files:write",
        "users:read",
    }
)

# Which scope each method needs, for `missing_scope` answers (subset of Slack's table).
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "users.info": "users:read",
    "conversations.replies": "channels:history",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}


@dataclass
class ScriptedFailure:
    status: int
    retry_after: int
    error: str
    times: int
    extra: dict[str, Any]


@dataclass
class FakeSlack(FakeServer):
    bot_token: str = "xoxb-fake-bot-token"
    app_token: str = "xapp-fake-app-token"
    signing_secret: str = "fake-signing-secret"
    team_id: str = "T0FAKE"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    scopes: set[str] = field(default_factory=lambda: set(ALL_SCOPES))
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Recorded traffic, parsed (the base class keeps the raw requests too).
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    completed_uploads: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    downloads: list[dict[str, str]] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._failures: dict[str, list[ScriptedFailure]] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []

    def __repr__(self) -> str:  # the recorded traffic would drown assertion messages
        return f"FakeSlack({self.url})"

    # -- routes ----------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_get("/files-pri/{team_file}/{name}", self._download)
        app.router.add_get("/socket", self._socket)

    @property
    def api_url(self) -> str:
        """What to pass as `api_base_url`."""
        return f"{self.url}/api/"

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else params.pop("token", "")
        with self.lock:
            self.calls.append((method, params))
            failure = self._take_failure(method)
        if failure is not None:
            if failure.status == 429:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(failure.retry_after)},
                )
            return web.json_response({"ok": False, "error": failure.error, **failure.extra}, status=failure.status)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            return self._error("not_authed")
        if token != expected:
            return self._error("invalid_auth")
        needed = METHOD_SCOPES.get(method)
        if needed and needed not in self.scopes:
            return self._error("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._error("unknown_method")
        with self.lock:
            result = handler(params)
        if isinstance(result, web.Response):
            return result
        # Slack reports the token's scopes on every call; check_auth reads them from auth.test.
        return web.json_response({"ok": True, **result}, headers={"X-OAuth-Scopes": ",".join(sorted(self.scopes))})

    @staticmethod
    def _error(error: str, **extra: Any) -> web.Response:
        return web.json_response({"ok": False, "error": error, **extra})

    def _take_failure(self, method: str) -> ScriptedFailure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    # -- Web API methods (called with the lock held) ---------------------------
    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "agentbox",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        channel = params.get("channel")
        if not channel:
            return self._error("channel_not_found")
        if not params.get("text") and not params.get("blocks"):
            return self._error("no_text")
        ts = self._next_ts()
        blocks = params.get("blocks")
        message = {
            "channel": channel,
            "text": params.get("text", ""),
            "thread_ts": params.get("thread_ts"),
            "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks,
            "ts": ts,
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
        }
        self.messages.append(message)
        return {"channel": channel, "ts": ts, "message": {k: v for k, v in message.items() if k != "channel"}}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        for message in self.messages:
            if message["channel"] == params.get("channel") and message["ts"] == params.get("ts"):
                message["text"] = params.get("text", message["text"])
                return {"channel": message["channel"], "ts": message["ts"], "text": message["text"]}
        return self._error("message_not_found")

    def _m_reactions_add(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        key = (str(params.get("channel")), str(params.get("timestamp")))
        names = self.reactions.setdefault(key, [])
        if params.get("name") in names:
            return self._error("already_reacted")
        names.append(str(params.get("name")))
        return {}

    def _m_reactions_remove(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        key = (str(params.get("channel")), str(params.get("timestamp")))
        names = self.reactions.get(key, [])
        if params.get("name") not in names:
            return self._error("no_reaction")
        names.remove(str(params.get("name")))
        return {}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        user_id = str(params.get("user"))
        user = self.users.get(user_id)
        if user is None:
            return self._error("user_not_found")
        return {"user": {"id": user_id, **user}}

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel"))
        return {"channel": {"id": channel, "name": f"chan-{channel.lower()}", "is_im": channel.startswith("D")}}

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        replies = [m for m in self.messages if m["channel"] == channel and ts in (m["ts"], m["thread_ts"])]
        return {"messages": replies, "has_more": False}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://{self.host}:{self.port}/socket"}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        if not params.get("filename") or not params.get("length"):
            return self._error("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        self.uploads[file_id] = {
            "filename": params["filename"],
            "length": int(params["length"]),
            "data": None,
        }
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        files = json.loads(params.get("files") or "[]")
        for item in files:
            upload = self.uploads.get(item.get("id"))
            if upload is None or upload["data"] is None:
                return self._error("file_not_found")
        self.completed_uploads.append(
            {
                "files": files,
                "channel_id": params.get("channel_id"),
                "thread_ts": params.get("thread_ts"),
                "initial_comment": params.get("initial_comment"),
            }
        )
        return {"files": [{"id": item["id"], "title": item.get("title")} for item in files]}

    # -- non-API routes ----------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        with self.lock:
            upload = self.uploads.get(file_id)
            if upload is None:
                return web.Response(status=404, text="not found", content_type="text/plain")
            upload["data"] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["team_file"].split("-", 1)[-1]
        auth = request.headers.get("Authorization", "")
        with self.lock:
            self.downloads.append({"file_id": file_id, "authorization": auth})
            stored = self.files.get(file_id)
        if auth != f"Bearer {self.bot_token}":
            # What Slack does for a missing/invalid token (or a token without files:read).
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        if stored is None:
            return web.Response(status=404, text="not found", content_type="text/plain")
        data, mimetype, _name = stored
        return web.Response(body=data, content_type=mimetype)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then record the client's envelope acks."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                if "envelope_id" in data:
                    with self.lock:
                        self.socket_acks.append(data)
        if ws in self._sockets:
            self._sockets.remove(ws)
        return ws

    async def _push(self, envelope: dict[str, Any]) -> None:
        await self._sockets[-1].send_json(envelope)

    async def _drop_sockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # -- helpers for tests -------------------------------------------------------
    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        error: str = "ratelimited",
        **extra: Any,
    ) -> None:
        """Script the next `times` calls of `method` to fail: 429 with Retry-After, or `error`."""
        with self.lock:
            self._failures.setdefault(method, []).append(ScriptedFailure(status, retry_after, error, times, extra))

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    def push_socket_event(self, event: dict[str, Any]) -> str:
        """Send an Events API envelope over the newest Socket Mode connection; returns its envelope id."""
        envelope_id = f"env-{next(self._ids)}"
        payload = {
            "team_id": self.team_id,
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": f"Ev{envelope_id}",
            "event": event,
            "authorizations": [{"team_id": self.team_id, "user_id": self.bot_user_id, "is_bot": True}],
        }
        envelope = {"envelope_id": envelope_id, "type": "events_api", "payload": payload}
        self.call_in_loop(self._push({**envelope, "accepts_response_payload": False, "retry_attempt": 0}))
        return envelope_id

    def drop_sockets(self) -> None:
        """Close every Socket Mode connection, as Slack does on refreshes and outages."""
        self.call_in_loop(self._drop_sockets())

    def posted(self, channel: str | None = None) -> list[str]:
        """Texts posted with chat.postMessage, in order (optionally in one channel)."""
        with self.lock:
            return [m["text"] for m in self.messages if channel is None or m["channel"] == channel]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of `method` (including failed ones), in order."""
        with self.lock:
            return [params for name, params in self.calls if name == method]

    def add_file(self, data: bytes, mimetype: str, name: str | None = None) -> dict[str, Any]:
        """Store a file and return its object as Slack puts it into a message event's `files`."""
        with self.lock:
            file_id = f"F{next(self._ids):08d}"
            name = name or f"{file_id}.{mimetype.rsplit('/', 1)[-1]}"
            self.files[file_id] = (data, mimetype, name)
        url = f"{self.url}/files-pri/{self.team_id}-{file_id}/{name}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": mimetype.rsplit("/", 1)[-1],
            "size": len(data),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }
