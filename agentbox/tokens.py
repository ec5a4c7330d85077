"""Connector tokens: which env vars hold them, what a well-formed one looks like, how to show one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentbox.config import Config


@dataclass(frozen=True, slots=True)
class TokenSpec:
    channel: str
    label: str  # what the platform calls it
    env_name: str  # the variable the config says holds it
    shape: re.Pattern[str]
    shape_hint: str
    required: bool = True


_TELEGRAM = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
_SLACK_BOT = re.compile(r"^xoxb-[A-Za-z0-9-]{10,}$")
_SLACK_APP = re.compile(r"^xapp-[A-Za-z0-9-]{10,}$")
_SLACK_SECRET = re.compile(r"^[0-9a-f]{16,}$")
_DISCORD = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")


def token_specs(config: Config, channel: str) -> list[TokenSpec]:
    """The tokens a channel needs in its configured mode."""
    ch = config.channels
    if channel == "telegram":
        return [TokenSpec("telegram", "bot token", ch.telegram.token_env, _TELEGRAM, "123456789:AA... from @BotFather")]
    if channel == "slack":
        socket = ch.slack.mode == "socket"
        return [
            TokenSpec("slack", "bot token", ch.slack.bot_token_env, _SLACK_BOT, "starts with xoxb-"),
            TokenSpec("slack", "app token", ch.slack.app_token_env, _SLACK_APP, "starts with xapp-", required=socket),
            TokenSpec(
                "slack", "signing secret", ch.slack.signing_secret_env, _SLACK_SECRET, "hex", required=not socket
            ),
        ]
    if channel == "discord":
        return [TokenSpec("discord", "bot token", ch.discord.token_env, _DISCORD, "three dot-separated parts")]
    raise ValueError(f"unknown channel {channel!r}")


CHANNELS = ("telegram", "slack", "discord")


def enabled_channels(config: Config) -> list[str]:
    return [name for name in CHANNELS if getattr(config.channels, name).enabled]


def mask(secret: str | None) -> str:
    """How a secret is shown anywhere: whether it is set and its length, never a character of it."""
    return f"set ({len(secret)} chars)" if secret else "(not set)"
