"""`MemoryService`: remembering (de-duplicated, capped per scope), forgetting and linking over the store;
`TurnMemory`: one turn's view of it, bound to the scopes that turn may read and write."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from agentbox.config import Config, MemoryConfig
from agentbox.memory.model import MemoryInputError, Scope, ScopeKind, clean_text, fold, parse_identity
from agentbox.memory.query import content_words, overlap, search_words, selective_match
from agentbox.memory.recall import recall_block
from agentbox.memory.scopes import Speaker, TurnScopes, person_of, turn_scopes
from agentbox.store import Store
from agentbox.store.memory import Memory, NewMemory
from agentbox.store.transcripts import TranscriptFilter, TranscriptHit, TranscriptRepo

log = logging.getLogger(__name__)

NEAR_DUPLICATE = 0.8  # content-word overlap at which a new memory rewords an old one instead of adding
RECALLED = 12  # memories related to the message, at most, before the byte budget cuts
PINNED = 50

Outcome = Literal["added", "exists", "updated"]


async def search_turns(
    transcripts: TranscriptRepo, query: str, where: TranscriptFilter | None, *, limit: int
) -> list[TranscriptHit]:
    """Turns (in `where`'s sessions, or all) sharing words with a typed `query`, best first."""
    match = await selective_match(search_words(query), partial(transcripts.term_counts, where=where))
    return await transcripts.search(match, where, limit=limit)


@dataclass(frozen=True, slots=True)
class Remembered:
    """What `remember` did: the memory's id, whether it was new, and how many old ones the cap evicted."""

    memory_id: int
    outcome: Outcome
    evicted: int = 0


class MemoryService:
    """Long-term memory over the store: who a turn's memory belongs to, remembering with de-duplication
    and the per-scope cap, forgetting, and linking one person's sender ids across channels."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.repo = store.memory

    def settings(self, agent_id: str) -> MemoryConfig:
        return self.config.agent(agent_id).memory

    def cap_of(self, scope: Scope) -> int:
        """`max_items_per_scope` for the owner's additions: an agent's scope keeps to its agent's; a person's
        or a group's, read by every agent, to the largest (each agent's own turns keep to their own)."""
        if scope.kind == "agent":
            return self.settings(scope.name).max_items_per_scope
        return max(agent.memory.max_items_per_scope for agent in self.config.agents.values())

    async def for_turn(self, speaker: Speaker) -> TurnMemory | None:
        """The turn's memory, or None when the agent has memory off."""
        settings = self.settings(speaker.agent_id)
        if not settings.enabled:
            return None
        scopes = await turn_scopes(self.repo, speaker, settings)
        return TurnMemory(self, scopes, settings, speaker.session_key)

    async def remember(
        self,
        scope: Scope,
        text: str,
        *,
        cap: int,
        source: str = "tool",
        origin: str = "",
        session_key: str | None = None,
        pinned: bool = False,
        created_at: float | None = None,
        merge_similar: bool = True,
    ) -> Remembered:
        """Store a fact in `scope`: the same fact again refreshes it, a near-identical one rewords it."""
        text = clean_text(text)
        norm = fold(text)
        if (same := await self.repo.find(scope.key, norm)) is not None:
            await self.repo.touch(same.id, pinned=pinned)
            return Remembered(same.id, "exists")
        similar = await self._near_duplicate(scope, text) if merge_similar else None
        if similar is not None and not similar.pinned:
            if await self.repo.replace_text(similar.id, text, norm):
                return Remembered(similar.id, "updated")
        item = NewMemory(scope.key, text, norm, pinned, source, origin, session_key, created_at)
        memory_id = await self.repo.insert(item)
        if memory_id is None:  # the same fact arrived meanwhile (another turn, another process)
            found = await self.repo.find(scope.key, norm)
            return Remembered(found.id if found else 0, "exists")
        evicted = await self.repo.evict(scope.key, cap)
        if evicted:
            log.info("memory %s passed max_items_per_scope (%d): evicted the %d oldest unpinned", scope, cap, evicted)
        return Remembered(memory_id, "added", evicted)

    async def _near_duplicate(self, scope: Scope, text: str) -> Memory | None:
        match = await selective_match(content_words(text), partial(self.repo.term_counts, scopes=[scope.key]))
        if not match:
            return None
        candidates = await self.repo.search(match, [scope.key], limit=5)
        return next((c for c in candidates if overlap(c.text, text) >= NEAR_DUPLICATE), None)

    async def search(self, query: str, scopes: Sequence[Scope] | None, *, limit: int) -> list[Memory]:
        keys = [s.key for s in scopes] if scopes is not None else None
        match = await selective_match(search_words(query), partial(self.repo.term_counts, scopes=keys))
        if not match:
            return []
        return await self.repo.search(match, keys, limit=limit)

    async def sender_scope(self, channel: str, sender_id: str) -> Scope:
        """The scope of a sender's memories: their person's, when their ids are linked."""
        person, _ = await person_of(self.repo, parse_identity(f"{channel}:{sender_id}"))
        return Scope("sender", person)

    async def link(self, identities: Sequence[str]) -> str:
        """Make these sender ids one person (the first one's): their memories merge. Returns the person."""
        checked = [parse_identity(identity) for identity in identities]
        if len(set(checked)) < 2:
            raise MemoryInputError("link needs at least two different sender identities")
        async with self.repo.atomically():
            person, members = await person_of(self.repo, checked[0])
            joining = set(members)
            for identity in checked[1:]:
                other, other_members = await person_of(self.repo, identity)
                if other != person:
                    await self.repo.move(Scope("sender", other).key, Scope("sender", person).key)
                joining.update(other_members)
            await self.repo.set_person(sorted(joining), person)
        return person

    async def unlink(self, identity: str) -> int:
        """Detach a sender id from its person; the memories that came from it go back with it. How many moved."""
        identity = parse_identity(identity)
        async with self.repo.atomically():
            person, members = await person_of(self.repo, identity)
            if len(members) < 2:
                raise MemoryInputError(f"{identity} is not linked to anyone (see `agentbox memory links`)")
            rest = [member for member in members if member != identity]
            heir = person if person != identity else rest[0]  # unlinking the canonical id: the next one inherits
            await self.repo.remove_link(identity)
            if heir != person:
                await self.repo.move(Scope("sender", person).key, Scope("sender", heir).key)
            moved = await self.repo.move(Scope("sender", heir).key, Scope("sender", identity).key, origins=[identity])
            if len(rest) == 1:
                await self.repo.remove_link(rest[0])  # one id alone is no link
            else:
                await self.repo.set_person(rest, heir)
        return moved


@dataclass(slots=True)
class TurnMemory:
    """One turn's memory: the scopes it reads and writes, for the tools (`deps.memory`) and the runner."""

    service: MemoryService
    scopes: TurnScopes
    settings: MemoryConfig
    session_key: str

    async def remember(self, text: str, kind: ScopeKind | None = None, *, source: str = "tool") -> Remembered:
        scope = self.scopes.writable_as(kind)
        if scope is None:
            allowed = ", ".join(sorted({s.kind for s in self.scopes.writable}))
            raise MemoryInputError(f"this conversation can remember to: {allowed} (leave scope unset for the default)")
        return await self.service.remember(
            scope,
            text,
            cap=self.settings.max_items_per_scope,
            source=source,
            origin=self.scopes.origin,
            session_key=self.session_key,
        )

    async def keep_facts(self, facts: Sequence[str]) -> int:
        """Store facts a compaction summary extracted; how many were new. A bad one is skipped, not fatal."""
        added = 0
        for fact in facts:
            try:
                added += (await self.remember(fact, source="compaction")).outcome == "added"
            except MemoryInputError as exc:
                log.info("a fact from compaction was not kept: %s", exc)
        return added

    async def forget(self, memory_id: int) -> bool:
        return await self.service.repo.delete([memory_id], [s.key for s in self.scopes.writable]) > 0

    async def search(self, query: str, *, limit: int = 8) -> tuple[list[Memory], list[TranscriptHit]]:
        """Memories this turn may read, and turns of its own conversations, matching `query`."""
        memories = await self.service.search(query, self.scopes.readable, limit=limit)
        hits = await search_turns(self.service.store.transcripts, query, self.scopes.transcripts, limit=limit)
        return memories, hits

    async def recall_block(self, message: str) -> str:
        """The instructions block for this turn: pinned memories, then those sharing words with `message`."""
        budget = self.settings.recall_budget
        if budget <= 0:
            return ""
        scopes = [scope.key for scope in self.scopes.readable]
        repo = self.service.repo
        recalled = await repo.pinned(scopes, limit=PINNED)
        if match := await selective_match(content_words(message), partial(repo.term_counts, scopes=scopes)):
            recalled += await repo.search(match, scopes, limit=RECALLED)
        return recall_block(recalled, budget)
