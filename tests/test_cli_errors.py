"""Errors that say what to change: the port key, where a rejected key came from, --model, the closest key."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clirun import invoke, invoke_cli
from tests.fakes.aimlapi import Fail
from tests.helpers import cli_env, write_config


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program is listening on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_gateway_on_a_taken_port_names_the_key_and_a_free_choice(home: Path, taken_port: int) -> None:
    config = write_config(home, f"[gateway]\nport = {taken_port}\n")
    done = invoke_cli("gateway", "run", env=cli_env(home))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"port {taken_port} on 127.0.0.1 is already in use" in done.stderr
    assert f"`port = {taken_port + 1}` under [gateway] in {config}" in done.stderr


def test_doctor_online_finds_the_taken_port(home: Path, taken_port: int, fake_aimlapi) -> None:
    write_config(home, f"[gateway]\nport = {taken_port}\n")
    done = invoke(home, "doctor", "--online", AIMLAPI_BASE_URL=fake_aimlapi.url + "/v1")
    assert f"✗ gateway port: 127.0.0.1:{taken_port} ([gateway] port) is in use" in done.stdout
    assert f"`port = {taken_port + 1}` under [gateway]" in done.stdout


def test_doctor_online_with_a_free_port(home: Path, fake_aimlapi) -> None:
    with socket.socket() as probe:  # a port free right now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_config(home, f"[gateway]\nport = {port}\n")
    done = invoke(home, "doctor", "--online", AIMLAPI_BASE_URL=fake_aimlapi.url + "/v1")
    assert f"✓ gateway port: 127.0.0.1:{port} is free" in done.stdout


def test_rejected_key_in_the_cli_names_where_it_came_from(home: Path, fake_aimlapi) -> None:
    fake_aimlapi.script(Fail(401))
    done = invoke_cli("agent", "-m", "hi", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 1
    assert "The AI/ML API rejected the key (401). It came from the AIMLAPI_API_KEY environment variable" in done.stdout

    write_config(home, '[aimlapi]\napi_key = "sk-from-the-config-file-0123"\n')
    env = cli_env(home, fake_aimlapi)
    del env["AIMLAPI_API_KEY"]
    fake_aimlapi.script(Fail(401))
    done = invoke_cli("agent", "-m", "hi", env=env)
    assert f"It came from [aimlapi] api_key in {home / 'config.toml'}" in done.stdout


def test_unknown_model_in_agent_suggests_the_flag_and_chat_keeps_its_command(home: Path, fake_aimlapi) -> None:
    fake_aimlapi.script(Fail(404))
    done = invoke_cli("agent", "-m", "hi", "--model", "no/such-model", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 1
    assert "does not know the model 'no/such-model' (404). Run again with --model ID" in done.stdout
    assert "Try /model" not in done.stdout

    fake_aimlapi.script(Fail(404))
    chat = invoke_cli("chat", env=cli_env(home, fake_aimlapi), input="hi\n/exit\n")
    assert "Try /model with another id" in chat.stdout and "--model" not in chat.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[channels.telegram]\ndm_polcy = 'open'\n",
            "channels.telegram.dm_polcy: unknown key (did you mean dm_policy?)",
        ),
        ("[gateway]\nprot = 1\n", "gateway.prot: unknown key (did you mean port?)"),
        ("[agents.work]\nmodle = 'gpt-4o'\n", "agents.work.modle: unknown key (did you mean model?)"),
        ("[[bindings]]\nchanel = 'slack'\nagent = 'main'\n", "bindings.0.chanel: unknown key (did you mean channel?)"),
        ("[limits.prices.'gpt-4o']\ninput_per_mtk = 1\n", "input_per_mtk: unknown key (did you mean input_per_mtok?)"),
        ("[aimlapi.retry]\natempts = 3\n", "aimlapi.retry.atempts: unknown key (did you mean attempts?)"),
        ("[nonsense]\nx = 1\n", "nonsense: unknown key\n"),
    ],
)
def test_config_typos_suggest_the_closest_key(home: Path, text: str, expected: str) -> None:
    path = write_config(home, text)
    done = invoke(home, "sessions", "list")
    assert done.exit_code == 2 and f"{path}: " in done.stderr
    assert expected in done.stderr + "\n", done.stderr
