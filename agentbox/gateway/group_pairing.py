"""Pairing for groups: an unknown group gets one code, hinted once; the owner opens it with that code.

A group is opened to everyone in it by `agentbox pairing approve-group CHANNEL CODE_OR_ID`
(or listed in the channel's `groups`). The hint is posted the first time a stranger addresses
the bot there and never again, across restarts: the request row is the record. Import-light
on purpose: the pairing CLI uses this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from agentbox.gateway.access import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_TTL,
    MAX_PENDING,
    PairingError,
    new_code,
    normalize_code,
)
from agentbox.store.groups import AllowedGroup, GroupRepo, GroupRequest
from agentbox.store.pairing import PairingRepo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    """`hint`: the group's first unknown sender; post the code. Otherwise stay quiet."""

    code: str | None
    hint: bool = False


@dataclass(frozen=True, slots=True)
class GroupApproval:
    """A group just opened by `approve-group`: its id and name, and whether it was open already."""

    group_id: str
    group_name: str
    already: bool  # the group was open before


def looks_like_code(text: str) -> bool:
    normalized = normalize_code(text)
    return len(normalized) == CODE_LENGTH and set(normalized) <= set(CODE_ALPHABET)


class GroupPairing:
    """Opens groups to everyone in them: gives an unknown group one code (hinted once, ever), and lets
    the owner approve a group by that code or its id, or revoke it. State is the SQLite group tables.
    """

    def __init__(self, groups: GroupRepo, pairing: PairingRepo, *, clock: Callable[[], float] = time.time) -> None:
        self._groups = groups
        self._pairing = pairing
        self._clock = clock

    async def request(self, channel: str, group_id: str, *, group_name: str = "") -> GroupOutcome:
        """A stranger addressed the bot in a group nobody opened: a code the first time, then silence."""
        existing = await self._groups.request_for(channel, group_id)
        if existing is not None:
            return GroupOutcome(existing.code)
        now = self._clock()
        request = GroupRequest(channel, group_id, group_name, new_code(), now, now + CODE_TTL)
        if await self._groups.add_request(request, max_pending=MAX_PENDING):
            log.info("pairing: %s group %s (%s) asked to be opened", channel, group_id, group_name or "no name")
            return GroupOutcome(request.code, hint=True)
        if await self._groups.request_for(channel, group_id) is None:  # else: lost a race within the group
            await self._pairing.count_refusal(channel, "groups full")
        return GroupOutcome(None)

    async def approve(self, channel: str, code_or_id: str) -> GroupApproval:
        """Open a group by the code it was given (expired codes too: the hint is never repeated) or by its id."""
        if looks_like_code(code_or_id):
            code = normalize_code(code_or_id)
            request = await self._groups.by_code(channel, code)
            if request is None:
                raise PairingError(
                    f"no group pairing request with code {code} on {channel} (see `agentbox pairing list`)"
                )
            group_id, name = request.group_id, request.group_name
        else:
            group_id = code_or_id.strip()
            if not group_id:
                raise PairingError("give the group's code or its chat id")
            asked = await self._groups.request_for(channel, group_id)
            name = asked.group_name if asked else ""
        newly = await self._groups.allow(channel, group_id, group_name=name)
        return GroupApproval(group_id, name, already=not newly)

    async def move(self, channel: str, old_id: str, new_id: str, *, group_name: str = "") -> bool:
        """The group's chat id changed (a Telegram group became a supergroup): its approval and code follow.

        True if an approval moved. A group that was never opened stays closed; a group already
        hinted is not hinted again, and its code opens the new id.
        """
        moved = await self._groups.move(channel, old_id, new_id, group_name=group_name)
        if moved:
            log.info("pairing: %s group %s is now %s; it stays open", channel, old_id, new_id)
        return moved

    async def revoke(self, channel: str, group_id: str) -> None:
        if not await self._groups.revoke(channel, group_id.strip()):
            raise PairingError(
                f"{channel} group {group_id} was not approved with approve-group (see `agentbox pairing allowed`)"
            )

    async def requests(self, channel: str | None = None) -> list[GroupRequest]:
        return await self._groups.requests(channel)

    async def allowed(self, channel: str | None = None) -> list[AllowedGroup]:
        return await self._groups.allowed(channel)


def group_hint(channel: str, code: str, *, dm_pairing: bool) -> str:
    """The one message an unknown group gets."""
    text = (
        "I only answer people my owner has approved. To let everyone here talk to me, "
        f"my owner can run: agentbox pairing approve-group {channel} {code}"
    )
    if dm_pairing:
        text += "\nOr message me directly to get your own pairing code."
    return text
