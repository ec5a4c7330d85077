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
    source: str = ""  # where the owner gets (or gets again) this token

    def problem(self, value: str) -> str | None:
        """Why `value` cannot be this token (phrased for the user, never quoting it), or None."""
        if not value.strip():
            return f"the {self.channel} {self.label} is empty"
        if any(ch.isspace() for ch in value.strip()):
            return f"the {self.channel} {self.label} contains spaces (copy it again, without the label around it)"
        if not self.shape.match(value.strip()):
            return (
                f"that does not look like a {self.channel} {self.label} ({self.shape_hint}; {len(value)} chars given)"
            )
        return None


_TELEGRAM = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
# Slack documents the prefixes, not the lengths: `xoxb-1-2-abc` is as valid a shape as a real one.
_SLACK_BOT = re.compile(r"^xoxb-[A-Za-z0-9][A-Za-z0-9-]*$")
_SLACK_APP = re.compile(r"^xapp-[A-Za-z0-9][A-Za-z0-9-]*$")
_SLACK_SECRET = re.compile(r"^[0-9a-f]{16,}$")
_DISCORD = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")


def token_specs(config: Config, channel: str) -> list[TokenSpec]:
    """The tokens a channel needs in its configured mode."""
    ch = config.channels
    if channel == "telegram":
        return [
            TokenSpec(
                "telegram",
                "bot token",
                ch.telegram.token_env,
                _TELEGRAM,
                "digits, a colon, then 30+ letters, digits, - or _",
                source="@BotFather in Telegram (/mybots → your bot → API Token)",
            )
        ]
    if channel == "slack":
        socket = ch.slack.mode == "socket"
        app = "your Slack app's settings at https://api.slack.com/apps"
        return [
            TokenSpec(
                "slack",
                "bot token",
                ch.slack.bot_token_env,
                _SLACK_BOT,
                "starts with xoxb-",
                source=f"{app} (Install App → Bot User OAuth Token)",
            ),
            TokenSpec(
                "slack",
                "app token",
                ch.slack.app_token_env,
                _SLACK_APP,
                "starts with xapp-",
                required=socket,
                source=f"{app} (Basic Information → App-Level Tokens)",
            ),
            TokenSpec(
                "slack",
                "signing secret",
                ch.slack.signing_secret_env,
                _SLACK_SECRET,
                "hex",
                required=not socket,
                source=f"{app} (Basic Information → App Credentials → Signing Secret)",
            ),
        ]
    if channel == "discord":
        return [
            TokenSpec(
                "discord",
                "bot token",
                ch.discord.token_env,
                _DISCORD,
                "three dot-separated parts",
                source="the Discord developer portal (your application → Bot → Reset Token)",
            )
        ]
    raise ValueError(f"unknown channel {channel!r}")


CHANNELS = ("telegram", "slack", "discord")


def enabled_channels(config: Config) -> list[str]:
    return [name for name in CHANNELS if getattr(config.channels, name).enabled]


def mask(secret: str | None) -> str:
    """How a secret is shown anywhere: whether it is set and its length, never a character of it."""
    return f"set ({len(secret)} chars)" if secret else "(not set)"
