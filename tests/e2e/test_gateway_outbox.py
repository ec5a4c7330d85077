"""End to end: replies the platform does not take at once wait in the outbox and arrive exactly once.

Real `agentbox gateway run` processes with the real Telegram, Slack and Discord clients against
the fakes, which answer 5xx to a number of sends; one gateway is killed (-9) while Telegram is
down and the reply goes out after the restart.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gatewayproc import GatewayProcess, gateway_env, start_gateway, wait_for
from tests.e2e.platforms import SlackEvents, inbox_settled, start_platform_gateway
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

ALICE = 835750362
OPEN_NO_STREAM = "dm_policy = 'open'\nstreaming = 'off'"  # one sendMessage per reply: the failures hit it
ANSWERED = re.compile(
    r"INFO agentbox\.gateway\.dispatch session=(\S+) msg=(\S+) answered with (\S+): [\d,]+ in / [\d,]+ out tokens in \d+\.\d s"
)


def echoes(fake_telegram: FakeTelegram, text: str) -> list[str]:
    return [t for t in fake_telegram.sent_messages(ALICE) if t == f"echo: {text}"]


def outbox_waiting(gateway: GatewayProcess) -> int:
    return int(gateway.status()[1]["outbox"]["waiting"])


@pytest.mark.slow  # real backoff: the outbox's (2 s, 4 s, ...) and the SDK's own
def test_telegram_502_on_four_sends_in_a_row_still_delivers_once(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, OPEN_NO_STREAM)
    processes.append(gateway)
    gateway.wait_ready()
    fake_telegram.fail_next("sendMessage", 502, times=4)  # the connector's own retries give up after four
    question = fake_telegram.push_text(ALICE, "are you there?")
    wait_for(lambda: echoes(fake_telegram, "are you there?"), timeout=30, what=f"the answer; log:\n{gateway.log}")
    assert inbox_settled(gateway, 1) == {"done": 1}
    assert outbox_waiting(gateway) == 0
    assert gateway.terminate() == 0
    assert echoes(fake_telegram, "are you there?") == ["echo: are you there?"]  # exactly once
    assert len(fake_telegram.calls_to("sendMessage")) == 5
    assert len(fake_aimlapi.chat_requests()) == 1
    log = gateway.log
    assert "kept in the outbox" in log and "delivered the waiting reply" in log
    [answered] = ANSWERED.findall(log)
    assert answered == (f"telegram:dm:{ALICE}", str(question["message"]["message_id"]), "gpt-4o-mini")
    assert "session=- " not in log and "msg=- " not in log  # no empty context fields


@pytest.mark.slow  # real backoff: the outbox's (2 s, 4 s, ...) and the SDK's own
def test_a_reply_waiting_when_the_gateway_is_killed_goes_out_once_after_restart(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, OPEN_NO_STREAM)
    processes.append(gateway)
    gateway.wait_ready()
    fake_telegram.fail_next("sendMessage", 502, times=10_000)  # Telegram is down for good
    fake_telegram.push_text(ALICE, "answer me later")
    wait_for(lambda: outbox_waiting(gateway) == 1, timeout=30, what=f"the queued reply; log:\n{gateway.log}")
    gateway.kill()  # kill -9, mid-backoff
    fake_telegram.clear_failures()  # Telegram is back
    restarted = GatewayProcess(home, gateway_env(home, fake_aimlapi, fake_telegram))
    processes.append(restarted)
    wait_for(lambda: echoes(fake_telegram, "answer me later"), timeout=30, what=f"the answer; log:\n{restarted.log}")
    assert inbox_settled(restarted, 1) == {"done": 1}
    assert restarted.terminate() == 0
    assert echoes(fake_telegram, "answer me later") == ["echo: answer me later"]
    assert len(fake_aimlapi.chat_requests()) == 1  # the stored reply, not a second model call


@pytest.mark.slow  # real backoff: the outbox's (2 s, 4 s, ...) and the SDK's own
def test_slack_5xx_on_several_posts_still_delivers_once(
    home: Path, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack, processes: list[Any]
) -> None:
    config = f'mode = "http"\nhttp_host = "127.0.0.1"\nhttp_port = 0\napi_base_url = "{fake_slack.api_url}"\n'
    config += 'dm_policy = "open"\n'
    gateway = start_platform_gateway(
        home,
        fake_aimlapi,
        "slack",
        config,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SLACK_SIGNING_SECRET=fake_slack.signing_secret,
    )
    processes.append(gateway)
    gateway.wait_ready()
    events = SlackEvents(gateway, fake_slack)
    fake_slack.fail_next("chat.postMessage", status=500, error="internal_error", times=4)
    ts = SlackEvents.next_ts()
    event = {"type": "message", "channel": "D0ALICE", "channel_type": "im", "user": "U0ALICE", "ts": ts}
    assert events.event({**event, "text": "hello slack"}) == 200
    wait_for(lambda: "echo: hello slack" in fake_slack.posted("D0ALICE"), timeout=30, what=f"answer:\n{gateway.log}")
    assert inbox_settled(gateway, 1) == {"done": 1}
    assert gateway.terminate() == 0
    assert fake_slack.posted("D0ALICE") == ["echo: hello slack"]
    assert "kept in the outbox" in gateway.log


@pytest.mark.slow  # real backoff: the outbox's (2 s, 4 s, ...) and the SDK's own
def test_discord_5xx_on_several_sends_still_delivers_once(
    home: Path, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord, processes: list[Any]
) -> None:
    config = (
        f'api_base_url = "{fake_discord.api_base_url}"\ngateway_url = "{fake_discord.ws_url}"\n'
        'slash_commands = false\ndm_policy = "open"\n'
    )
    gateway = start_platform_gateway(home, fake_aimlapi, "discord", config, DISCORD_BOT_TOKEN=fake_discord.token)
    processes.append(gateway)
    gateway.wait_ready()
    fake_discord.fail_next("POST /channels/{channel_id}/messages", status=503, times=3)
    fake_discord.push_message(content="hello discord")
    wait_for(lambda: "echo: hello discord" in fake_discord.sent(), timeout=30, what=f"answer:\n{gateway.log}")
    assert inbox_settled(gateway, 1) == {"done": 1}
    assert gateway.terminate() == 0
    assert [text for text in fake_discord.sent() if "hello discord" in text] == ["echo: hello discord"]
    assert "kept in the outbox" in gateway.log


def test_status_exits_non_zero_while_a_connector_has_failed(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    from tests.helpers import run_cli

    # Telegram works; Slack is enabled without its tokens: the gateway keeps running for Telegram.
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, "[channels.slack]\nenabled = true")
    processes.append(gateway)
    gateway.wait_ready()
    wait_for(lambda: gateway.status()[1]["connectors"]["slack"]["state"].startswith("failed"), what="slack failed")
    shown = run_cli("status", env=gateway.env)
    assert shown.returncode == 3, shown.stdout + shown.stderr
    assert "telegram: ready" in shown.stdout and "slack: failed: " in shown.stdout
    assert gateway.proc.poll() is None
    assert gateway.terminate(signal.SIGINT) == 0
