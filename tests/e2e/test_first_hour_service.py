"""The README's Telegram path ends with a service that answers: the key exported only in the shell is
saved by `daemon install --store-key`, and a gateway started the way the service manager starts it
(the unit's own environment, nothing from the shell) reaches the model with it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tests.e2e.gatewayproc import GatewayProcess, gateway_config, wait_for
from tests.helpers import API_KEY, cli_env, run_cli, write_config

ALICE = 835750362


def unit_environment(unit: str) -> dict[str, str]:
    """The `Environment="K=V"` lines of a systemd unit, as the service manager would set them."""
    pairs = re.findall(r'^Environment="([^=]+)=(.*)"$', unit, re.MULTILINE)
    return {name: value.replace('\\"', '"').replace("%%", "%").replace("\\\\", "\\") for name, value in pairs}


def test_a_key_exported_only_in_the_shell_reaches_the_installed_service(
    processes: list[GatewayProcess], home: Path, fake_aimlapi: Any, fake_telegram: Any, tmp_path: Path
) -> None:
    fake_aimlapi.api_key = API_KEY  # any other key, or none, gets a 401
    write_config(
        home, gateway_config(fake_telegram, "dm_policy = 'open'") + f'[aimlapi]\nbase_url = "{fake_aimlapi.url}/v1"\n'
    )
    user = {"HOME": str(tmp_path / "user"), "XDG_CONFIG_HOME": str(tmp_path / "user" / ".config")}
    shell = cli_env(home, TELEGRAM_BOT_TOKEN=fake_telegram.token, **user)  # the key and token: exported only here
    installed = run_cli("daemon", "install", "--no-start", "--store-key", env=shell)
    assert installed.returncode == 0, installed.stderr
    assert API_KEY not in installed.stdout + installed.stderr

    unit = (tmp_path / "user" / ".config" / "systemd" / "user" / "agentbox.service").read_text()
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    service = {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(run_dir), **user, **unit_environment(unit)}
    assert not {"AIMLAPI_API_KEY", "TELEGRAM_BOT_TOKEN"} & service.keys()  # nothing inherited from the shell
    gateway = GatewayProcess(home, service)
    processes.append(gateway)
    gateway.wait_ready()

    fake_telegram.push_text(ALICE, "are you there?")
    wait_for(
        lambda: "echo: are you there?" in fake_telegram.sent_messages(ALICE), what=f"the answer; log:\n{gateway.log}"
    )
    assert len(fake_aimlapi.chat_requests()) == 1
    assert API_KEY not in gateway.log
    assert gateway.terminate() == 0
