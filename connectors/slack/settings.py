"""`[channels.slack]` and the tokens it needs: pydantic only, so reading the config never imports the SDK."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from agentbox.configbase import ChannelConfig
from agentbox.tokens import TokenSpec

# Slack documents the prefixes, not the lengths: `xoxb-1-2-abc` is as valid a shape as a real one.
_BOT = re.compile(r"^xoxb-[A-Za-z0-9][A-Za-z0-9-]*$")
_APP = re.compile(r"^xapp-[A-Za-z0-9][A-Za-z0-9-]*$")
_SECRET = re.compile(r"^[0-9a-f]{16,}$")
_APP_SETTINGS = "your Slack app's settings at https://api.slack.com/apps"


class SlackConfig(ChannelConfig):
    """Slack's settings: Socket Mode or HTTP events, the env vars of its tokens, the working reaction."""

    mode: Literal["socket", "http"] = "socket"
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    api_base_url: str = "https://slack.com/api/"
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 3000  # 0: any free port
    http_path: str = "/slack/events"
    working_reaction: str = "eyes"

    def token_specs(self) -> list[TokenSpec]:
        socket = self.mode == "socket"
        return [
            TokenSpec(
                "slack",
                "bot token",
                self.bot_token_env,
                _BOT,
                "starts with xoxb-",
                source=f"{_APP_SETTINGS} (Install App → Bot User OAuth Token)",
            ),
            TokenSpec(
                "slack",
                "app token",
                self.app_token_env,
                _APP,
                "starts with xapp-",
                required=socket,
                source=f"{_APP_SETTINGS} (Basic Information → App-Level Tokens)",
            ),
            TokenSpec(
                "slack",
                "signing secret",
                self.signing_secret_env,
                _SECRET,
                "hex",
                required=not socket,
                source=f"{_APP_SETTINGS} (Basic Information → App Credentials → Signing Secret)",
            ),
        ]
