"""`agentbox doctor --online` for Telegram: does `getMe` accept the bot token?"""

from __future__ import annotations

from collections.abc import Mapping

from agentbox.onlinecheck import OnlineCheck, get_json

from .settings import TelegramConfig


def check_online(settings: TelegramConfig, env: Mapping[str, str]) -> OnlineCheck:
    base, name = settings.api_base_url.rstrip("/"), settings.token_env
    answer = get_json(f"{base}/bot{env.get(name, '').strip()}/getMe", base=base)
    if isinstance(answer, OnlineCheck):
        return answer
    status, body = answer
    if status in (401, 404):  # Telegram answers 404 for a token that is not even well-formed
        source = settings.token_specs()[0].source
        return OnlineCheck(
            False, f"Telegram rejected the bot token in {name} ({status})", f"copy it again from {source}"
        )
    username = body.get("result", {}).get("username") if status == 200 else None
    if not username:
        return OnlineCheck(False, f"unexpected answer {status} from {base}", "retry later")
    return OnlineCheck(True, f"the token in {name} belongs to @{username}")
