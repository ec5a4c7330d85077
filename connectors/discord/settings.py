"""`[channels.discord]` and the token it needs: pydantic only, so reading the config never imports the SDK."""

from __future__ import annotations

import re

from agentbox.configbase import ChannelConfig, PlatformIds
from agentbox.tokens import TokenSpec

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")


class DiscordConfig(ChannelConfig):
    """Discord's settings: where the bot token lives, the REST base URL, server/channel allowlists."""

    token_env: str = "DISCORD_BOT_TOKEN"
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str | None = None  # tests only: a fake gateway websocket
    guilds: PlatformIds | None = None
    channels: PlatformIds | None = None
    slash_commands: bool = True

    def token_specs(self) -> list[TokenSpec]:
        return [
            TokenSpec(
                "discord",
                "bot token",
                self.token_env,
                _TOKEN,
                "three dot-separated parts",
                source="the Discord developer portal (your application → Bot → Reset Token)",
            )
        ]
