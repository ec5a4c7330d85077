"""What the panel's pages read from the store, beyond the repositories' own methods.

`search_transcripts` is the one place the panel searches transcripts: the full-text search of
`agentbox.memory.search` (FTS5, best matches first), and a plain substring scan when the words
match nothing (a part of a word, an id, a code). The Sessions page only sees `SearchHit`s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentbox.store import Job, SessionInfo, Store

MEDIA_REF = "agentbox-media:"  # as agentbox.turn.history stores it (not imported: it pulls in pydantic-ai)
SNIPPET_CHARS = 160
TOOL_TEXT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A turn whose question or answer matches a search, with a snippet around the match."""

    session_key: str
    turn_id: int
    started_at: float
    snippet: str


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _snippet(text: str, query: str) -> str:
    at = text.lower().find(query.lower())
    start = max(0, at - SNIPPET_CHARS // 2) if at >= 0 else 0
    piece = " ".join(text[start : start + SNIPPET_CHARS].split())
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(text) else "")


async def search_transcripts(store: Store, query: str, *, limit: int = 50) -> list[SearchHit]:
    """Turns sharing words with `query`, best first; else those containing it as typed, newest first."""
    query = query.strip()
    if not query:
        return []
    from agentbox.memory.search import search_transcripts as full_text

    found = await full_text(store, query, limit=limit)
    if found:
        return [SearchHit(hit.session_key, hit.turn_id, hit.started_at, _matched_side(hit)) for hit in found]
    return await _containing(store, query, limit)


def _matched_side(hit: Any) -> str:
    """The snippet of the side (question or answer) where the words matched, matches marked « »."""
    from agentbox.memory.search import marked
    from agentbox.store.transcripts import MARK_START

    sides = (hit.user_snippet, hit.reply_snippet)
    return marked(next((side for side in sides if MARK_START in side), sides[0] or sides[1]))


async def _containing(store: Store, query: str, limit: int) -> list[SearchHit]:
    """Turns whose user text or reply contains `query` (case-insensitive for ASCII), newest first."""
    pattern = _like_pattern(query)
    async with store.conn.execute(
        "SELECT id, session_key, started_at, user_text, reply FROM turns"
        " WHERE user_text LIKE ? ESCAPE '\\' OR reply LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
        (pattern, pattern, limit),
    ) as cursor:
        rows = await cursor.fetchall()
    hits = []
    for row in rows:
        text = row["user_text"] if query.lower() in str(row["user_text"]).lower() else row["reply"]
        hits.append(SearchHit(row["session_key"], int(row["id"]), float(row["started_at"]), _snippet(str(text), query)))
    return hits


@dataclass(slots=True)
class ToolUse:
    """One tool call in a stored turn: its name, arguments and (cut) result, for a collapsed view."""

    name: str
    args: str
    result: str = ""


@dataclass(slots=True)
class TurnExtras:
    """What a transcript shows beside a turn's text: the tools it used and the images the user sent."""

    tools: list[ToolUse] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # media digests


def _cut(text: str) -> str:
    return text if len(text) <= TOOL_TEXT_CHARS else text[:TOOL_TEXT_CHARS] + "…"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1, default=str)


def _read_part(part: dict[str, Any], extras: TurnExtras, calls: dict[str, ToolUse]) -> None:
    kind = part.get("part_kind")
    if kind == "tool-call":
        use = ToolUse(str(part.get("tool_name", "?")), _cut(_as_text(part.get("args") or {})))
        calls[str(part.get("tool_call_id", len(calls)))] = use
        extras.tools.append(use)
    elif kind == "tool-return" and (returned := calls.get(str(part.get("tool_call_id")))) is not None:
        returned.result = _cut(_as_text(part.get("content")))
    elif kind == "user-prompt" and isinstance(part.get("content"), list):
        for item in part["content"]:
            ref = str(item.get("identifier") or "") if isinstance(item, dict) else ""
            if ref.startswith(MEDIA_REF):
                extras.images.append(ref[len(MEDIA_REF) :])


def turn_extras(messages: bytes | None) -> TurnExtras:
    """Tool calls (with their results) and user images of one turn's stored messages; empty if unreadable."""
    extras = TurnExtras()
    try:
        data = json.loads(messages) if messages else []
    except ValueError:
        return extras
    calls: dict[str, ToolUse] = {}
    for message in data if isinstance(data, list) else []:
        for part in message.get("parts", []) if isinstance(message, dict) else []:
            if isinstance(part, dict):
                _read_part(part, extras, calls)
    return extras


async def extras_by_turn(store: Store, session_key: str) -> dict[int, TurnExtras]:
    async with store.conn.execute(
        "SELECT id, messages FROM turns WHERE session_key = ? AND messages IS NOT NULL", (session_key,)
    ) as cursor:
        rows = await cursor.fetchall()
    return {int(row["id"]): turn_extras(row["messages"]) for row in rows}


async def turn_extras_of(store: Store, turn_id: int) -> TurnExtras:
    async with store.conn.execute("SELECT messages FROM turns WHERE id = ?", (turn_id,)) as cursor:
        row = await cursor.fetchone()
    return turn_extras(row["messages"] if row else None)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass(frozen=True, slots=True)
class MediaLink:
    """How a page shows one produced file: our media route for local files, a link for URLs."""

    name: str
    url: str = ""
    image: bool = False
    external: bool = False


def media_link(described: str, media_dir: Path) -> MediaLink:
    """A stored attachment (`Attachment.describe()`: a path, a URL or `<image N bytes>`) as a link."""
    if described.startswith(("https://", "http://")):
        return MediaLink(described, described, external=True)
    path = Path(described)
    if path.is_absolute() and path.parent == media_dir:
        return MediaLink(path.name, f"/ui/media/{path.name}", image=path.suffix.lower() in IMAGE_SUFFIXES)
    return MediaLink(described)


def job_links(jobs: list[Job], media_dir: Path) -> dict[str, MediaLink]:
    """The result of each finished job kept on this machine (`result.path`), by job id."""
    links = {}
    for job in jobs:
        path = str((job.result or {}).get("path") or "")
        if path and (link := media_link(path, media_dir)).url:
            links[job.id] = link
    return links


def with_links(turns: list[dict[str, Any]], media_dir: Path) -> list[dict[str, Any]]:
    for turn in turns:
        turn["links"] = [media_link(str(item), media_dir) for item in turn.get("attachments", [])]
    return turns


async def sessions_on(store: Store, channel: str) -> list[SessionInfo]:
    return [info for info in await store.sessions.all() if info.channel == channel]
