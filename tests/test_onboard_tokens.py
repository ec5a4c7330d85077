"""Onboarding never stores a malformed token silently, accepts every real token shape, and ends with the
real next steps (run the gateway, message the bot, approve the pairing code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbox.envfile import parse_env
from tests.clirun import invoke
from tests.helpers import API_KEY, cli_env
from tests.ptyproc import PtyProcess

TG = "123456789:AAHfakeTelegramTokenValue_abcdefghij"


def dotenv(home: Path) -> dict[str, str]:
    path = home / ".env"
    return parse_env(path.read_text()) if path.exists() else {}


@pytest.mark.parametrize(
    ("flag", "value", "where"),
    [
        ("--telegram-token", "123456:ABC", "@BotFather"),
        ("--telegram-token", f"bot token: {TG}", "@BotFather"),
        ("--slack-bot-token", "xapp-1-A111-thewrongkind", "Install App"),
        ("--discord-token", "just-one-part", "developer portal"),
    ],
)
def test_malformed_flag_token_stops_before_anything_is_written(home: Path, flag: str, value: str, where: str) -> None:
    channel = flag.removeprefix("--").split("-")[0]
    done = invoke(home, "onboard", "--non-interactive", "--enable", channel, flag, value)
    assert done.exit_code == 2
    assert done.stderr.startswith(f"agentbox: {flag}: ") and where in done.stderr and "--force" in done.stderr
    assert value not in done.output  # never echoed back: it may be a real token pasted with a typo
    assert not (home / "config.toml").exists() and not (home / ".env").exists()


def test_force_stores_it_with_a_warning(home: Path) -> None:
    done = invoke(
        home, "onboard", "--non-interactive", "--enable", "telegram", "--telegram-token", "123456:ABC", "--force"
    )
    assert done.exit_code == 0 and "stored anyway (--force)" in done.stderr
    assert dotenv(home) == {"TELEGRAM_BOT_TOKEN": "123456:ABC"}


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--slack-bot-token", "xoxb-1-2-abc"),
        ("--slack-bot-token", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"),
        ("--slack-app-token", "xapp-1-A0123-4567-abcdef"),
        ("--telegram-token", TG),
        ("--discord-token", "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"),
    ],
)
def test_valid_shapes_are_accepted(home: Path, flag: str, value: str) -> None:
    done = invoke(home, "onboard", "--non-interactive", flag, value)
    assert done.exit_code == 0, done.output
    assert value in dotenv(home).values()


def test_summary_lists_the_real_next_steps(home: Path) -> None:
    done = invoke(home, "onboard", "--non-interactive", "--enable", "telegram", "--telegram-token", TG)
    assert done.exit_code == 0
    steps = done.stdout[done.stdout.index("Next:") :]
    assert "1. `agentbox gateway run`" in steps and "2. message your bot on telegram" in steps
    assert "3. it answers with a pairing code: approve it with `agentbox pairing approve telegram <CODE>`" in steps
    assert "`agentbox daemon install`" in steps


@pytest.mark.e2e
def test_interactive_onboarding_asks_again_for_a_malformed_token(home: Path) -> None:
    proc = PtyProcess(["onboard"], cli_env(home))
    try:
        proc.expect("Also store it in config.toml? [y/N]:")
        proc.type("n\r")
        proc.expect("Default model [gpt-4o-mini]:")
        proc.type("\r")
        proc.expect("Enable telegram? [y/N]:")
        proc.type("y\r")
        # A hidden prompt flushes what was typed before it: wait for getpass's own trailing space.
        at = proc.expect("empty skips): ")
        proc.type("123456:ABC\r")
        at = proc.expect("that does not look like a telegram bot token", after=at)
        at = proc.expect("Copy it again from @BotFather", after=at)
        proc.expect("empty skips): ", after=at)  # asked again
        proc.type(TG + "\r")
        proc.expect("Enable slack? [y/N]:")
        proc.type("\r")
        proc.expect("Enable discord? [y/N]:")
        proc.type("\r")
        proc.expect("Who may DM the bot?")
        proc.type("\r")
        proc.expect("(mode 0600)? [Y/n]:")  # the key is only in this shell: save it for a service?
        proc.type("y\r")
        proc.expect("approve it with `agentbox pairing approve telegram <CODE>`")
        assert proc.exit_code() == 0
    finally:
        proc.close()
    assert dotenv(home) == {"TELEGRAM_BOT_TOKEN": TG, "AIMLAPI_API_KEY": API_KEY}
    assert TG not in proc.output and API_KEY not in proc.output


def test_doctor_calls_a_short_slack_token_well_formed(home: Path) -> None:
    import json

    (home / "config.toml").write_text("[channels.slack]\nenabled = true\n")
    done = invoke(home, "doctor", "--json", SLACK_BOT_TOKEN="xoxb-1-2-abc", SLACK_APP_TOKEN="xapp-1-A1-2-b")
    found = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert found["slack bot token"]["status"] == "ok" and found["slack app token"]["status"] == "ok"
