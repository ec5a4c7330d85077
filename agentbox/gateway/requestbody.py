"""Reading a request body on the gateway's server with a size limit, before anything is parsed or stored.

aiohttp's own limit (`client_max_size`) is one per application; each route here names its own
(an update from Telegram is small, an API request carries images). The declared length is
checked first, and reading stops as soon as the body passes the limit.
"""

from __future__ import annotations

from typing import Any

from agentbox.errors import AgentboxError

CHUNK = 64 * 1024


class BodyTooLarge(AgentboxError):
    """A request body over its route's limit: answered 413, nothing kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit:,} bytes")
        self.limit = limit


async def read_body(request: Any, limit: int) -> bytes:
    """The body of an aiohttp request, at most `limit` bytes; raises BodyTooLarge past it."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)
    parts: list[bytes] = []
    size = 0
    while chunk := await request.content.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        parts.append(chunk)
    return b"".join(parts)
