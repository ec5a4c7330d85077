"""`agentbox doctor --online` for Slack: `auth.test`, the scopes the manifest grants, and the app token."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from agentbox.onlinecheck import OnlineCheck

from .settings import SlackConfig


def check_online(settings: SlackConfig, env: Mapping[str, str]) -> OnlineCheck:
    from .connector import check_auth

    problems = asyncio.run(check_auth(settings, env))
    if problems:
        source = settings.token_specs()[0].source
        return OnlineCheck(False, "; ".join(problems), f"see docs/slack.md; tokens: {source}")
    return OnlineCheck(True, "auth.test accepted the bot token; it has every scope docs/slack.md lists")
