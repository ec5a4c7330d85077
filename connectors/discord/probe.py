"""`agentbox doctor --online` for Discord: does `GET /users/@me` accept the bot token?"""

from __future__ import annotations

from collections.abc import Mapping

from agentbox.onlinecheck import OnlineCheck, get_json

from .settings import DiscordConfig


def check_online(settings: DiscordConfig, env: Mapping[str, str]) -> OnlineCheck:
    base, name = settings.api_base_url.rstrip("/"), settings.token_env
    headers = {"Authorization": f"Bot {env.get(name, '').strip()}"}
    answer = get_json(f"{base}/users/@me", base=base, headers=headers)
    if isinstance(answer, OnlineCheck):
        return answer
    status, body = answer
    if status == 401:
        source = settings.token_specs()[0].source
        return OnlineCheck(False, f"Discord rejected the bot token in {name} (401)", f"copy it again from {source}")
    username = body.get("username") if status == 200 else None
    if not username:
        return OnlineCheck(False, f"unexpected answer {status} from {base}", "retry later")
    return OnlineCheck(True, f"the token in {name} belongs to {username}")
