"""A user service does not inherit the shell: a key exported only there must not make a service that dies.

`daemon install` saves shell-only secrets to AGENTBOX_HOME/.env (asked, or --store-key) or installs
nothing and prints the exact fix; `onboard --api-key-env-only` says the same; `doctor` flags an
installed unit that would start without them.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from agentbox.envfile import parse_env
from tests.clirun import invoke
from tests.helpers import API_KEY, cli_env, write_config
from tests.ptyproc import PtyProcess

TG = "123456789:AAHfakeTelegramTokenValue_abcdefghij"


@pytest.fixture
def user_home(tmp_path: Path) -> dict[str, str]:
    """HOME and XDG_CONFIG_HOME of a fresh user account, where the service file goes."""
    return {"HOME": str(tmp_path / "user"), "XDG_CONFIG_HOME": str(tmp_path / "user" / ".config")}


def unit_path(user_home: dict[str, str]) -> Path:
    return Path(user_home["XDG_CONFIG_HOME"]) / "systemd" / "user" / "agentbox.service"


def dotenv(home: Path) -> dict[str, str]:
    path = home / ".env"
    return parse_env(path.read_text()) if path.exists() else {}


def test_key_only_in_the_shell_installs_nothing_and_names_the_fix(home: Path, user_home: dict[str, str]) -> None:
    done = invoke(home, "daemon", "install", "--no-start", "--non-interactive", **user_home)
    assert done.exit_code == 2
    assert "AIMLAPI_API_KEY (AI/ML API key) is set only in this shell" in done.stderr
    assert "fix: `agentbox daemon install --store-key`" in done.stderr and f"{home / '.env'}" in done.stderr
    assert not unit_path(user_home).exists() and "AIMLAPI_API_KEY" not in dotenv(home)
    assert API_KEY not in done.output


def test_store_key_saves_the_shell_secrets_privately(home: Path, user_home: dict[str, str]) -> None:
    write_config(home, "[channels.telegram]\nenabled = true\n")
    done = invoke(home, "daemon", "install", "--no-start", "--store-key", TELEGRAM_BOT_TOKEN=TG, **user_home)
    assert done.exit_code == 0, done.output
    assert "Saved AIMLAPI_API_KEY, TELEGRAM_BOT_TOKEN to" in done.stdout and unit_path(user_home).exists()
    assert dotenv(home) == {"AIMLAPI_API_KEY": API_KEY, "TELEGRAM_BOT_TOKEN": TG}
    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    assert API_KEY not in done.output and TG not in done.output
    # What the service will see: everything, from the file, with nothing exported.
    from agentbox.ops.servicesecrets import service_secrets

    seen = service_secrets(environ={}, env_file=dotenv(home))
    assert [(s.env_name, s.where) for s in seen] == [
        ("AIMLAPI_API_KEY", "env file"),
        ("TELEGRAM_BOT_TOKEN", "env file"),
    ]


def test_key_in_the_config_file_needs_nothing(home: Path, user_home: dict[str, str]) -> None:
    write_config(home, f'[aimlapi]\napi_key = "{API_KEY}"\n').chmod(0o600)
    done = invoke(home, "daemon", "install", "--no-start", "--non-interactive", AIMLAPI_API_KEY="", **user_home)
    assert done.exit_code == 0, done.output
    assert unit_path(user_home).exists() and not (home / ".env").exists()


def test_no_key_anywhere_is_refused(home: Path, user_home: dict[str, str]) -> None:
    done = invoke(home, "daemon", "install", "--no-start", AIMLAPI_API_KEY="", **user_home)
    assert done.exit_code == 2 and "AIMLAPI_API_KEY (AI/ML API key) is not set" in done.stderr
    assert "`AIMLAPI_API_KEY=...`" in done.stderr and not unit_path(user_home).exists()


@pytest.mark.e2e
def test_interactive_install_asks_before_saving(home: Path, user_home: dict[str, str]) -> None:
    proc = PtyProcess(["daemon", "install", "--no-start"], cli_env(home, **user_home))
    try:
        proc.expect("a service does not see variables exported in your shell.")
        proc.expect("(mode 0600) so the service can read it? [Y/n]:")
        proc.type("y\r")
        proc.expect("Saved AIMLAPI_API_KEY to")
        assert proc.exit_code() == 0
    finally:
        proc.close()
    assert dotenv(home) == {"AIMLAPI_API_KEY": API_KEY} and unit_path(user_home).exists()


def test_doctor_flags_an_installed_service_that_would_start_without_the_key(
    home: Path, user_home: dict[str, str]
) -> None:
    assert invoke(home, "daemon", "install", "--no-start", "--store-key", **user_home).exit_code == 0
    healthy = json.loads(invoke(home, "doctor", "--json", **user_home).stdout)
    assert {c["name"]: c["status"] for c in healthy["checks"]}["service"] == "ok"
    (home / ".env").write_text("# emptied\n")  # the key now lives only in the shell again
    (home / ".env").chmod(0o600)
    done = invoke(home, "doctor", **user_home)
    assert done.exit_code == 1
    assert "✗ service: the installed service would start without them: AIMLAPI_API_KEY" in done.stdout
    assert "fix: `agentbox daemon install --store-key`" in done.stdout


def test_onboard_env_only_says_a_service_would_not_see_the_key(home: Path) -> None:
    args = ["onboard", "--non-interactive", "--api-key-env-only", "--enable", "telegram", "--telegram-token", TG]
    done = invoke(home, *args)
    assert done.exit_code == 0, done.output
    assert "AIMLAPI_API_KEY is set only in this shell" in done.stdout and "--store-key" in done.stdout
    assert "AIMLAPI_API_KEY" not in dotenv(home)
    stored = invoke(home, *args, "--store-key")
    assert stored.exit_code == 0 and "Saved AIMLAPI_API_KEY to" in stored.stdout
    assert dotenv(home) == {"TELEGRAM_BOT_TOKEN": TG, "AIMLAPI_API_KEY": API_KEY}
    assert "API key: AIMLAPI_API_KEY in .env" in stored.stdout


def test_broken_config_installs_nothing_and_names_the_key(home: Path, user_home: dict[str, str]) -> None:
    # The typo hid the enabled channel from the token check; the service would die on the same config.
    write_config(home, '[channels.telegram]\nenabled = true\ndm_polcy = "open"\n')
    done = invoke(home, "daemon", "install", "--no-start", "--store-key", **user_home)
    assert done.exit_code == 2, done.output
    assert f"{home / 'config.toml'}" in done.stderr and "dm_polcy" in done.stderr
    assert "fix it, then run this again" in done.stderr
    assert not unit_path(user_home).exists() and not (home / ".env").exists()
