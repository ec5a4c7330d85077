"""Which agent answers a message, and which conversation (session) it belongs to.

Session keys (stable, documented in docs/gateway.md; `agentbox sessions list` shows them):

    <channel>:dm:<sender id>                          one per direct-message sender
    <channel>:group:<chat id>                         one per group chat / channel
    <channel>:group:<chat id>:thread:<thread id>      one per thread or forum topic

The agent is not part of the key: re-binding a chat to another agent keeps its history.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentbox.channels import find_channel
from agentbox.config import ChannelConfig, Config
from agentbox.messages import Inbound


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: the agent that answers it and the session (conversation) it belongs to."""

    agent_id: str
    session_key: str


def session_key(inbound: Inbound) -> str:
    if inbound.is_direct:
        return f"{inbound.channel}:dm:{inbound.sender_id}"
    key = f"{inbound.channel}:group:{inbound.chat_id}"
    if inbound.thread_id:
        key += f":thread:{inbound.thread_id}"
    return key


def channel_config(config: Config, channel: str) -> ChannelConfig:
    """The config section of a connector; unknown names (tests, terminal) get the defaults."""
    spec = find_channel(channel)
    return spec.settings_in(config) if spec is not None else ChannelConfig()


def agent_for(config: Config, channel: str, chat_id: str) -> str:
    """A binding naming this chat wins over one for the whole channel, which wins over the channel's `agent`."""
    channel_wide: str | None = None
    for binding in config.bindings:
        if binding.channel != channel:
            continue
        if binding.chat is not None and binding.chat == chat_id:
            return binding.agent
        if binding.chat is None and channel_wide is None:
            channel_wide = binding.agent
    return channel_wide or channel_config(config, channel).agent


def route(config: Config, inbound: Inbound) -> Route:
    return Route(agent_for(config, inbound.channel, inbound.chat_id), session_key(inbound))
