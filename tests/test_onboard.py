"""`agentbox onboard`: scripted runs create a valid owner-only config; re-runs edit, never clobber."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.clirun import invoke_cli
from tests.helpers import cli_env, write_config

KEY = "sk-onboard-secret-key-0123456789"
TG = "123456789:AAHfakeTelegramTokenValue_abcdefghij"
SLACK_BOT = "xoxb-1111-2222-fakeslackbottoken"
SLACK_APP = "xapp-1-A111-2222-fakeslackapptoken"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _load(home: Path):  # type: ignore[no-untyped-def]
    from agentbox.config import load_config

    return load_config(home / "config.toml", env={})


def test_non_interactive_creates_valid_private_config(home: Path) -> None:
    env = cli_env(home)
    del env["AIMLAPI_API_KEY"]
    done = invoke_cli(
        "onboard", "--non-interactive", "--api-key", KEY, "--model", "gpt-4o", "--enable", "telegram",
        "--telegram-token", TG, "--dm-policy", "allowlist", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    config = _load(home)
    assert config.api_key() == KEY and config.agent().model == "gpt-4o"
    assert config.channels.telegram.enabled and config.channels.telegram.dm_policy == "allowlist"
    assert not config.channels.slack.enabled
    assert _mode(home / "config.toml") == 0o600 and _mode(home / ".env") == 0o600
    assert f"TELEGRAM_BOT_TOKEN={TG}" in (home / ".env").read_text()
    assert TG not in (home / "config.toml").read_text()  # tokens live in .env only
    assert KEY not in done.stdout + done.stderr and TG not in done.stdout + done.stderr
    assert "telegram: enabled, dm_policy=allowlist, token set" in done.stdout


def test_rerun_keeps_other_keys_and_comments(home: Path) -> None:
    write_config(
        home,
        '# my own notes\n[aimlapi]\napi_key = "' + KEY + '"  # keep me\ntimeout = 33.0\n\n'
        '[gateway]\nport = 19000 # moved\n\n[agents.work]\nmodel = "gpt-4o"\n\n'
        '[channels.telegram]\nenabled = true\nallow_from = ["42"]\n',
    )
    env = cli_env(home)
    done = invoke_cli(
        "onboard", "--non-interactive", "--model", "anthropic/claude-sonnet-4.6", "--enable", "slack",
        "--slack-bot-token", SLACK_BOT, "--slack-app-token", SLACK_APP, "--dm-policy", "open", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (home / "config.toml").read_text()
    assert "# my own notes" in text and "# keep me" in text and "port = 19000 # moved" in text
    config = _load(home)
    assert config.api_key() == KEY and config.aimlapi.timeout == 33.0 and config.gateway.port == 19000
    assert config.agents["work"].model == "gpt-4o" and config.agent().model == "anthropic/claude-sonnet-4.6"
    assert config.channels.telegram.enabled and config.channels.telegram.allow_from == ["42"]
    assert config.channels.slack.enabled and config.channels.slack.dm_policy == "open"
    assert config.channels.telegram.dm_policy == "open"  # applies to every enabled channel
    dotenv = (home / ".env").read_text()
    assert f"SLACK_BOT_TOKEN={SLACK_BOT}" in dotenv and f"SLACK_APP_TOKEN={SLACK_APP}" in dotenv

    # A third run changes one token and leaves the other lines of .env alone.
    done = invoke_cli("onboard", "--non-interactive", "--slack-bot-token", "xoxb-3333-4444-replacedtoken", env=env)
    assert done.returncode == 0, done.stderr
    dotenv = (home / ".env").read_text()
    assert "SLACK_BOT_TOKEN=xoxb-3333-4444-replacedtoken" in dotenv and SLACK_BOT not in dotenv
    assert f"SLACK_APP_TOKEN={SLACK_APP}" in dotenv


def test_api_key_env_only_removes_a_stored_key(home: Path) -> None:
    write_config(home, f'[aimlapi]\napi_key = "{KEY}"\n')
    done = invoke_cli("onboard", "--non-interactive", "--api-key-env-only", env=cli_env(home))
    assert done.returncode == 0, done.stderr
    assert _load(home).api_key() is None
    assert "AIMLAPI_API_KEY (environment of this shell only)" in done.stdout


def test_broken_existing_config_is_left_untouched(home: Path) -> None:
    original = "[aimlapi\nbroken"
    write_config(home, original)
    done = invoke_cli("onboard", "--non-interactive", "--model", "gpt-4o", env=cli_env(home))
    assert done.returncode == 2 and "not valid TOML" in done.stderr
    assert (home / "config.toml").read_text() == original


def test_invalid_answer_is_refused_before_writing(home: Path) -> None:
    done = invoke_cli("onboard", "--non-interactive", "--enable", "irc", env=cli_env(home))
    assert done.returncode == 2 and "unknown channel 'irc'" in done.stderr
    assert not (home / "config.toml").exists()


def test_merge_keeps_every_line_of_the_example(home: Path) -> None:
    from agentbox.ops.onboarding import OnboardAnswers, merge_answers

    example = (Path(__file__).parent.parent / "config.example.toml").read_text()
    merged = merge_answers(example, OnboardAnswers(model="gpt-4o", enable=["discord"], dm_policy="allowlist"))
    old, new = example.splitlines(), merged.splitlines()
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert [b.split("#")[0].strip() for _, b in changed] == [
        'model = "gpt-4o"',
        "enabled = true",
        'dm_policy = "allowlist"',
    ]
