"""Attachments as JSON references for stored rows: bytes go to the `media` table (once, by hash).

Shared by the inbox (inbound media) and the outbox (replies waiting to be delivered).
"""

from __future__ import annotations

from typing import Any

from agentbox.messages import Attachment
from agentbox.store.sessions import MediaRepo


async def attachment_ref(media: MediaRepo, item: Attachment, *, keep_bytes_with_path: bool = True) -> dict[str, Any]:
    """A JSON-able reference; with `keep_bytes_with_path=False` a file on disk is referenced by its path only."""
    ref: dict[str, Any] = {
        "kind": item.kind,
        "url": item.url,
        "path": item.path,
        "media_type": item.media_type,
        "filename": item.filename,
        "caption": item.caption,
        "ref": item.ref,  # a platform reference (file id), fetched after the access check
        "size": item.size,
        "duration": item.duration,
        "voice": item.voice,
    }
    if item.data is not None and (keep_bytes_with_path or not item.path):
        ref["sha256"] = await media.put(item.data, item.media_type or "application/octet-stream")
    return ref


async def attachment_from_ref(media: MediaRepo, ref: dict[str, Any]) -> Attachment:
    data: bytes | None = None
    if digest := ref.get("sha256"):
        stored = await media.get(digest)
        data = stored[0] if stored else None
    return Attachment(
        ref["kind"],
        data=data,
        url=ref.get("url"),
        path=ref.get("path"),
        media_type=ref.get("media_type"),
        filename=ref.get("filename"),
        caption=ref.get("caption"),
        ref=ref.get("ref"),
        size=ref.get("size"),
        duration=ref.get("duration"),
        voice=bool(ref.get("voice")),
    )
