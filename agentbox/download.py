"""Capped downloads: what every connector's `fetch` uses so no inbound file is read past a limit.

The declared size (from the platform's message or file metadata) is checked before any request;
the body is then read in chunks and the download stops as soon as it passes the limit, so a
file that lies about its size costs at most one chunk more than the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from agentbox.messages import MediaTooLarge

CHUNK = 64 * 1024


def check_declared(size: int | None, max_bytes: int) -> None:
    """Raise MediaTooLarge when the platform already says the file is too big."""
    if size is not None and size > max_bytes:
        raise MediaTooLarge(max_bytes, size)


async def read_capped(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """Join the chunks of a streamed body; raise MediaTooLarge (and stop reading) past `max_bytes`."""
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > max_bytes:
            raise MediaTooLarge(max_bytes)
    return bytes(data)
