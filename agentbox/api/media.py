"""Links to media the agent produced, for API clients: `/media/<name>?sig=<signature>`.

An image made during an API turn is saved under `AGENTBOX_HOME/media/<sha256 prefix>.<ext>`
(as for every turn) and the answer carries a Markdown link to it. A chat UI shows the link
without sending any bearer token, so the link itself carries the proof: an HMAC of the file
name under a key derived from the gateway token. Only links the gateway handed out open;
anything else (a guessed name, another file in that folder, a wrong signature) is a 404 that
reveals nothing. Rotating the gateway token (deleting `gateway.token`) voids every link.
The file lives as long as the turn that made it (`[storage] retention_days`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from agentbox.gateway.control import load_or_create_token
from agentbox.messages import Attachment

ROUTE = "/media/{name}"
_NAME = re.compile(r"^[0-9a-f]{16}\.[A-Za-z0-9]{1,8}$")  # what turn.runner.save_media writes


class MediaLinks:
    """Signs links to produced media and serves the files behind them (the public route `GET /media/{name}`)."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._folder = home / "media"

    @cached_property
    def _key(self) -> bytes:
        # Derived, not the token itself: a link never carries anything that opens the gateway.
        return hmac.new(load_or_create_token(self._home).encode(), b"agentbox media links", hashlib.sha256).digest()

    def signature(self, name: str) -> str:
        return hmac.new(self._key, name.encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, item: Attachment, base: str) -> str | None:
        """A link to one produced attachment: a signed /media link to its file, else its own URL."""
        if item.path is not None:
            path = Path(item.path)
            if path.parent == self._folder and _NAME.match(path.name):
                return f"{base}/media/{path.name}?sig={self.signature(path.name)}"
        return item.url

    def markdown(self, items: Sequence[Attachment], base: str) -> str:
        """Markdown for the answer: images shown inline, other media as links."""
        lines = []
        for item in items:
            if (url := self.url(item, base)) is None:
                continue
            label = item.filename or item.kind
            lines.append(f"![{label}]({url})" if item.kind == "image" else f"[{label}]({url})")
        return "\n\n".join(lines)

    async def serve(self, request: Any) -> Any:
        from aiohttp import web

        name = request.match_info["name"]
        signature = request.query.get("sig", "")
        path = self._folder / name
        valid = bool(_NAME.match(name)) and hmac.compare_digest(
            signature.encode("utf-8", "surrogatepass"), self.signature(name).encode()
        )
        if not valid or not await asyncio.to_thread(path.is_file):
            return web.json_response({"error": "not found"}, status=404)
        return web.FileResponse(path, headers={"Cache-Control": "private, max-age=86400"})
