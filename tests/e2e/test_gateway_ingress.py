"""End to end: other software talking to a real `agentbox gateway run` process.

A signed webhook accepted just before a kill -9 is delivered once after the restart; Telegram in
webhook mode gets its updates posted by the fake Bot API through the "proxy"; the OpenAI SDK
talks to the gateway's API. Everything is served by the one HTTP server of the gateway.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest

from agentbox.hooks.signature import sign
from tests.e2e.gatewayproc import GatewayProcess, gateway_config, gateway_env, wait_for
from tests.e2e.platforms import inbox_settled
from tests.fakes.aimlapi import FakeAimlapi, Hang
from tests.fakes.telegram import FakeTelegram
from tests.helpers import write_config

ALICE = 835750362
SECRET = secrets.token_hex(32)
HOOK = f"""
[[hooks]]
name = "ci"
secret_env = "CI_HOOK_SECRET"
deliver_to = "telegram:{ALICE}"
template = "Build {{{{payload.build.id}}}} of {{{{payload.repo}}}} failed: {{{{payload.build.log_tail}}}}"
"""
PAYLOAD = {"repo": "acme/billing", "build": {"id": 4711, "log_tail": "OOMKilled after 4m12s (exit 137)"}}
ANSWER = "echo: Build 4711 of acme/billing failed: OOMKilled after 4m12s (exit 137)"


def port_of(home: Path) -> int:
    return int(json.loads((home / "gateway.json").read_text())["port"])


def post(home: Path, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port_of(home)}{path}", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def deliver(home: Path, delivery: str) -> tuple[int, Any]:
    body = json.dumps(PAYLOAD).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Agentbox-Signature": sign(SECRET, body),
        "Idempotency-Key": delivery,
    }
    return post(home, "/hooks/ci", body, headers)


@pytest.mark.slow  # two gateway starts
def test_a_hook_delivery_accepted_before_a_kill_is_delivered_once_after_the_restart(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    write_config(home, gateway_config(fake_telegram, "streaming = 'off'") + HOOK)
    env = gateway_env(home, fake_aimlapi, fake_telegram, CI_HOOK_SECRET=SECRET)
    fake_aimlapi.script(Hang(60))  # the first model call never answers: the gateway dies during it
    gateway = GatewayProcess(home, env)
    processes.append(gateway)
    gateway.wait_ready()
    assert deliver(home, "build-4711") == (202, {"id": "build-4711", "hook": "ci", "status": "accepted"})
    wait_for(lambda: fake_aimlapi.chat_requests(), timeout=30, what=f"the turn to start; log:\n{gateway.log}")
    gateway.kill()  # kill -9 between the 202 and the delivery
    assert fake_telegram.sent_messages(ALICE) == []

    restarted = GatewayProcess(home, env)
    processes.append(restarted)
    restarted.wait_ready()
    wait_for(lambda: fake_telegram.sent_messages(ALICE), timeout=30, what=f"the answer; log:\n{restarted.log}")
    assert inbox_settled(restarted, 1) == {"done": 1}
    assert deliver(home, "build-4711")[1]["status"] == "duplicate"  # the sender retries after the crash
    assert restarted.terminate() == 0
    assert fake_telegram.sent_messages(ALICE) == [ANSWER]  # once
    assert "hook ci: resuming delivery build-4711" in restarted.log
    assert SECRET not in gateway.log + restarted.log


def test_telegram_webhook_mode_end_to_end(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    webhook = "dm_policy = 'open'\nstreaming = 'off'\nmode = 'webhook'\n"
    webhook += "webhook_url = 'https://bot.example.org/telegram/webhook'"
    write_config(home, gateway_config(fake_telegram, webhook))
    gateway = GatewayProcess(home, gateway_env(home, fake_aimlapi, fake_telegram, TELEGRAM_WEBHOOK_SECRET=SECRET))
    processes.append(gateway)
    gateway.wait_ready()
    fake_telegram.webhook_target = f"http://127.0.0.1:{port_of(home)}"  # the reverse proxy
    fake_telegram.push_text(ALICE, "Привет через вебхук")
    wait_for(lambda: fake_telegram.sent_messages(ALICE), timeout=30, what=f"the answer; log:\n{gateway.log}")
    assert fake_telegram.sent_messages(ALICE) == ["echo: Привет через вебхук"]
    stranger = json.dumps({"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1}}}).encode()
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
        assert post(home, "/telegram/webhook", stranger, headers)[0] == 401
    assert inbox_settled(gateway, 1) == {"done": 1}
    assert gateway.terminate() == 0
    assert not fake_telegram.calls_to("getUpdates") and fake_telegram.webhook["secret_token"] == SECRET
    assert SECRET not in gateway.log


def test_the_openai_sdk_against_a_gateway_process(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    write_config(home, gateway_config(fake_telegram))
    gateway = GatewayProcess(home, gateway_env(home, fake_aimlapi, fake_telegram))
    processes.append(gateway)
    gateway.wait_ready()
    token = (home / "gateway.token").read_text().strip()
    with openai.OpenAI(base_url=f"http://127.0.0.1:{port_of(home)}/v1", api_key=token, max_retries=0) as client:
        assert [m.id for m in client.models.list().data] == ["agentbox/main"]
        answer = client.chat.completions.create(
            model="main", messages=[{"role": "user", "content": "ping"}], user="ops"
        )
        assert answer.choices[0].message.content == "echo: ping"
    assert gateway.terminate() == 0
