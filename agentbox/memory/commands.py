"""The answers to `/memory` and `/forget ID|all`, the same in a chat and in the terminal.

Both act on the speaker's own memory only: the person's in a direct chat, the group's in a group.
Facts the owner set for everyone are shown, and only the owner (the terminal) can forget them.
"""

from __future__ import annotations

import re

from agentbox.memory.scopes import Speaker
from agentbox.memory.service import MemoryService
from agentbox.store.memory import Memory

LISTED = 50  # a chat message, not a database dump: the owner has `agentbox memory list` for the rest
OFF = "Long-term memory is off here."
USAGE = "Use /forget ID (the numbers /memory shows) or /forget all."
_ID = re.compile(r"#?(\d{1,18})")


def _line(memory: Memory) -> str:
    return f"#{memory.id} {memory.text}" + (" (pinned)" if memory.pinned else "")


async def memory_reply(service: MemoryService, speaker: Speaker) -> str:
    turn = await service.for_turn(speaker)
    if turn is None:
        return OFF
    home, shared = turn.scopes.home, turn.scopes.shared
    whose = "in this group" if home.kind == "chat" else "here" if home.kind == "agent" else "about you"
    mine = await service.repo.newest([home.key], limit=LISTED)
    lines = [f"What I remember {whose}:", *map(_line, mine)] if mine else [f"I don't remember anything {whose} yet."]
    if (total := await service.repo.count([home.key])) > len(mine):
        lines.append(f"(and {total - len(mine):,} older ones)")
    if shared != home and (everyone := await service.repo.newest([shared.key], limit=LISTED)):
        lines += ["", "Set by the owner for everyone:", *map(_line, everyone)]
    if mine:
        lines += ["", "Forget one with /forget ID, or everything here with /forget all."]
    return "\n".join(lines)


async def forget_reply(service: MemoryService, speaker: Speaker, argument: str) -> str:
    turn = await service.for_turn(speaker)
    if turn is None:
        return OFF
    words = argument.split()
    if [word.lower() for word in words] == ["all"]:
        gone = await service.repo.delete_scope(turn.scopes.home.key)
        return f"Forgot {gone} {'memory' if gone == 1 else 'memories'}." if gone else "There was nothing to forget."
    matches = [_ID.fullmatch(word) for word in words]
    if not words or not all(matches):
        return USAGE
    ids = [int(match.group(1)) for match in matches if match]
    writable = [scope.key for scope in turn.scopes.writable]
    gone = await service.repo.delete(ids, writable)
    if gone == len(set(ids)):
        return "Forgot " + ", ".join(f"#{memory_id}" for memory_id in dict.fromkeys(ids)) + "."
    return f"Forgot {gone} of {len(set(ids))}: the others are not memories you can change here (see /memory)."
