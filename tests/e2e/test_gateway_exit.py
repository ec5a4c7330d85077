"""End to end: a gateway none of whose connectors can ever work says so last and exits 3.

A missing or rejected token, `mode = "webhook"` without its secret and a second poller on
the same token are fatal for the connector; with no other connector the process must not
idle forever looking healthy. The failure is logged once, never as a WARNING and then again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gatewayproc import GatewayProcess, gateway_config, gateway_env, start_gateway
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.telegram import FakeTelegram
from tests.helpers import write_config

EXIT_NO_CONNECTOR = 3


def _exits_saying_why(gateway: GatewayProcess, reason: str) -> list[str]:
    assert gateway.proc.wait(60) == EXIT_NO_CONNECTOR, gateway.log
    lines = gateway.log.strip().splitlines()
    assert "ERROR agentbox.cli.gateway_cmd no connector can work (telegram: failed: " in lines[-1], lines[-1]
    assert reason in lines[-1] and "start the gateway again" in lines[-1]
    mentions = [line for line in lines if reason in line]
    assert not [line for line in mentions if " WARNING " in line]  # logged once, as what it is
    assert len(mentions) == 2, mentions  # the connector's failure, then the last line
    return lines


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing token", "TELEGRAM_BOT_TOKEN is not set"),
        ("webhook mode without a secret", "TELEGRAM_WEBHOOK_SECRET is not set"),
        ("rejected token", "Telegram rejected the bot token"),
    ],
)
def test_no_working_connector_exits_3_and_says_so_last(
    case: str, reason: str, processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    webhook = 'mode = "webhook"\nwebhook_url = "https://bot.example.org/telegram/webhook"'
    write_config(home, gateway_config(fake_telegram, webhook if case.startswith("webhook") else ""))
    env = gateway_env(home, fake_aimlapi, fake_telegram)
    if case == "missing token":
        del env["TELEGRAM_BOT_TOKEN"]
    fake_telegram.bad_token = case == "rejected token"
    gateway = GatewayProcess(home, env)
    processes.append(gateway)
    _exits_saying_why(gateway, reason)


def test_a_second_poller_on_the_same_token_exits_3(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    first = start_gateway(home, fake_aimlapi, fake_telegram)
    processes.append(first)
    first.wait_ready()
    other_home = home.parent / "other-home"
    other_home.mkdir()
    write_config(other_home, gateway_config(fake_telegram))
    env = gateway_env(home, fake_aimlapi, fake_telegram)  # same token, same lock directory
    second = GatewayProcess(other_home, {**env, "AGENTBOX_HOME": str(other_home)})
    processes.append(second)
    _exits_saying_why(second, "is already polling this bot token")
    assert first.proc.poll() is None and first.connector_state() == "ready"  # the first one is untouched
    assert first.terminate() == 0


def test_no_connector_enabled_exits_3_and_says_how_to_enable_one(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    write_config(home, "[gateway]\nport = 0\n")
    gateway = GatewayProcess(home, gateway_env(home, fake_aimlapi, fake_telegram))
    processes.append(gateway)
    assert gateway.proc.wait(60) == EXIT_NO_CONNECTOR, gateway.log
    last = gateway.log.strip().splitlines()[-1]
    assert (
        "ERROR agentbox.cli.gateway_cmd no connector is enabled: set enabled = true under [channels.telegram]" in last
    )
