"""Memories in and out: JSON objects, and Markdown like OpenClaw's MEMORY.md so people can bring their notes.

Export writes one `## <scope>` heading per scope and one bullet per memory, its id, date and pin
in a trailing HTML comment; import reads that back exactly. A foreign MEMORY.md works too: its
headings that are not scopes become context ("Communication Style: Prefers concise answers"),
and its memories go to the scope given on the command line. A file is checked whole before
anything is stored: a bad line stops the import with its line number, and nothing is half-done.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentbox.memory.model import MAX_TEXT, MemoryInputError, Scope, clean_text
from agentbox.memory.service import MemoryService
from agentbox.store.memory import Memory

_META = "<!-- agentbox:"
_META_FIELD = re.compile(r"(\w+)(?:=(\S+))?")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_COMMENT_ONLY = re.compile(r"^\s*<!--.*-->\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: str | float | None) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MemoryInputError(f"{value!r} is not a date and time (write it like 2026-01-31T09:00:00Z)") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def memory_json(memory: Memory) -> dict[str, Any]:
    """The JSON object `agentbox memory list/search/export --json` print, and `import` reads."""
    return {
        "id": memory.id,
        "scope": memory.scope,
        "text": memory.text,
        "created_at": iso(memory.created_at),
        "updated_at": iso(memory.updated_at),
        "pinned": memory.pinned,
        "source": memory.source,
        "origin": memory.origin,
    }


def export_markdown(memories: Iterable[Memory], *, now: float) -> str:
    by_scope: dict[str, list[Memory]] = {}
    for memory in sorted(memories, key=lambda m: (m.scope, m.created_at, m.id)):
        by_scope.setdefault(memory.scope, []).append(memory)
    lines = ["# Memory", "", f"<!-- exported by agentbox on {iso(now)}; `agentbox memory import` reads it back -->"]
    for scope, items in by_scope.items():
        lines += ["", f"## {scope}", ""]
        for memory in items:
            meta = f"id={memory.id} created={iso(memory.created_at)}" + (" pinned" if memory.pinned else "")
            lines.append(f"- {memory.text} {_META} {meta} -->")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Imported:
    """One memory read from a file, checked, not stored yet."""

    scope: Scope
    text: str
    created_at: float | None = None
    pinned: bool = False
    source: str = "import"
    origin: str = ""


class _JsonMemory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scope: str
    text: str = Field(min_length=1)
    created_at: str | float | None = None
    pinned: bool = False
    source: str = "import"
    origin: str = ""


def parse_json(text: str) -> list[Imported]:
    """A JSON list of memory objects (what `export --format json` writes)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MemoryInputError(f"not JSON: {exc}") from None
    if not isinstance(data, list):
        raise MemoryInputError("expected a JSON list of memory objects (as `agentbox memory export --format json`)")
    items: list[Imported] = []
    for index, raw in enumerate(data):
        try:
            item = _JsonMemory.model_validate(raw)
            scope = Scope.parse(item.scope)
            created = parse_time(item.created_at)
            items.append(Imported(scope, clean_text(item.text), created, item.pinned, item.source, item.origin))
        except (ValidationError, MemoryInputError) as exc:
            problem = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise MemoryInputError(f"item {index}: {problem}") from None
    return items


@dataclass(slots=True)
class _Reader:
    """Markdown import state: the scope and the heading context in force at the current line."""

    default: Scope | None
    scope: Scope | None = None
    context: str = ""

    def heading(self, level: int, title: str) -> None:
        if level == 1:
            return  # the file's title
        try:
            self.scope, self.context = Scope.parse(title), ""
        except MemoryInputError:
            if level == 2:
                self.scope = None
            self.context = title

    def item(self, number: int, text: str) -> list[Imported]:
        scope = self.scope or self.default
        if scope is None:
            raise MemoryInputError(
                f"line {number}: no scope for this memory: put it under a heading such as "
                "`## sender:telegram:123`, or name one (--channel and --sender, --agent or --scope)"
            )
        body, meta = _split_meta(text)
        if self.context:
            body = f"{self.context}: {body}"
        return [
            Imported(scope, part, parse_time(meta.get("created")), "pinned" in meta)
            for part in _sentences(" ".join(body.split()))
        ]


def _split_meta(text: str) -> tuple[str, dict[str, str]]:
    body, marker, rest = text.rpartition(_META)
    if not marker or not rest.rstrip().endswith("-->"):
        return text, {}
    fields = {m.group(1): m.group(2) or "" for m in _META_FIELD.finditer(rest.rstrip().removesuffix("-->"))}
    return body.rstrip(), fields


def _sentences(text: str) -> list[str]:
    """A paragraph as memories of at most MAX_TEXT characters, cut between sentences (or words)."""
    if len(text) <= MAX_TEXT:
        return [text] if text else []
    pieces = [run for sentence in _SENTENCE_END.split(text) for run in textwrap.wrap(sentence, MAX_TEXT)]
    parts: list[str] = []
    for piece in pieces:
        if parts and len(parts[-1]) + 1 + len(piece) <= MAX_TEXT:
            parts[-1] += " " + piece
        else:
            parts.append(piece)
    return parts


def parse_markdown(text: str, default: Scope | None) -> list[Imported]:
    """Memories from Markdown: one per bullet, or per paragraph of plain lines."""
    reader = _Reader(default)
    items: list[Imported] = []
    paragraph: list[str] = []
    start = 0

    def flush() -> None:
        if paragraph:
            items.extend(reader.item(start, " ".join(paragraph)))
            paragraph.clear()

    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or not line.strip() or _COMMENT_ONLY.match(line):
            flush()
            continue
        if heading := _HEADING.match(line):
            flush()
            reader.heading(len(heading.group(1)), heading.group(2))
        elif bullet := _BULLET.match(line):
            flush()
            items.extend(reader.item(number, bullet.group(1)))
        else:
            if not paragraph:
                start = number
            paragraph.append(line.strip())
    flush()
    return items


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: memories added, already there, reworded, and evicted by the per-scope cap."""

    added: int
    existing: int
    updated: int
    evicted: int

    def describe(self) -> str:
        return (
            f"Imported {self.added:,} new memories ({self.existing:,} were already there, "
            f"{self.updated:,} reworded an existing one)"
            + (f"; {self.evicted:,} old ones were evicted by max_items_per_scope." if self.evicted else ".")
        )


async def store_imported(service: MemoryService, items: Sequence[Imported]) -> ImportReport:
    """Store imported memories, each scope keeping to its own cap (`MemoryService.cap_of`)."""
    outcomes: Counter[str] = Counter()
    evicted = 0
    for item in items:
        scope, origin = item.scope, item.origin
        if scope.kind == "sender":  # a sender id linked to a person since the export: the person's memory
            origin = origin or scope.name
            scope = await service.sender_scope(*scope.name.split(":", 1))
        done = await service.remember(
            scope,
            item.text,
            cap=service.cap_of(scope),
            source=item.source,
            origin=origin,
            pinned=item.pinned,
            created_at=item.created_at,
            merge_similar=False,  # a restore keeps every memory as it was written
        )
        outcomes[done.outcome] += 1
        evicted += done.evicted
    return ImportReport(outcomes["added"], outcomes["exists"], outcomes["updated"], evicted)
