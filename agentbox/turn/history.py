"""Turn messages to and from the database: pydantic-ai JSON with media stored once.

Binary content (images the user sent, files a tool returned) goes to the `media` table
by content hash; the stored message keeps only a reference in the part's `identifier`,
so the database stays small and history loads stay fast however many images a chat has.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter
from pydantic_ai.messages import BinaryContent, ModelMessage, ModelMessagesTypeAdapter

from agentbox.redaction import redact_tree
from agentbox.store import Store

MEDIA_REF = "agentbox-media:"
IMAGE_TOKENS = 800  # rough cost of one image in the prompt

# Decodes a dumped binary part with pydantic's own rules (it writes URL-safe base64).
_BINARY = TypeAdapter(BinaryContent)


def _walk(node: Any, visit: Any) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


async def dump_messages(store: Store, messages: list[ModelMessage]) -> bytes:
    data = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    binaries: list[dict[str, Any]] = []
    _walk(data, lambda node: binaries.append(node) if node.get("kind") == "binary" and node.get("data") else None)
    for node in binaries:
        content = _BINARY.validate_python({"data": node["data"], "media_type": node.get("media_type") or ""})
        digest = await store.media.put(content.data, str(node.get("media_type") or ""))
        node["data"] = ""
        node["identifier"] = MEDIA_REF + digest
    return json.dumps(redact_tree(data), separators=(",", ":")).encode()  # no known secret is stored


async def load_messages(store: Store, blob: bytes) -> list[ModelMessage]:
    data = json.loads(blob)
    refs: list[dict[str, Any]] = []
    _walk(
        data,
        lambda node: (
            refs.append(node)
            if node.get("kind") == "binary" and str(node.get("identifier", "")).startswith(MEDIA_REF)
            else None
        ),
    )
    for node in refs:
        found = await store.media.get(node["identifier"][len(MEDIA_REF) :])
        if found is None:  # media row lost: keep the conversation, drop the picture
            node["data"] = b""
            continue
        node["data"] = found[0]  # bytes as they are: validate_python takes them without any decoding
        node["identifier"] = None
    return ModelMessagesTypeAdapter.validate_python(data)


def estimate_tokens(text: str) -> int:
    """Offline token estimate (~4 characters per token for English, more for other scripts).

    No tokenizer download: agentbox talks to nothing but the endpoints the user configured.
    """
    if not text:
        return 0
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    other = len(text) - ascii_chars
    return (ascii_chars + 3) // 4 + other


def estimate_blob_tokens(blob: bytes | None) -> int:
    """Token estimate of a stored turn: its text content plus a fixed cost per image."""
    if not blob:
        return 0
    data = json.loads(blob)
    total = 0

    def visit(node: dict[str, Any]) -> None:
        nonlocal total
        kind = node.get("part_kind") or node.get("kind")
        if kind == "binary" or kind == "image-url":
            total += IMAGE_TOKENS
        content = node.get("content")
        if isinstance(content, str):
            total += estimate_tokens(content)
        elif isinstance(content, list):
            total += sum(estimate_tokens(item) for item in content if isinstance(item, str))
        args = node.get("args")
        if isinstance(args, str):
            total += estimate_tokens(args)
        elif isinstance(args, dict):
            total += estimate_tokens(json.dumps(args))

    _walk(data, visit)
    return total + 4 * len(data)
