"""Search over past conversations and memories, for `agentbox sessions search`, `agentbox memory search`
and the web panel: `search_transcripts(store, query, scope=..., session_key=..., limit=...)`.

A query matches turns sharing any of its content words (SQLite FTS5, porter stemming, bm25
ranking: turns sharing more and rarer words first). Snippets mark matched words with « ».
"""

from __future__ import annotations

from typing import Any

from agentbox.memory.model import Scope
from agentbox.memory.scopes import person_of, person_transcripts
from agentbox.memory.service import search_turns
from agentbox.memory.transfer import iso
from agentbox.store import Store
from agentbox.store.transcripts import TranscriptFilter, TranscriptHit, marked


async def transcript_filter(store: Store, scope: Scope) -> TranscriptFilter:
    """The conversations a scope owns: a person's DMs (on every linked id), a group's sessions, an agent's."""
    if scope.kind == "sender":
        _, identities = await person_of(store.memory, scope.name)
        return person_transcripts(identities)
    if scope.kind == "chat":
        channel, _, chat_id = scope.name.partition(":")
        group = f"{channel}:group:{chat_id}"
        return TranscriptFilter(session_keys=(group,), key_prefixes=(f"{group}:thread:",))
    return TranscriptFilter(agents=(scope.name,))


async def search_transcripts(
    store: Store,
    query: str,
    *,
    scope: Scope | str | None = None,
    session_key: str | None = None,
    limit: int = 20,
) -> list[TranscriptHit]:
    """Turns whose user text or reply share words with `query`, best first: within `scope`'s
    conversations, or one session, or (neither given) across every transcript."""
    if scope is not None and session_key is not None:
        raise ValueError("search one scope's conversations or one session, not both")
    where: TranscriptFilter | None = None
    if scope is not None:
        where = await transcript_filter(store, Scope.parse(scope) if isinstance(scope, str) else scope)
    elif session_key is not None:
        where = TranscriptFilter(session_keys=(session_key,))
    return await search_turns(store.transcripts, query, where, limit=limit)


def hit_json(hit: TranscriptHit) -> dict[str, Any]:
    """A hit as `agentbox sessions search --json` prints it."""
    return {
        "turn_id": hit.turn_id,
        "session": hit.session_key,
        "channel": hit.channel,
        "started_at": iso(hit.started_at),
        "status": hit.status,
        "user": marked(hit.user_snippet),
        "reply": marked(hit.reply_snippet),
    }
