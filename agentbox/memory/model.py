"""What a memory scope and a sender identity are, and the rules a memory's text follows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast, get_args

from agentbox.errors import AgentboxError

ScopeKind = Literal["sender", "chat", "agent"]
SCOPE_KINDS: tuple[ScopeKind, ...] = get_args(ScopeKind)
OWNER = "cli:owner"  # the person at the local terminal: every `cli` session is theirs
MAX_TEXT = 500  # characters: a memory is one sentence, not a document
_CHANNEL = re.compile(r"[a-z0-9_-]{1,40}")
_WORD = re.compile(r"\w+")


class MemoryInputError(AgentboxError, ValueError):
    """A memory text, scope, identity or import file that cannot be used; the message says why (exit 2)."""

    exit_code = 2


def parse_identity(value: str) -> str:
    """`telegram:123` → itself, checked: a channel name, a colon, a sender id with no spaces."""
    channel, sep, sender = value.strip().partition(":")
    channel = channel.lower()
    if not sep or not _CHANNEL.fullmatch(channel) or not sender or any(ch.isspace() for ch in sender):
        raise MemoryInputError(
            f"{value!r} is not a sender identity: write CHANNEL:SENDER_ID, e.g. telegram:123456 or slack:U0123ABC"
        )
    return f"{channel}:{sender}"


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """Whose memory: a person (`sender:telegram:123`), a group chat (`chat:telegram:-100777`) or an
    agent's facts for everyone (`agent:main`)."""

    kind: ScopeKind
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        return self.key

    @classmethod
    def parse(cls, key: str) -> Scope:
        kind, _, name = key.strip().partition(":")
        if kind not in SCOPE_KINDS or not name:
            raise MemoryInputError(
                f"{key!r} is not a memory scope: write sender:CHANNEL:ID, chat:CHANNEL:ID or agent:NAME"
            )
        if kind != "agent":
            name = parse_identity(name)
        return cls(cast(ScopeKind, kind), name)


def clean_text(text: str) -> str:
    """The text as stored: one line, spaces collapsed; empty or over `MAX_TEXT` characters is refused."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise MemoryInputError("a memory needs some text")
    if len(cleaned) > MAX_TEXT:
        raise MemoryInputError(
            f"a memory is one short sentence (at most {MAX_TEXT} characters; this has {len(cleaned):,})"
        )
    return cleaned


def fold(text: str) -> str:
    """The text folded for de-duplication: letter case, punctuation and spacing don't count."""
    words = _WORD.findall(text.casefold())
    return " ".join(words) if words else " ".join(text.casefold().split())
