"""Which memories one turn may read and write, and whose past conversations `recall` may search.

In a direct conversation the person's own scope (`sender:<identity>`, where linked identities share
one canonical identity); in a group, the group's (`chat:<channel>:<chat id>`). A person's memories
never reach a group and a group's never reach a DM. Every turn also reads the agent's scope
(`agent:<name>`: facts the owner set for everyone), which only the owner may write. The terminal
user is the owner, identity `cli:owner`, in every `cli` session, and so is the web panel's user
(the panel is owner-only) in every `web` session. An API request is always one caller's: the API
key (or the gateway token) and the `user` it names, identity `api:<caller>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentbox.config import MemoryConfig
from agentbox.memory.model import OWNER, Scope, ScopeKind
from agentbox.store.memory import MemoryRepo
from agentbox.store.transcripts import TranscriptFilter

API = "api"  # the OpenAI-compatible API's channel: its `chat_id` names the caller (agentbox.api.service)
OWNER_CHANNELS = ("cli", "web")  # the terminal and the web panel (agentbox.web: only the owner logs in)


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who is talking, where: what deciding a turn's scopes needs (from a `TurnRequest` or an `Inbound`)."""

    agent_id: str
    channel: str  # `cli` for the terminal, `web` for the web panel
    session_key: str
    sender_id: str | None = None
    chat_id: str = ""

    @property
    def is_owner(self) -> bool:
        return self.channel in OWNER_CHANNELS

    @property
    def identity(self) -> str | None:
        """`telegram:123`; the terminal's and the web panel's user is `cli:owner`."""
        if self.is_owner:
            return OWNER
        if self.channel == API:  # a key's users share its sender id (its spending cap), not its memory
            return f"{API}:{self.chat_id}" if self.chat_id else None
        return f"{self.channel}:{self.sender_id}" if self.sender_id else None

    @property
    def is_direct(self) -> bool:
        # The gateway's DM session key (agentbox.gateway.routing): one per sender, never a group's.
        return (
            self.is_owner
            or (self.channel == API and bool(self.chat_id))
            or (self.sender_id is not None and self.session_key == f"{self.channel}:dm:{self.sender_id}")
        )


@dataclass(frozen=True, slots=True)
class TurnScopes:
    """One turn's memory: `home` (read, and written by default), `shared` (the agent's, read by all),
    what it may write, and the sessions whose transcripts it may search."""

    home: Scope
    shared: Scope
    writable: tuple[Scope, ...]
    transcripts: TranscriptFilter
    origin: str  # the sender identity memories written in this turn come from

    @property
    def readable(self) -> tuple[Scope, ...]:
        return tuple(dict.fromkeys((self.home, self.shared)))

    def writable_as(self, kind: ScopeKind | None) -> Scope | None:
        """The scope `remember(scope=kind)` writes to; None if this turn may not write there."""
        if kind is None:
            return self.home
        return next((scope for scope in self.writable if scope.kind == kind), None)


async def person_of(repo: MemoryRepo, identity: str) -> tuple[str, list[str]]:
    """The canonical identity of whoever `identity` is, and every identity linked to them."""
    person = await repo.person_of(identity) or identity
    return person, await repo.members(person) or [identity]


def person_transcripts(identities: list[str], current: str | None = None) -> TranscriptFilter:
    """A person's own conversations: their DM session on each linked channel (the owner: every `cli` and `web` one),
    and the one they are in (an API caller's session is named by the caller, not `<channel>:dm:<id>`)."""
    keys = tuple(f"{channel}:dm:{sender}" for channel, _, sender in (i.partition(":") for i in identities))
    if current is not None:
        keys = tuple(dict.fromkeys((*keys, current)))
    return TranscriptFilter(session_keys=keys, channels=OWNER_CHANNELS if OWNER in identities else ())


async def turn_scopes(repo: MemoryRepo, speaker: Speaker, settings: MemoryConfig) -> TurnScopes:
    identity = speaker.identity
    shared = Scope("agent", speaker.agent_id)
    if speaker.is_direct and identity is not None:
        person, identities = await person_of(repo, identity)
        conversation = Scope("sender", person)
        transcripts = person_transcripts(identities, current=speaker.session_key)
    else:
        chat_id = speaker.chat_id or speaker.session_key
        conversation = Scope("chat", f"{speaker.channel}:{chat_id}")
        group = f"{speaker.channel}:group:{chat_id}"
        transcripts = TranscriptFilter(
            session_keys=tuple(dict.fromkeys((speaker.session_key, group))), key_prefixes=(f"{group}:thread:",)
        )
    home = conversation
    if settings.scope == "agent":
        home = shared
    elif settings.scope == "chat" and not speaker.is_owner and speaker.chat_id:
        home = Scope("chat", f"{speaker.channel}:{speaker.chat_id}")
    writable = (home, shared) if speaker.is_owner and home != shared else (home,)
    return TurnScopes(home, shared, writable, transcripts, origin=identity or "")
