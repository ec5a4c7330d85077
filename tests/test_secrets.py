"""Known secret values never reach stdout, stderr or any log file across a full CLI session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.aimlapi import Fail, FakeAimlapi, Reply, ToolCall
from tests.helpers import cli_env, run_cli, write_config

KEY = "sk-secret-session-api-key-5f3a9c1e7b"
TOKENS = {
    "TELEGRAM_BOT_TOKEN": "987654321:AAHsecretTelegramTokenForLeakTest_xyz",
    "SLACK_BOT_TOKEN": "xoxb-9999-8888-secretslackbottoken",
    "SLACK_APP_TOKEN": "xapp-1-A999-secretslackapptoken",
    "SLACK_SIGNING_SECRET": "fedcba9876543210fedcba9876543210",
    "DISCORD_BOT_TOKEN": "OTg3NjU0MzIxMDk4NzY1NDMy.GsEcRt.secretdiscordtokenforleaktest_1",
    "AGENTBOX_GATEWAY_TOKEN": "gw-secret-gateway-token-0a1b2c3d4e",
}


@pytest.mark.e2e  # one real process per command, as a user's shell runs them
@pytest.mark.slow
def test_full_session_leaks_no_secret(home: Path) -> None:
    with FakeAimlapi(api_key=KEY) as fake:
        env = cli_env(home, fake, AIMLAPI_API_KEY=KEY, **TOKENS)
        write_config(
            home,
            "[aimlapi.retry]\ninitial_delay = 0.05\nmax_delay = 0.1\n"  # keep the 5xx burst quick
            # doctor --online calls the platforms: a closed local port keeps it off the internet
            '[channels.telegram]\nenabled = true\napi_base_url = "http://127.0.0.1:9"\n'
            '[channels.slack]\nenabled = true\napi_base_url = "http://127.0.0.1:9/api/"\n',
        )
        outputs = []

        def run(*args: str) -> None:
            done = run_cli(*args, env=env)
            outputs.append(f"{done.returncode}\n{done.stdout}\n{done.stderr}")  # not the args: they hold a token

        fake.script(Reply(tool_calls=[ToolCall("current_time", "{}")]), Reply(text="It is noon."))
        run("-vv", "agent", "-m", "what time is it?")  # libraries' debug lines too (httpx logs URLs)
        run("agent", "-m", "remember me", "--json")
        fake.script(Fail(401))  # a failed turn logs the error: still no key
        run("-vv", "agent", "-m", "fail please")
        fake.script(Fail(500, times=10))
        run("agent", "-m", "server trouble")
        run("chat", "--session", "s2")
        run("sessions", "show", "cli:default")
        run("usage", "--json")
        run("doctor", "--json")
        run("doctor", "--online")
        run("onboard", "--non-interactive", "--enable", "discord", "--discord-token", TOKENS["DISCORD_BOT_TOKEN"])
        run("doctor")
        run("logs", "-n", "500")
        assert "It is noon." in outputs[0], outputs[0]
        assert len(fake.chat_requests()) >= 4  # the session really talked to the model

    files = {p: p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file()}
    assert any("turn failed" in text for text in files.values()), files  # the log did record events
    haystacks = {**{f"output {i}": out for i, out in enumerate(outputs)}, **{str(p): t for p, t in files.items()}}
    for secret in [KEY, *TOKENS.values()]:
        leaks = [name for name, text in haystacks.items() if secret in text]
        assert not leaks, f"a secret ending {secret[-4:]} leaked into {leaks}"
