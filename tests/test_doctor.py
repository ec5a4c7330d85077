"""`agentbox doctor`: finds each kind of problem, prints a fix, never a secret; exit 0 only when clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.clirun import invoke_cli
from tests.fakes.aimlapi import FakeAimlapi
from tests.helpers import API_KEY, cli_env, write_config

TG = "123456789:AAHfakeTelegramTokenValue_abcdefghij"


class BillingFake(FakeAimlapi):
    """The fake AI/ML API plus `GET /v2/billing` (API-NOTES §9), which doctor --online calls."""

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)

        async def billing(request: web.Request) -> web.Response:
            return self._check_auth(request) or web.json_response({"current_balance": 12.5, "currency": "USD"})

        app.router.add_get("/v2/billing", billing)


@pytest.fixture
def clean_home(home: Path) -> Path:
    home.chmod(0o700)
    write_config(home, "[channels.telegram]\nenabled = true\n")
    (home / "config.toml").chmod(0o600)
    return home


def doctor(home: Path, *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    done = invoke_cli("doctor", "--json", *args, env=cli_env(home, **env))
    return done.returncode, json.loads(done.stdout), done.stdout + done.stderr


def failures(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"] if c["status"] == "fail"}


def online_telegram(home: Path, fake_telegram: Any) -> str:
    """Point the enabled Telegram channel at the fake (doctor --online calls getMe); returns its token."""
    write_config(home, f'[channels.telegram]\nenabled = true\napi_base_url = "{fake_telegram.url}"\n')
    return str(fake_telegram.token)


def test_clean_setup_passes_online_against_the_fake(clean_home: Path, fake_telegram: Any) -> None:
    tg = online_telegram(clean_home, fake_telegram)
    with BillingFake(api_key=API_KEY) as fake:
        code, report, raw = doctor(clean_home, "--online", AIMLAPI_BASE_URL=fake.url + "/v1", TELEGRAM_BOT_TOKEN=tg)
        assert [r.path for r in fake.requests] == ["/v2/billing"]  # one call, and no model call
        assert fake.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert code == 0 and report["ok"], raw
    online = next(c for c in report["checks"] if c["name"] == "api online")
    assert online["status"] == "ok" and "12.5 USD" in online["detail"]
    assert API_KEY not in raw and tg not in raw


def test_online_without_billing_endpoint_warns_but_passes(
    clean_home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: Any
) -> None:
    tg = online_telegram(clean_home, fake_telegram)
    code, report, _ = doctor(clean_home, "--online", AIMLAPI_BASE_URL=fake_aimlapi.url + "/v1", TELEGRAM_BOT_TOKEN=tg)
    online = next(c for c in report["checks"] if c["name"] == "api online")
    assert code == 0 and online["status"] == "warn" and "not verified" in online["detail"]
    assert not fake_aimlapi.chat_requests()


def test_online_rejected_key_fails_and_names_where_the_key_came_from(clean_home: Path, fake_telegram: Any) -> None:
    tg = online_telegram(clean_home, fake_telegram)
    with BillingFake(api_key="another-key-entirely") as fake:
        code, report, raw = doctor(clean_home, "--online", AIMLAPI_BASE_URL=fake.url + "/v1", TELEGRAM_BOT_TOKEN=tg)
        problem = failures(report)["api online"]
        assert code == 1 and "401" in problem["detail"] and API_KEY not in raw
        assert "from the AIMLAPI_API_KEY environment variable" in problem["detail"]

        (clean_home / ".env").write_text(f"AIMLAPI_API_KEY={API_KEY}\n")  # the same key, now from .env
        (clean_home / ".env").chmod(0o600)
        env = cli_env(clean_home, AIMLAPI_BASE_URL=fake.url + "/v1", TELEGRAM_BOT_TOKEN=tg)
        del env["AIMLAPI_API_KEY"]
        done = invoke_cli("doctor", "--json", "--online", env=env)
        detail = failures(json.loads(done.stdout))["api online"]["detail"]
        assert f"from AIMLAPI_API_KEY in {clean_home / '.env'}" in detail

        (clean_home / ".env").unlink()  # and from the config file
        online_telegram(clean_home, fake_telegram)
        with (clean_home / "config.toml").open("a") as config:
            config.write(f'[aimlapi]\napi_key = "{API_KEY}"\n')
        done = invoke_cli("doctor", "--json", "--online", env=env)
        detail = failures(json.loads(done.stdout))["api online"]["detail"]
        assert f"from [aimlapi] api_key in {clean_home / 'config.toml'}" in detail


def test_bad_permissions_are_found_with_a_fix(clean_home: Path) -> None:
    (clean_home / "config.toml").chmod(0o644)
    (clean_home / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TG}\n")
    (clean_home / ".env").chmod(0o640)
    code, report, raw = doctor(clean_home)
    problems = [c for c in report["checks"] if c["name"] == "permissions" and c["status"] == "fail"]
    assert code == 1 and len(problems) == 2
    assert {p["fix"] for p in problems} == {
        f"chmod 600 {clean_home / 'config.toml'}",
        f"chmod 600 {clean_home / '.env'}",
    }
    assert TG not in raw  # the token came from .env and is still never shown


def test_malformed_and_missing_tokens(clean_home: Path) -> None:
    write_config(clean_home, "[channels.telegram]\nenabled = true\n[channels.discord]\nenabled = true\n")
    bad = "not-a-telegram-token-but-quite-long"
    code, report, raw = doctor(clean_home, TELEGRAM_BOT_TOKEN=bad)
    problems = failures(report)
    assert code == 1
    assert "malformed" in problems["telegram bot token"]["detail"] and problems["telegram bot token"]["fix"]
    assert "DISCORD_BOT_TOKEN is not set" in problems["discord bot token"]["detail"]
    assert bad not in raw


def test_broken_config_names_file_and_key(clean_home: Path) -> None:
    write_config(clean_home, '[aimlapi]\ntimeout = "soon"\n')
    code, report, _ = doctor(clean_home)
    problem = failures(report)["config"]
    assert code == 1 and str(clean_home / "config.toml") in problem["detail"] and "aimlapi.timeout" in problem["detail"]
    assert problem["fix"]


def test_corrupted_database(clean_home: Path) -> None:
    db = clean_home / "agentbox.db"
    db.write_bytes(b"this is not an sqlite database" * 200)
    db.chmod(0o600)
    code, report, _ = doctor(clean_home, TELEGRAM_BOT_TOKEN=TG)
    problem = failures(report)["database"]
    assert code == 1 and "not a database" in problem["detail"] and "mv " in problem["fix"]


def test_healthy_database_reports_schema(clean_home: Path) -> None:
    from agentbox.store.schema import SCHEMA_VERSION

    assert invoke_cli("sessions", "list", env=cli_env(clean_home)).returncode == 0  # creates the database
    code, report, raw = doctor(clean_home, TELEGRAM_BOT_TOKEN=TG)
    database = next(c for c in report["checks"] if c["name"] == "database")
    assert code == 0, raw
    assert database["status"] == "ok" and f"schema {SCHEMA_VERSION}" in database["detail"]


def test_missing_api_key_and_text_output(clean_home: Path) -> None:
    env = cli_env(clean_home, TELEGRAM_BOT_TOKEN=TG)
    del env["AIMLAPI_API_KEY"]
    done = invoke_cli("doctor", env=env)
    assert done.returncode == 1
    assert "✗ api key" in done.stdout and "fix: export AIMLAPI_API_KEY" in done.stdout
