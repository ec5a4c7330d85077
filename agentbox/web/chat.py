"""Chat in the browser: `web:<id>` sessions, answers streamed as server-sent events, images in and out.

`POST /ui/chat/{id}/send` (multipart: `text`, `image` files; or JSON `{"text": ...}`) answers with
an event stream: `delta` (text as the model writes it), `progress` (what a tool is doing), then
`done` (the answer as safe HTML, the tools used, images, usage). The turn runs in the panel's
task set, not in the request: a browser that goes away mid-answer loses nothing, the turn is
recorded and shows in the transcript.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
import secrets
from typing import Any

from aiohttp import BodyPartReader, web

from agentbox.config import VisionConfig
from agentbox.gateway.control import Route
from agentbox.messages import Address, Attachment
from agentbox.vision import InputError, check_image_bytes, too_large
from agentbox.web.guard import secured
from agentbox.web.queries import extras_by_turn, media_link, sessions_on, turn_extras_of, with_links
from agentbox.web.render import markdown_html, render
from agentbox.web.state import PanelState

log = logging.getLogger(__name__)

CHANNEL = "web"
SENDER = "owner"
MAX_IMAGES = 4
CHAT_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MEDIA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9]{1,8}$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "video/webm", "audio/mpeg")

Event = tuple[str, dict[str, Any]]


async def _read_image(part: BodyPartReader, vision: VisionConfig) -> Attachment:
    name = part.filename or "the image"
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > vision.max_image_bytes:
            raise too_large(name, None, vision.max_image_bytes)
    media_type = check_image_bytes(bytes(data), vision, name=name)
    return Attachment("image", data=bytes(data), media_type=media_type, filename=part.filename)


async def read_message(request: web.Request, vision: VisionConfig) -> tuple[str, list[Attachment]]:
    """The text and images of a chat message; InputError says what is wrong with an image."""
    if request.content_type == "application/json":
        data = await request.json()
        return (str(data.get("text", "")) if isinstance(data, dict) else ""), []
    if not request.content_type.startswith("multipart/"):
        form = await request.post()
        text = form.get("text", "")
        return (text if isinstance(text, str) else ""), []
    text, images = "", list[Attachment]()
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "text":
            text = await part.text()
        elif part.name == "image" and part.filename:
            if len(images) >= MAX_IMAGES:
                raise InputError(f"send at most {MAX_IMAGES} images with one message")
            images.append(await _read_image(part, vision))
    return text, images


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class Chat:
    """The chat pages, the streaming send, and the media they show."""

    def __init__(self, state: PanelState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/ui/chat", self.index),
            Route("POST", "/ui/chat/new", self.new),
            Route("GET", "/ui/chat/{id}", self.conversation),
            Route("POST", "/ui/chat/{id}/send", self.send),
            Route("GET", "/ui/media/sha/{digest}", self.stored_media),
            Route("GET", "/ui/media/{name}", self.media_file),
        ]

    # -- pages -----------------------------------------------------------------------
    async def _page(self, request: web.Request, current: Any = None, status: int = 200) -> web.Response:
        store = self.state.store
        turns = await store.sessions.transcript(current.key) if current is not None else []
        with_links(turns, self.state.config.home / "media")
        return await self.state.page(
            request,
            "chat.html",
            nav="chat",
            title="Chat",
            status=status,
            chats=await sessions_on(store, CHANNEL),
            current=current,
            turns=turns,
            extras=await extras_by_turn(store, current.key) if current is not None else {},
            agents=sorted(self.state.config.agents),
            highlight="",
        )

    async def index(self, request: web.Request) -> web.Response:
        return await self._page(request)

    async def new(self, request: web.Request) -> web.Response:
        form = await request.post()
        agent = str(form.get("agent", "main"))
        if agent not in self.state.config.agents:
            agent = "main"
        chat_id = secrets.token_hex(6)
        await self.state.store.sessions.ensure(f"{CHANNEL}:{chat_id}", channel=CHANNEL, chat_id=chat_id, agent=agent)
        raise web.HTTPSeeOther(f"/ui/chat/{chat_id}")

    async def _session(self, request: web.Request) -> Any:
        chat_id = request.match_info["id"]
        info = await self.state.store.sessions.get(f"{CHANNEL}:{chat_id}") if CHAT_ID.match(chat_id) else None
        return info if info is not None and info.channel == CHANNEL else None

    async def conversation(self, request: web.Request) -> web.Response:
        info = await self._session(request)
        if info is None:
            return await self.state.page(
                request, "missing.html", nav="chat", title="No such chat", status=404, what="this chat"
            )
        return await self._page(request, info)

    # -- sending ---------------------------------------------------------------------
    async def send(self, request: web.Request) -> web.StreamResponse:
        info = await self._session(request)
        if info is None:
            return web.json_response({"error": "no such chat: start one at /ui/chat"}, status=404)
        try:
            text, images = await read_message(request, self.state.config.vision)
        except InputError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        limit = self.state.config.gateway.max_message_chars
        if not text.strip() and not images:
            return web.json_response({"error": "the message is empty: type something or add an image"}, status=400)
        if len(text) > limit:
            return web.json_response(
                {"error": f"the message is {len(text):,} characters; the limit is {limit:,}"}, status=400
            )
        response = secured(web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}))
        await response.prepare(request)
        events: asyncio.Queue[Event] = asyncio.Queue()
        self.state.tasks.spawn(
            self._turn(info, text, images, events), name=f"web turn {info.key} {secrets.token_hex(4)}"
        )
        await self._relay(response, events)
        return response

    async def _relay(self, response: web.StreamResponse, events: asyncio.Queue[Event]) -> None:
        connected = True
        while True:
            event, data = await events.get()
            if connected:
                try:
                    await response.write(sse(event, data))
                except ConnectionResetError:
                    connected = False  # the turn goes on; its answer is in the transcript
            if event in ("done", "error"):
                return

    async def _turn(self, info: Any, text: str, images: list[Attachment], events: asyncio.Queue[Event]) -> None:
        from agentbox.turn.runner import TurnRequest

        async def on_delta(piece: str) -> None:
            events.put_nowait(("delta", {"text": piece}))

        async def progress(note: str) -> None:
            events.put_nowait(("progress", {"text": note}))

        request = TurnRequest(
            session_key=info.key,
            text=text,
            images=tuple(images),
            agent_id=info.agent,
            sender_id=SENDER,
            address=Address(CHANNEL, info.chat_id),
        )
        try:
            result = await self.state.gateway.runner.run(request, on_delta=on_delta, progress=progress)
            log.info(
                "web chat answered with %s: %s in / %s out tokens%s",
                result.model,
                f"{result.usage.input_tokens:,}",
                f"{result.usage.output_tokens:,}",
                "" if result.ok else f" (the turn {result.status}: {result.error})",
                extra={"session": info.key},
            )
            extras = await turn_extras_of(self.state.store, result.turn_id)
            events.put_nowait(
                (
                    "done",
                    {
                        "ok": result.ok,
                        "html": str(markdown_html(result.reply)),
                        "tools": render("_tools.html", tools=extras.tools),
                        "attachments": [self.attachment_link(item) for item in result.attachments],
                        "usage": {
                            "input_tokens": result.usage.input_tokens,
                            "output_tokens": result.usage.output_tokens,
                            "usd": result.usage.usd,
                        },
                        "turn_id": result.turn_id,
                    },
                )
            )
        except asyncio.CancelledError:
            events.put_nowait(("error", {"message": "the gateway is stopping; ask again once it is back"}))
            raise
        except Exception as exc:
            log.exception("web chat: the turn in %s failed", info.key)
            events.put_nowait(("error", {"message": f"the turn failed: {type(exc).__name__}"}))

    def attachment_link(self, item: Attachment) -> dict[str, Any]:
        """Where the browser finds a produced file (our media route, or the URL it came from)."""
        link = media_link(item.describe(), self.state.config.home / "media")
        return {"name": link.name, "url": link.url, "image": link.image, "external": link.external}

    # -- media -----------------------------------------------------------------------
    async def media_file(self, request: web.Request) -> web.StreamResponse:
        """A file a turn produced, from AGENTBOX_HOME/media (names only: no paths, no links out of it)."""
        name = request.match_info["name"]
        folder = self.state.config.home / "media"
        path = folder / name
        if not MEDIA_NAME.match(name) or not path.is_file() or path.resolve().parent != folder.resolve():
            raise web.HTTPNotFound(text="no such file\n")
        data = await asyncio.to_thread(path.read_bytes)
        return _media_response(data, mimetypes.guess_type(name)[0] or "application/octet-stream", name)

    async def stored_media(self, request: web.Request) -> web.StreamResponse:
        """An image a user sent, stored once by hash in the database."""
        digest = request.match_info["digest"]
        found = await self.state.store.media.get(digest) if DIGEST.match(digest) else None
        if found is None:
            raise web.HTTPNotFound(text="no such image\n")
        return _media_response(found[0], found[1], digest[:16])


def _media_response(data: bytes, media_type: str, name: str) -> web.Response:
    """Known media inline; anything else as a download. A sandbox CSP: a file never runs script here."""
    inline = media_type in INLINE_TYPES
    response = web.Response(body=data, content_type=media_type if inline else "application/octet-stream")
    response.headers["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{name}"'
    secured(response, cache="private, max-age=3600")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
