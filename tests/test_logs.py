"""Logging: one line per event with session and message id, rotation, and every secret masked."""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbox.config import load_config
from agentbox.logs import collect_secrets, session_logger
from agentbox.redaction import MASK, Redactor
from tests.logkit import agentbox_logging

KEY = "sk-log-test-api-key-0123456789"
SECRETS = {
    "TELEGRAM_BOT_TOKEN": "123456789:AAHlogTestTelegramToken_abcdefghijk",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-logtestslackbot",
    "SLACK_APP_TOKEN": "xapp-1-A111-logtestslackapp",
    "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
    "DISCORD_BOT_TOKEN": "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.logtestdiscordtokenvalue_xyz",
    "AGENTBOX_GATEWAY_TOKEN": "gw-logtest-gateway-token-998877",
}


@pytest.fixture
def logging_setup(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = f'[aimlapi]\napi_key = "{KEY}"\n[logging]\nfile_max_bytes = 10000\nfile_backups = 2\n'
    with agentbox_logging(home, config) as path:
        yield path


def all_secrets() -> list[str]:
    return [KEY, *SECRETS.values()]


def test_every_secret_is_masked_in_messages_args_and_exceptions(logging_setup: Path) -> None:
    log = logging.getLogger("agentbox.test")
    for secret in all_secrets():
        log.info("direct %s", secret)
        log.warning(f"inline {secret} in an f-string")
        log.info("url https://api.telegram.org/bot%s/getUpdates", secret)
    try:
        raise RuntimeError(f"the key {KEY} was rejected")
    except RuntimeError:
        log.exception("call failed")
    logging.getLogger("httpx").warning("HTTP Request: POST https://x/bot%s/sendMessage", SECRETS["TELEGRAM_BOT_TOKEN"])
    text = logging_setup.read_text()
    for secret in all_secrets():
        assert secret not in text
    assert text.count(MASK) >= 3 * len(all_secrets()) + 2
    exception_line = next(line for line in text.splitlines() if "call failed" in line)
    assert "RuntimeError: the key *** was rejected" in exception_line and "Traceback" in exception_line


def test_one_line_per_event_with_session_and_message_id(logging_setup: Path) -> None:
    log = session_logger(logging.getLogger("agentbox.gateway.lifecycle"), "telegram:dm:42", "1001")
    log.info("answered\nin two lines")
    logging.getLogger("agentbox.other").info("no context")
    lines = logging_setup.read_text().splitlines()
    assert len(lines) == 2
    assert "session=telegram:dm:42 msg=1001 answered ⏎ in two lines" in lines[0]
    assert lines[1].endswith(" INFO agentbox.other no context") and "session=" not in lines[1]  # no empty fields


def test_file_rotates_at_the_configured_size(logging_setup: Path) -> None:
    log = logging.getLogger("agentbox.test")
    for i in range(400):
        log.info("line %d %s", i, "x" * 80)
    rotated = sorted(p.name for p in logging_setup.parent.iterdir())
    assert rotated == ["agentbox.log", "agentbox.log.1", "agentbox.log.2"]
    assert logging_setup.stat().st_size <= 10_000


def test_uncaught_exception_hook_masks(logging_setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError(f"boom with {SECRETS['DISCORD_BOT_TOKEN']}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "ValueError: boom with ***" in err and SECRETS["DISCORD_BOT_TOKEN"] not in err


def test_redactor_masks_longest_first_and_ignores_short_values() -> None:
    redact = Redactor(["abcdefgh", "abcdefgh-longer", "ab"])
    assert redact("x abcdefgh-longer y abcdefgh z ab") == "x *** y *** z ab"


def test_collect_secrets_reads_dotenv_and_named_env_vars(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / ".env").write_text("MY_TELEGRAM='123:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'\n")
    (home / "config.toml").write_text('[channels.telegram]\ntoken_env = "MY_TELEGRAM"\n')
    monkeypatch.setenv("CUSTOM_SERVICE_PASSWORD", "hunter2hunter2")
    found = collect_secrets(load_config())
    assert "123:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" in found and "hunter2hunter2" in found


def test_gateway_token_created_at_start_is_masked_at_once(logging_setup: Path, home: Path) -> None:
    from agentbox.gateway.control import ControlServer

    async def status() -> dict[str, object]:
        return {}

    assert not (home / "gateway.token").exists()
    ControlServer(home=home, host="127.0.0.1", port=0, allow_non_loopback=False, status=status)
    token = (home / "gateway.token").read_text().strip()
    logging.getLogger("agentbox.test").warning("Authorization: Bearer %s", token)
    assert token not in logging_setup.read_text() and "Bearer ***" in logging_setup.read_text()


def test_collect_secrets_reads_skill_config_secrets_but_not_ordinary_settings(home: Path) -> None:
    (home / "config.toml").write_text(
        '[skills.config.weather]\napi_token = "wx-token-value-123"\nunits = "metric-units"\nsort_key = "created"\n'
        '[skills.config.weather.env]\nOPENWEATHER_KEY = "owk-from-config-456"\n'
        '[skills.config.maps]\nclient_secret = "maps-secret-789"\n'
    )
    found = collect_secrets(load_config())
    assert {"wx-token-value-123", "owk-from-config-456", "maps-secret-789"} <= found
    assert "metric-units" not in found and "created" not in found


def test_every_rotated_log_file_is_owner_only_whatever_the_umask(home: Path) -> None:
    previous = os.umask(0o022)  # the usual desktop umask: files would be created 0644
    try:
        with agentbox_logging(home, "[logging]\nfile_max_bytes = 10000\nfile_backups = 3\n") as path:
            for i in range(600):
                logging.getLogger("agentbox.test").info("line %d %s", i, "x" * 80)
            files = sorted(path.parent.iterdir())
    finally:
        os.umask(previous)
    assert [p.name for p in files] == ["agentbox.log", "agentbox.log.1", "agentbox.log.2", "agentbox.log.3"]
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o600"}, modes
