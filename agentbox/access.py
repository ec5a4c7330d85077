"""Who may talk to the agent: DM and group policy per channel, and pairing codes.

Approved senders are read from the database for every message, so `agentbox pairing
approve` (another process, same SQLite file) takes effect without a restart.
Import-light on purpose: the pairing CLI uses this module and must stay instant.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agentbox.config import ChannelConfig
from agentbox.messages import Inbound
from agentbox.store.pairing import AllowedSender, PairingRepo, PairingRequest

# No 0/O, 1/I: codes are read aloud and typed from a phone screen.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_TTL = 3600.0
MAX_PENDING = 3
REMIND_EVERY = 600.0  # a pending sender who writes again gets its code again at most this often

Verdict = Literal["allow", "pair", "ignore"]


@dataclass(frozen=True, slots=True)
class AccessDecision:
    verdict: Verdict
    reason: str  # for the inbox row and logs: "allowlisted", "group not mentioned", ...


class AccessPolicy:
    """Applies a channel's `dm_policy` / `group_policy` to one inbound message."""

    def __init__(self, pairing: PairingRepo) -> None:
        self._pairing = pairing

    async def check(self, inbound: Inbound, channel: ChannelConfig) -> AccessDecision:
        if inbound.bot_authored:
            return AccessDecision("ignore", "bot authored")
        if inbound.is_direct:
            return await self._direct(inbound, channel)
        return self._group(inbound, channel)

    async def _direct(self, inbound: Inbound, channel: ChannelConfig) -> AccessDecision:
        policy = channel.dm_policy
        if policy == "disabled":
            return AccessDecision("ignore", "direct messages disabled")
        if policy == "open":
            return AccessDecision("allow", "dm policy open")
        if inbound.sender_id in channel.allow_from:
            return AccessDecision("allow", "allow_from")
        # Senders approved by pairing stay allowed under `allowlist`: the owner vouched for them.
        if await self._pairing.is_allowed(inbound.channel, inbound.sender_id):
            return AccessDecision("allow", "approved")
        if policy == "allowlist":
            return AccessDecision("ignore", "not on the allowlist")
        return AccessDecision("pair", "unknown sender")

    @staticmethod
    def _group(inbound: Inbound, channel: ChannelConfig) -> AccessDecision:
        if channel.group_policy == "disabled":
            return AccessDecision("ignore", "groups disabled")
        if channel.groups is not None and inbound.chat_id not in channel.groups:
            return AccessDecision("ignore", "group not in the groups list")
        if channel.group_policy == "mention" and not inbound.mentioned:
            return AccessDecision("ignore", "group message without mention")
        return AccessDecision("allow", f"group policy {channel.group_policy}")


@dataclass(frozen=True, slots=True)
class PairingOutcome:
    """What to tell an unknown sender: a code (new or repeated), 'try later', or nothing."""

    code: str | None
    new: bool = False
    overflow: bool = False
    remind: bool = True  # False: this sender was told its code a moment ago; stay quiet


class PairingError(Exception):
    """Approve/revoke failed, phrased for the owner (CLI prints it and exits 1)."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    """Codes are case-insensitive on input; spaces and dashes people type are ignored."""
    return code.strip().replace(" ", "").replace("-", "").upper()


class PairingService:
    def __init__(self, repo: PairingRepo, *, clock: Callable[[], float] = time.time) -> None:
        self._repo = repo
        self._clock = clock
        self._reminded: dict[tuple[str, str], float] = {}  # in memory: a restart may remind once more

    async def request(
        self, channel: str, sender_id: str, *, sender_name: str = "", chat_id: str = ""
    ) -> PairingOutcome:
        """An unknown sender wrote: return its pending code, create one, or say we are full."""
        now = self._clock()
        await self._repo.delete_expired(now)
        existing = await self._repo.pending_for(channel, sender_id)
        key = (channel, sender_id)
        if existing is not None:
            last = self._reminded.get(key, 0.0)
            remind = now - last >= REMIND_EVERY
            if remind:
                self._reminded[key] = now
            return PairingOutcome(existing.code, remind=remind)
        if len(await self._repo.pending(channel, at=now)) >= MAX_PENDING:
            # Only a counter: storing every stranger who writes would let anyone fill the database.
            await self._repo.bump_overflow(channel)
            return PairingOutcome(None, overflow=True)
        request = PairingRequest(channel, sender_id, sender_name, chat_id, new_code(), now, now + CODE_TTL)
        if not await self._repo.add_request(request):  # lost a race with another message of the sender
            current = await self._repo.pending_for(channel, sender_id)
            return PairingOutcome(current.code if current else None, remind=False)
        self._reminded[key] = now
        self._reminded = {k: v for k, v in self._reminded.items() if now - v < CODE_TTL}
        return PairingOutcome(request.code, new=True)

    async def approve(self, channel: str, code: str) -> PairingRequest:
        normalized = normalize_code(code)
        request = await self._repo.by_code(channel, normalized)
        if request is None:
            raise PairingError(
                f"no pending pairing request with code {normalized} on {channel} (see `agentbox pairing list`)"
            )
        if request.expires_at <= self._clock():
            await self._repo.delete_request(channel, request.sender_id)
            raise PairingError(f"code {normalized} has expired; the sender gets a new code by messaging the bot again")
        await self._repo.allow(channel, request.sender_id, sender_name=request.sender_name, chat_id=request.chat_id)
        await self._repo.delete_request(channel, request.sender_id)
        return request

    async def revoke(self, channel: str, sender_id: str) -> None:
        if not await self._repo.revoke(channel, sender_id):
            raise PairingError(f"{channel} sender {sender_id} is not approved (see `agentbox pairing allowed`)")
        self._reminded.pop((channel, sender_id), None)

    async def pending(self, channel: str | None = None) -> list[PairingRequest]:
        return await self._repo.pending(channel, at=self._clock())

    async def allowed(self, channel: str | None = None) -> list[AllowedSender]:
        return await self._repo.allowed(channel)


def pairing_reply(channel: str, outcome: PairingOutcome) -> str | None:
    """The text for an unknown sender, or None to stay quiet."""
    if outcome.overflow:
        return "I can't take new pairing requests right now. Please try again later."
    if outcome.code is None or not outcome.remind:
        return None
    return (
        f"Hi! I don't know you yet, so I can't answer. Your pairing code is {outcome.code}.\n"
        f"Ask my owner to approve you by running:\n\n"
        f"agentbox pairing approve {channel} {outcome.code}\n\n"
        f"The code is valid for one hour."
    )


APPROVED_NOTICE = "You're approved: I can answer you now. Say hello!"
