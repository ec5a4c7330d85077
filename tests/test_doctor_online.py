"""`agentbox doctor --online` asks each enabled platform about its token (the fakes, the real wire format),
and a broken config does not hide the checks that do not depend on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.clirun import invoke
from tests.helpers import write_config


def checks(home: Path, *args: str, **env: str) -> dict[str, dict[str, Any]]:
    done = invoke(home, "doctor", "--json", *args, **env)
    return {c["name"]: c for c in json.loads(done.stdout)["checks"]}


def online(home: Path, fake_aimlapi: Any, **env: str) -> dict[str, dict[str, Any]]:
    return checks(home, "--online", AIMLAPI_BASE_URL=fake_aimlapi.url + "/v1", **env)


def test_telegram_get_me(home: Path, fake_aimlapi: Any, fake_telegram: Any) -> None:
    write_config(home, f'[channels.telegram]\nenabled = true\napi_base_url = "{fake_telegram.url}"\n')
    found = online(home, fake_aimlapi, TELEGRAM_BOT_TOKEN=fake_telegram.token)["telegram online"]
    assert found["status"] == "ok" and "@agentbox_test_bot" in found["detail"]
    assert [method for method, _ in fake_telegram.calls] == ["getMe"]

    fake_telegram.bad_token = True
    found = online(home, fake_aimlapi, TELEGRAM_BOT_TOKEN=fake_telegram.token)["telegram online"]
    assert found["status"] == "fail" and "rejected the bot token in TELEGRAM_BOT_TOKEN" in found["detail"]
    assert "@BotFather" in found["fix"] and fake_telegram.token not in json.dumps(found)


def test_slack_auth_test_and_scopes(home: Path, fake_aimlapi: Any, fake_slack: Any) -> None:
    write_config(home, f'[channels.slack]\nenabled = true\napi_base_url = "{fake_slack.api_url}"\n')
    tokens = {"SLACK_BOT_TOKEN": fake_slack.bot_token, "SLACK_APP_TOKEN": fake_slack.app_token}
    found = online(home, fake_aimlapi, **tokens)["slack online"]
    assert found["status"] == "ok", found
    assert {"auth.test", "apps.connections.open"} <= {method for method, _ in fake_slack.calls}

    fake_slack.scopes.discard("files:write")  # the app was installed before the manifest asked for it
    found = online(home, fake_aimlapi, **tokens)["slack online"]
    assert found["status"] == "fail" and "lacks scope(s) files:write" in found["detail"]

    found = online(home, fake_aimlapi, **{**tokens, "SLACK_BOT_TOKEN": "xoxb-1-2-abc"})["slack online"]
    assert found["status"] == "fail" and "invalid_auth" in found["detail"] and "SLACK_BOT_TOKEN" in found["detail"]


def test_discord_users_me(home: Path, fake_aimlapi: Any, fake_discord: Any) -> None:
    write_config(home, f'[channels.discord]\nenabled = true\napi_base_url = "{fake_discord.api_base_url}"\n')
    found = online(home, fake_aimlapi, DISCORD_BOT_TOKEN=fake_discord.token)["discord online"]
    assert found["status"] == "ok" and "agentbox" in found["detail"]
    assert any(r.path.endswith("/users/@me") for r in fake_discord.requests)

    found = online(home, fake_aimlapi, DISCORD_BOT_TOKEN="MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.wrongwrongwrongwrongwrong")[
        "discord online"
    ]
    assert found["status"] == "fail" and "rejected the bot token in DISCORD_BOT_TOKEN (401)" in found["detail"]
    assert "developer portal" in found["fix"]


def test_offline_doctor_calls_no_platform(home: Path, fake_telegram: Any) -> None:
    write_config(home, f'[channels.telegram]\nenabled = true\napi_base_url = "{fake_telegram.url}"\n')
    found = checks(home, TELEGRAM_BOT_TOKEN=fake_telegram.token)
    assert "telegram online" not in found and "gateway port" not in found and not fake_telegram.calls


def test_broken_config_still_checks_what_does_not_depend_on_it(home: Path) -> None:
    write_config(home, '[channels.telegram]\nenabled = true\ndm_polcy = "open"\n')
    found = checks(home)  # AIMLAPI_API_KEY is set in the environment
    assert found["config"]["status"] == "fail" and "did you mean dm_policy?" in found["config"]["detail"]
    assert found["api key"]["status"] == "ok" and "AIMLAPI_API_KEY" in found["api key"]["detail"]
    assert "no channel enabled" not in found["channels"]["detail"]
    assert "not checked: the config is broken" in found["channels"]["detail"]
    assert {"database", "permissions", "disk"} <= set(found)


def test_broken_config_without_a_key_in_the_environment_is_not_a_false_alarm(home: Path) -> None:
    write_config(home, '[aimlapi]\napi_key = "sk-in-the-broken-file-0123"\ntimout = 3\n')
    found = checks(home, AIMLAPI_API_KEY="")
    assert found["api key"]["status"] == "warn" and "unknown until the config is fixed" in found["api key"]["detail"]


def test_malformed_telegram_token_fix_names_botfather(home: Path) -> None:
    write_config(home, "[channels.telegram]\nenabled = true\n")
    found = checks(home, TELEGRAM_BOT_TOKEN="not-a-telegram-token-but-quite-long")["telegram bot token"]
    assert found["status"] == "fail" and "@BotFather" in found["fix"] and "developer console" not in found["fix"]
