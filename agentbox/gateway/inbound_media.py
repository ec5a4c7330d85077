"""Inbound images, fetched only after the access check: references in, checked bytes out.

Connectors hand the gateway references (`Attachment.ref` and the platform's declared `size`);
the dispatcher calls `fetch_images` once the sender is allowed in, so a stranger's upload is
never downloaded or stored. Declared sizes are checked before any download and connectors stop
reading past `vision.max_image_bytes`. Every failure is an `InputError` phrased for the user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agentbox.config import VisionConfig
from agentbox.messages import Attachment, Connector, Inbound, MediaTooLarge, MediaUnavailable
from agentbox.vision import InputError, too_large, validate_attachment_image

log = logging.getLogger(__name__)

FETCH_ATTEMPTS = 3  # a network hiccup is retried; a vanished or oversized file is not


async def fetch_images(
    connector_for: Callable[[str], Awaitable[Connector]],
    inbound: Inbound,
    vision: VisionConfig,
    *,
    retry_delay: float = 1.0,
) -> list[Attachment]:
    """The message's images as validated bytes (URLs pass through); raises InputError for the user."""
    images = []
    for item in inbound.attachments:
        if item.kind != "image":
            continue
        if item.data is None and item.ref is not None:
            connector = await connector_for(inbound.channel)
            item = await fetch_reference(connector, item, vision.max_image_bytes, retry_delay)
        images.append(validate_attachment_image(item, vision))
    return images


async def fetch_reference(
    connector: Connector, item: Attachment, limit: int, retry_delay: float, *, what: str = "the image"
) -> Attachment:
    """The referenced file's bytes from its connector, never past `limit`; InputError (named `what`) for the user."""
    name = item.filename or what
    if item.size is not None and item.size > limit:
        raise too_large(name, item.size, limit)  # refused on the declared size: nothing downloaded
    for attempt in range(1, FETCH_ATTEMPTS + 1):
        try:
            return await connector.fetch(item, limit)
        except MediaTooLarge as exc:
            raise too_large(name, exc.size, exc.limit) from None
        except MediaUnavailable as exc:
            log.warning("%s: could not download %s (attempt %d): %s", connector.name, item.kind, attempt, exc)
            if not exc.transient or attempt == FETCH_ATTEMPTS:
                platform = connector.name.capitalize()
                raise InputError(f"I could not download it from {platform}; please send it again") from None
            await asyncio.sleep(retry_delay * attempt)
    raise AssertionError("unreachable")
