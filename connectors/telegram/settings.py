"""`[channels.telegram]` and the token it needs: pydantic only, so reading the config never imports the SDK."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from agentbox.configbase import ChannelConfig
from agentbox.tokens import TokenSpec

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")


class TelegramConfig(ChannelConfig):
    """Telegram's settings: where the bot token lives, the Bot API server, polling and streaming."""

    token_env: str = "TELEGRAM_BOT_TOKEN"
    api_base_url: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = 8443
    streaming: Literal["edit", "off"] = "edit"
    poll_timeout: Annotated[int, Field(ge=0, le=50)] = 30

    def token_specs(self) -> list[TokenSpec]:
        return [
            TokenSpec(
                "telegram",
                "bot token",
                self.token_env,
                _TOKEN,
                "digits, a colon, then 30+ letters, digits, - or _",
                source="@BotFather in Telegram (/mybots → your bot → API Token)",
            )
        ]
