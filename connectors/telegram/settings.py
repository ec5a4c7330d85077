"""`[channels.telegram]` and the token it needs: pydantic only, so reading the config never imports the SDK."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from agentbox.configbase import ChannelConfig
from agentbox.tokens import TokenSpec

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
# What Telegram accepts as a webhook's `secret_token` (Bot API, setWebhook).
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
OFFICIAL_API = "https://api.telegram.org"
# Keys of the never-implemented separate webhook listener: accepted from older files, ignored (the webhook
# is served on the gateway's port).
_RETIRED = ("webhook_listen", "webhook_port")


class TelegramConfig(ChannelConfig):
    """Telegram's settings: where the bot token lives, the Bot API server, polling or webhook, streaming."""

    token_env: str = "TELEGRAM_BOT_TOKEN"
    api_base_url: str = OFFICIAL_API
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None  # the public URL Telegram posts to; a proxy forwards it to /telegram/webhook
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"
    streaming: Literal["edit", "off"] = "edit"
    poll_timeout: Annotated[int, Field(ge=0, le=50)] = 30

    @model_validator(mode="before")
    @classmethod
    def _drop_retired_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(key in data for key in _RETIRED):
            return {key: value for key, value in data.items() if key not in _RETIRED}
        return data

    @model_validator(mode="after")
    def _webhook_needs_a_url(self) -> TelegramConfig:
        if self.mode == "webhook" and self.enabled:
            if not self.webhook_url:
                raise ValueError(
                    'mode = "webhook" needs webhook_url: the public https:// URL Telegram posts to '
                    "(your reverse proxy forwards it to the gateway's /telegram/webhook)"
                )
            https_only = self.api_base_url.rstrip("/") == OFFICIAL_API
            if not self.webhook_url.startswith("https://" if https_only else ("https://", "http://")):
                raise ValueError(
                    f"webhook_url must start with https:// (Telegram posts nowhere else): {self.webhook_url!r}"
                )
        return self

    def token_specs(self) -> list[TokenSpec]:
        return [
            TokenSpec(
                "telegram",
                "bot token",
                self.token_env,
                _TOKEN,
                "digits, a colon, then 30+ letters, digits, - or _",
                source="@BotFather in Telegram (/mybots → your bot → API Token)",
            ),
            TokenSpec(
                "telegram",
                "webhook secret",
                self.webhook_secret_env,
                WEBHOOK_SECRET,
                "1 to 256 letters, digits, - or _",
                required=self.mode == "webhook",
                source="any random string you choose, e.g. the output of `openssl rand -hex 32`",
            ),
        ]
