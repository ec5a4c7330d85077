"""Who may talk to the agent: DM and group policy per channel, and pairing codes.

Approved senders are read from the database for every message, so `agentbox pairing
approve` (another process, same SQLite file) takes effect without a restart.
Import-light on purpose: the pairing CLI uses this module and must stay instant.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agentbox.config import ChannelConfig
from agentbox.errors import AgentboxError
from agentbox.messages import Inbound
from agentbox.store.groups import GroupRepo
from agentbox.store.pairing import AllowedSender, PairingRepo, PairingRequest

# No 0/O, 1/I: codes are read aloud and typed from a phone screen.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_TTL = 3600.0
MAX_PENDING = 3
REMIND_EVERY = 600.0  # a pending sender who writes again gets its code again at most this often
# After a code expires unapproved, its sender gets no new one for this long: otherwise three
# accounts re-asking every hour could hold every pending slot forever.
EXPIRED_COOLDOWN = 6 * 3600.0
ANY_GROUP = "*"  # in a channel's `groups`: every group is open to everyone in it

Verdict = Literal["allow", "pair", "pair_group", "ignore"]


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """The policy's verdict on one inbound message, with the reason recorded in the inbox row and logs."""

    verdict: Verdict
    reason: str  # for the inbox row and logs: "allowlisted", "group not mentioned", ...
    notify: bool = False  # an approved sender not yet told "you're approved": tell them first


def group_ids(inbound: Inbound) -> tuple[str, ...]:
    """The ids an approval of this message's group may name: the group (a Discord server), then the chat."""
    return tuple(dict.fromkeys(i for i in (inbound.group_id, inbound.chat_id) if i))


class AccessPolicy:
    """Applies a channel's `dm_policy` / `group_policy` to one inbound message.

    In a group the bot answers senders who may DM it (allow_from, approved, or `dm_policy =
    "open"`), and everyone in a group the owner opened (`groups` or `agentbox pairing
    approve-group`). Anyone else there gets "pair_group": no model call, at most one hint per group.
    """

    def __init__(self, pairing: PairingRepo, groups: GroupRepo) -> None:
        self._pairing = pairing
        self._groups = groups
        # (channel, group id): a group opened in config whose id changed; open until a restart.
        self._open_for_run: set[tuple[str, str]] = set()

    def open_for_run(self, channel: str, group_id: str) -> bool:
        """Treat the group as listed in `groups` until the gateway stops; False if it already was."""
        if (channel, group_id) in self._open_for_run:
            return False
        self._open_for_run.add((channel, group_id))
        return True

    async def check(self, inbound: Inbound, channel: ChannelConfig) -> AccessDecision:
        if inbound.bot_authored:
            return AccessDecision("ignore", "bot authored")
        if inbound.is_direct:
            return await self._direct(inbound, channel)
        return await self._group(inbound, channel)

    async def _direct(self, inbound: Inbound, channel: ChannelConfig) -> AccessDecision:
        if channel.dm_policy == "disabled":
            return AccessDecision("ignore", "direct messages disabled")
        if (known := await self._known_sender(inbound, channel)) is not None:
            return known
        if channel.dm_policy == "allowlist":
            return AccessDecision("ignore", "not on the allowlist")
        return AccessDecision("pair", "unknown sender")

    async def _known_sender(self, inbound: Inbound, channel: ChannelConfig) -> AccessDecision | None:
        """Allowed whoever they write to: `dm_policy = "open"`, allow_from, or approved by pairing."""
        if channel.dm_policy == "open":
            return AccessDecision("allow", "dm policy open")
        if inbound.sender_id in channel.allow_from:
            return AccessDecision("allow", "allow_from")
        # Senders approved by pairing stay allowed under `allowlist`: the owner vouched for them.
        approval = await self._pairing.approval(inbound.channel, inbound.sender_id)
        if approval is not None:
            return AccessDecision("allow", "approved", notify=not approval.notified and bool(approval.chat_id))
        return None

    async def _group(self, inbound: Inbound, channel: ChannelConfig) -> AccessDecision:
        if channel.group_policy == "disabled":
            return AccessDecision("ignore", "groups disabled")
        if channel.group_policy == "mention" and not inbound.mentioned:
            return AccessDecision("ignore", "group message without mention")
        if (known := await self._known_sender(inbound, channel)) is not None:
            return known
        ids = group_ids(inbound)
        if self._in_groups_list(inbound.channel, ids, channel):
            return AccessDecision("allow", "group in the groups list")
        if await self._groups.any_allowed(inbound.channel, ids):
            return AccessDecision("allow", "group approved")
        return AccessDecision("pair_group", "unknown sender in a group not allowed")

    def _in_groups_list(self, channel_name: str, ids: tuple[str, ...], channel: ChannelConfig) -> bool:
        if ANY_GROUP in channel.groups or any(i in channel.groups for i in ids):
            return True
        return any((channel_name, i) in self._open_for_run for i in ids)


@dataclass(frozen=True, slots=True)
class PairingOutcome:
    """What to tell an unknown sender: a code (new or repeated), 'try later', or nothing."""

    code: str | None
    new: bool = False
    overflow: bool = False
    remind: bool = True  # False: this sender was told a moment ago; stay quiet
    retry_in: float | None = None  # set: the sender's code expired; seconds until they may ask again


class PairingError(AgentboxError):
    """Approve/revoke failed, phrased for the owner (CLI prints it and exits 1)."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    """Codes are case-insensitive on input; spaces and dashes people type are ignored."""
    return code.strip().replace(" ", "").replace("-", "").upper()


def in_hours(seconds: float) -> str:
    """`in about 5 hours`, rounded up: for people, not for timers."""
    hours = max(1, math.ceil(seconds / 3600))
    return f"in about {hours} hour{'s' if hours > 1 else ''}"


class PairingService:
    """Pairing codes for unknown senders: issues one per sender (at most MAX_PENDING pending per
    channel, each valid CODE_TTL), repeats it at most every REMIND_EVERY, and lets the owner approve
    a code or revoke a sender. Rows live in SQLite, so the CLI and the gateway see the same state.
    """

    def __init__(self, repo: PairingRepo, *, clock: Callable[[], float] = time.time) -> None:
        self._repo = repo
        self._clock = clock
        self._reminded: dict[tuple[str, str], float] = {}  # in memory: a restart may remind once more

    async def request(
        self, channel: str, sender_id: str, *, sender_name: str = "", chat_id: str = ""
    ) -> PairingOutcome:
        """An unknown sender wrote: return its pending code, create one, or say we are full or cooling down."""
        now = self._clock()
        await self._repo.delete_expired(now, keep_for=EXPIRED_COOLDOWN)
        key = (channel, sender_id)
        existing = await self._repo.pending_for(channel, sender_id)
        if existing is None:
            request = PairingRequest(channel, sender_id, sender_name, chat_id, new_code(), now, now + CODE_TTL)
            if await self._repo.add_request(request, max_pending=MAX_PENDING):
                self._remind(key, now)
                return PairingOutcome(request.code, new=True)
            current = await self._repo.pending_for(channel, sender_id)
            if current is not None:  # lost a race with another message of the same sender
                return PairingOutcome(current.code, remind=False)
            await self._repo.count_refusal(channel, "full")
            return PairingOutcome(None, overflow=True, remind=self._remind(key, now))
        if existing.expires_at <= now:
            await self._repo.count_refusal(channel, "cooldown")
            retry_in = existing.expires_at + EXPIRED_COOLDOWN - now
            return PairingOutcome(None, remind=self._remind(key, now), retry_in=retry_in)
        return PairingOutcome(existing.code, remind=self._remind(key, now))

    def _remind(self, key: tuple[str, str], now: float) -> bool:
        """True at most every REMIND_EVERY per sender: a stranger who keeps writing gets one answer, not one each."""
        if now - self._reminded.get(key, -math.inf) < REMIND_EVERY:
            return False
        self._reminded[key] = now
        if len(self._reminded) > 1000:
            self._reminded = {k: v for k, v in self._reminded.items() if now - v < REMIND_EVERY}
        return True

    async def approve(self, channel: str, code: str) -> PairingRequest:
        normalized = normalize_code(code)
        request = await self._repo.by_code(channel, normalized)
        if request is None:
            raise PairingError(
                f"no pending pairing request with code {normalized} on {channel} (see `agentbox pairing list`)"
            )
        now = self._clock()
        if request.expires_at <= now:
            # The row stays: it is the sender's cooldown.
            raise PairingError(
                f"code {normalized} has expired; the sender can ask for a new code"
                f" {in_hours(request.expires_at + EXPIRED_COOLDOWN - now)}"
                f" (or add {request.sender_id} to allow_from under [channels.{channel}])"
            )
        await self._repo.allow(channel, request.sender_id, sender_name=request.sender_name, chat_id=request.chat_id)
        await self._repo.delete_request(channel, request.sender_id)
        return request

    async def deny(self, channel: str, code: str) -> PairingRequest:
        """Refuse the sender who got `code`: the code stops working and they get no new one for EXPIRED_COOLDOWN."""
        normalized = normalize_code(code)
        request = await self._repo.by_code(channel, normalized)
        if request is None or not await self._repo.expire_request(channel, request.sender_id, self._clock()):
            raise PairingError(
                f"no pending pairing request with code {normalized} on {channel} (see `agentbox pairing list`)"
            )
        return request

    async def revoke(self, channel: str, sender_id: str) -> None:
        if not await self._repo.revoke(channel, sender_id):
            raise PairingError(f"{channel} sender {sender_id} is not approved (see `agentbox pairing allowed`)")
        self._reminded.pop((channel, sender_id), None)

    async def pending(self, channel: str | None = None) -> list[PairingRequest]:
        return await self._repo.pending(channel, at=self._clock())

    async def allowed(self, channel: str | None = None) -> list[AllowedSender]:
        return await self._repo.allowed(channel)

    async def refusals(self, channel: str | None = None) -> dict[str, dict[str, int]]:
        return await self._repo.refusals(channel)


def pairing_reply(channel: str, outcome: PairingOutcome) -> str | None:
    """The text for an unknown sender, or None to stay quiet."""
    if not outcome.remind:
        return None
    if outcome.overflow:
        return "I can't take new pairing requests right now. Please try again later."
    if outcome.retry_in is not None:
        return (
            "Your pairing code expired before my owner approved it. "
            f"You can ask for a new one {in_hours(outcome.retry_in)}."
        )
    if outcome.code is None:
        return None
    return (
        f"Hi! I don't know you yet, so I can't answer. Your pairing code is {outcome.code}.\n"
        f"Ask my owner to approve you by running:\n\n"
        f"agentbox pairing approve {channel} {outcome.code}\n\n"
        f"The code is valid for one hour."
    )
