"""What a Discord reply looks like on the wire: text chunks and file batches within Discord's limits.

Text stays Markdown (Discord renders it) split into chunks of at most 2,000 characters with code
blocks kept valid. Media is grouped into messages of at most 10 files within the upload limit;
what cannot be uploaded becomes a link (when it has a URL) or a one-line note in the text.
"""

from __future__ import annotations

import io
import mimetypes
import os
from typing import Any

from agentbox.messages import Attachment, Mention
from agentbox.textsplit import split_markdown

MAX_TEXT = 2000  # Discord rejects longer message content
UPLOAD_LIMIT = 10 * 1024 * 1024  # per file, DMs and unboosted guilds; boosted guilds allow more
MAX_FILES_PER_MESSAGE = 10

FileBatch = tuple[list[tuple[Any, str]], str | None]  # ([(bytes stream or path, filename)], caption)


def with_mention(text: str, mention: Mention | None) -> tuple[str, dict[str, Any]]:
    """`text` led by `<@ID>`, and the `allowed_mentions` that let that one user be notified.

    The client allows no user pings by default, so model text that writes `<@...>` pings nobody.
    """
    if mention is None or not mention.user_id.isdigit():
        return text, {}
    import discord

    pings = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(int(mention.user_id))])
    return f"<@{mention.user_id}> {text}".rstrip(), {"allowed_mentions": pings}


def text_chunks(text: str, notes: list[str]) -> list[str]:
    """The reply text followed by the notes about media that could not be attached, in chunks."""
    joined = "\n".join(part for part in (text.strip(), *notes) if part)
    return split_markdown(joined, MAX_TEXT) if joined else []


def prepare_files(attachments: tuple[Attachment, ...], limit: int) -> tuple[list[FileBatch], list[str]]:
    """Group uploadable media into messages (≤ 10 files, ≤ `limit` bytes each); the rest become links."""
    batches: list[FileBatch] = []
    notes: list[str] = []
    batch: list[tuple[Any, str]] = []
    captions: list[str] = []
    total = 0
    for index, item in enumerate(attachments):
        name = item.filename or (os.path.basename(item.path) if item.path else _default_name(item, index))
        size = len(item.data) if item.data is not None else _file_size(item.path)
        if size is None or size > limit:
            if item.url:
                notes.append(f"{item.caption}: {item.url}" if item.caption else item.url)
            elif size is None:
                notes.append(f"({name} could not be attached: file not found)")
            else:
                notes.append(f"({name} is too large to upload to Discord: {size / 1_048_576:.1f} MB)")
            continue
        if batch and (len(batch) == MAX_FILES_PER_MESSAGE or total + size > limit):
            batches.append((batch, _caption(captions)))
            batch, captions, total = [], [], 0
        source = io.BytesIO(item.data) if item.data is not None else item.path
        batch.append((source, name))
        total += size
        if item.caption:
            captions.append(item.caption)
    if batch:
        batches.append((batch, _caption(captions)))
    return batches, notes


def _default_name(item: Attachment, index: int) -> str:
    ext = mimetypes.guess_extension(item.media_type or "") or {"image": ".png", "video": ".mp4"}.get(item.kind, ".bin")
    return f"{item.kind}-{index + 1}{ext}"


def _file_size(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _caption(captions: list[str]) -> str | None:
    text = "\n".join(captions)
    return text[:MAX_TEXT] or None
