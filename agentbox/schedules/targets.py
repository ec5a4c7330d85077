"""`--to CHANNEL:CHAT[:THREAD]` → a `Target`: which session a schedule made from the CLI belongs to.

A chat the gateway has seen keeps its session (and so its history). A chat it has not seen yet is
taken as a direct chat whose id is the person's id (a Telegram DM: the chat id is the sender id),
except a Telegram chat with a negative id or any chat with a thread, which are groups. `cli:NAME`
is the terminal session `NAME` as `agentbox chat --session cli:NAME` uses it (`cli:default` is the
one `agentbox chat` uses by default); a task there is run into its history.
"""

from __future__ import annotations

from agentbox.channels import CHANNEL_NAMES
from agentbox.config import Config
from agentbox.gateway.routing import agent_for
from agentbox.schedules.book import Target
from agentbox.schedules.timing import ScheduleError
from agentbox.store import Store


def parse_to(to: str) -> tuple[str, str, str | None]:
    """(channel, chat, thread) from `telegram:4242`, `slack:C0123:1700000000.1234`, `cli:default`."""
    channel, _, rest = to.strip().partition(":")
    channel = channel.lower()
    if channel == "cli":
        if not rest:
            raise ScheduleError("--to cli:NAME needs a session name (cli:default is `agentbox chat`'s)")
        return "cli", rest, None
    if channel not in CHANNEL_NAMES or not rest:
        raise ScheduleError(
            f"--to {to!r}: use CHANNEL:CHAT[:THREAD] with a channel of {', '.join(CHANNEL_NAMES)}, or cli:SESSION"
        )
    chat, _, thread = rest.partition(":")
    if not chat:
        raise ScheduleError(f"--to {to!r}: the chat id is missing")
    return channel, chat, thread or None


async def target_for(store: Store, config: Config, to: str, agent: str | None = None) -> Target:
    """The target `to` names, with its session key and agent (`agent`, else the one routing picks)."""
    channel, chat, thread = parse_to(to)
    if agent is not None and agent not in config.agents:
        raise ScheduleError(f"no agent {agent!r} in the config (agents: {', '.join(sorted(config.agents))})")
    if channel == "cli":
        return Target("cli", chat, f"cli:{chat}", agent=agent or "main")
    agent = agent or agent_for(config, channel, chat)
    if (seen := await store.sessions.for_chat(channel, chat, thread)) is not None:
        return _target(channel, chat, thread, seen.key, agent)
    group = thread is not None or (channel == "telegram" and chat.startswith("-"))
    key = f"{channel}:group:{chat}" + (f":thread:{thread}" if thread else "") if group else f"{channel}:dm:{chat}"
    return _target(channel, chat, thread, key, agent)


def _target(channel: str, chat: str, thread: str | None, key: str, agent: str) -> Target:
    direct = key.startswith(f"{channel}:dm:")
    sender = key.removeprefix(f"{channel}:dm:") if direct else ""
    return Target(channel, chat, key, agent=agent, thread_id=thread, sender_id=sender, in_group=not direct)
