"""Telegram in webhook mode: the real connector and a real gateway, with the fake Bot API posting updates.

The fake stands for Telegram and, through `webhook_target`, for the reverse proxy in front of the
gateway: it posts every pending update, in order, to the gateway's `/telegram/webhook` with the
secret header, and keeps it until the gateway answered 200.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agentbox.config import ConfigError, parse_config
from agentbox.connectors.telegram.connector import TelegramConnector, create
from agentbox.connectors.telegram.settings import TelegramConfig
from agentbox.gateway.telegram_webhook import gateway_service
from agentbox.messages import ConnectorState
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.telegram import FakeTelegram
from tests.gatewaykit import running_gateway, wait_until

ALICE = 835750362
PUBLIC_URL = "https://bot.example.org/telegram/webhook"
SECRET = secrets.token_hex(32)


def settings(fake: FakeTelegram, mode: str) -> str:
    return (
        "[channels.telegram]\nenabled = true\ndm_policy = 'open'\nstreaming = 'off'\npoll_timeout = 1\n"
        f"api_base_url = '{fake.url}'\nmode = '{mode}'\nwebhook_url = '{PUBLIC_URL}'\n"
    )


def connector_for(fake: FakeTelegram, mode: str, lock_dir: Path) -> TelegramConnector:
    config = TelegramConfig(enabled=True, api_base_url=fake.url, mode=mode, webhook_url=PUBLIC_URL, poll_timeout=1)
    env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_WEBHOOK_SECRET": SECRET}
    connector = create(config, env)
    connector._lock_dir = lock_dir  # each test its own per-token lock
    return connector


@asynccontextmanager
async def gateway_in(
    mode: str, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, check_every: float = 60.0
) -> AsyncIterator[Any]:
    """A gateway with the real Telegram connector in `mode`; in webhook mode the fake's proxy points at it."""
    connector = connector_for(fake_telegram, mode, home.parent / "locks")
    connector.webhook_check_interval = check_every
    async with running_gateway(
        fake_aimlapi, home, connector, config=settings(fake_telegram, mode), services=[gateway_service]
    ) as gateway:
        if mode == "webhook":
            fake_telegram.webhook_target = f"http://127.0.0.1:{gateway.control.port}"
        yield gateway
    fake_telegram.webhook_target = None  # the gateway is gone: what Telegram posts now fails


ANSWER = 30.0  # seconds an answer may take on a loaded machine (the first turn of a process imports the SDK)


def echoes(fake: FakeTelegram) -> list[str]:
    return fake.sent_messages(ALICE)


async def settled(gateway: Any) -> dict[str, int]:
    """The inbox counts once no message is pending any more (the row is marked after the send)."""
    for _ in range(3000):
        counts = dict(await gateway.store.inbox.counts())
        if counts and "pending" not in counts and "outbox" not in counts:
            return counts
        await asyncio.sleep(0.01)
    raise AssertionError(f"messages still pending: {counts}")


async def test_webhook_mode_sets_the_webhook_and_answers_what_telegram_posts(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path
) -> None:
    async with gateway_in("webhook", fake_aimlapi, fake_telegram, home) as gateway:
        [params] = fake_telegram.calls_to("setWebhook")
        assert params["url"] == PUBLIC_URL and params["secret_token"] == SECRET
        assert params["allowed_updates"] == ["message"] and params["drop_pending_updates"] in (False, "false")
        assert not fake_telegram.calls_to("getUpdates") and not fake_telegram.calls_to("deleteWebhook")
        fake_telegram.push_text(ALICE, "Wie spät ist es in Tokio? 🗼")
        await wait_until(lambda: echoes(fake_telegram) == ["echo: Wie spät ist es in Tokio? 🗼"], ANSWER)
        assert [(p.status, p.with_secret) for p in fake_telegram.webhook_posts] == [(200, True)]
        assert await settled(gateway) == {"done": 1}
    assert fake_telegram.webhook_url == PUBLIC_URL  # left set: Telegram keeps updates while the gateway is down


async def test_requests_without_the_secret_are_refused_and_a_resent_update_is_answered_once(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path
) -> None:
    update = {
        "update_id": 900001,
        "message": {
            "message_id": 77,
            "date": 1_760_000_000,
            "chat": {"id": ALICE, "type": "private", "first_name": "Alice"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "Alice"},
            "text": "only once, please",
        },
    }
    body = json.dumps(update)
    async with gateway_in("webhook", fake_aimlapi, fake_telegram, home) as gateway:
        url = f"http://127.0.0.1:{gateway.control.port}/telegram/webhook"
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]}, {"Authorization": "Bearer x"}):
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 401
            assert await gateway.store.inbox.counts() == {}  # nothing stored for a stranger
            for _ in range(2):  # Telegram sends again when it did not see our 200 (a timeout, a crash)
                async with http.post(url, data=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
                    assert response.status == 200
        await wait_until(lambda: echoes(fake_telegram) == ["echo: only once, please"], ANSWER)
        assert await settled(gateway) == {"done": 1}
    assert len(fake_aimlapi.chat_requests()) == 1


async def test_an_update_that_could_not_be_stored_gets_500_and_telegram_sends_it_again(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_in("webhook", fake_aimlapi, fake_telegram, home) as gateway:
        inbox = gateway.store.inbox
        add, attempts = inbox.add, []

        async def locked_once(inbound: Any) -> Any:
            attempts.append(inbound.message_id)
            if len(attempts) == 1:
                raise sqlite3.OperationalError("database is locked")
            return await add(inbound)

        monkeypatch.setattr(inbox, "add", locked_once)
        fake_telegram.push_text(ALICE, "store me")
        await wait_until(lambda: echoes(fake_telegram) == ["echo: store me"], ANSWER)
        assert [p.status for p in fake_telegram.webhook_posts] == [500, 200]
        assert len(attempts) == 2 and await settled(gateway) == {"done": 1}
    assert len(fake_aimlapi.chat_requests()) == 1


async def test_while_the_connector_restarts_the_webhook_answers_503_and_telegram_sends_again(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path
) -> None:
    async with gateway_in("webhook", fake_aimlapi, fake_telegram, home) as gateway:
        slot = gateway.slots["telegram"]
        fake_telegram.hold("setWebhook")  # the restart waits in setWebhook until released
        slot.connector.status.set(ConnectorState.FAILED, "token revoked")  # what the connector reports
        await wait_until(lambda: not slot.ready.is_set(), ANSWER)
        fake_telegram.push_text(ALICE, "are you back?")
        await wait_until(lambda: fake_telegram.webhook_posts, ANSWER)
        fake_telegram.release()
        await wait_until(lambda: echoes(fake_telegram) == ["echo: are you back?"], ANSWER)
        statuses = [p.status for p in fake_telegram.webhook_posts]
        assert statuses[0] == 503 and statuses[-1] == 200 and set(statuses[:-1]) == {503}, statuses
        assert slot.restarts == 1 and await settled(gateway) == {"done": 1}
    assert len(fake_aimlapi.chat_requests()) == 1


async def test_switching_between_polling_and_webhook_loses_nothing(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path
) -> None:
    async with gateway_in("polling", fake_aimlapi, fake_telegram, home):
        fake_telegram.push_text(ALICE, "one")
        await wait_until(lambda: echoes(fake_telegram) == ["echo: one"], ANSWER)
    fake_telegram.push_text(ALICE, "two")  # sent while no gateway runs
    async with gateway_in("webhook", fake_aimlapi, fake_telegram, home):
        await wait_until(lambda: echoes(fake_telegram) == ["echo: one", "echo: two"], ANSWER)
    fake_telegram.push_text(ALICE, "three")  # Telegram tries the webhook, fails, keeps it
    await wait_until(lambda: fake_telegram.webhook_posts[-1].status == 0, ANSWER)
    async with gateway_in("polling", fake_aimlapi, fake_telegram, home):
        await wait_until(lambda: echoes(fake_telegram) == ["echo: one", "echo: two", "echo: three"], ANSWER)
    assert fake_telegram.calls_to("deleteWebhook")[-1]["drop_pending_updates"] in (False, "false")
    assert len(fake_aimlapi.chat_requests()) == 3  # each answered once


async def test_status_says_when_telegram_cannot_reach_the_webhook(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path
) -> None:
    async with gateway_in("webhook", fake_aimlapi, fake_telegram, home, check_every=0.05) as gateway:
        connector = gateway.slots["telegram"].connector
        fake_telegram.webhook_target = "http://127.0.0.1:9"  # a proxy that forwards nowhere
        fake_telegram.push_text(ALICE, "anyone there?")
        await wait_until(lambda: "cannot reach" in str(connector.status), ANSWER)
        assert "Connection refused" in str(connector.status) and "1 update(s) waiting" in str(connector.status)
        fake_telegram.webhook_target = f"http://127.0.0.1:{gateway.control.port}"  # the proxy is fixed
        await wait_until(lambda: echoes(fake_telegram) == ["echo: anyone there?"], ANSWER)
        await wait_until(lambda: str(connector.status) == "ready", ANSWER)


def test_webhook_mode_needs_a_public_https_url_and_a_secret(fake_telegram: FakeTelegram) -> None:
    base = "[channels.telegram]\nenabled = true\nmode = 'webhook'\n"
    with pytest.raises(ConfigError, match="webhook_url"):
        parse_config(base, source=Path("c.toml"))
    with pytest.raises(ConfigError, match="https://"):
        parse_config(base + "webhook_url = 'http://bot.example.org/telegram/webhook'\n", source=Path("c.toml"))
    config = TelegramConfig(enabled=True, mode="webhook", webhook_url=PUBLIC_URL)
    with pytest.raises(ConfigError, match=r"\$TELEGRAM_WEBHOOK_SECRET is not set"):
        create(config, {"TELEGRAM_BOT_TOKEN": fake_telegram.token})
    with pytest.raises(ConfigError, match="not a valid webhook secret"):
        create(config, {"TELEGRAM_BOT_TOKEN": fake_telegram.token, "TELEGRAM_WEBHOOK_SECRET": "has spaces"})
    [_, secret] = config.token_specs()
    assert (secret.env_name, secret.required) == ("TELEGRAM_WEBHOOK_SECRET", True)
    # Keys of the listener that never was are accepted from older files, and ignored.
    old = parse_config("[channels.telegram]\nwebhook_listen = '127.0.0.1'\nwebhook_port = 8443\n", source=Path("c"))
    assert old.channels.telegram.mode == "polling"


def test_updates_of_any_text_are_stored_as_sent(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path
) -> None:
    import httpx
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=4096).filter(str.strip)
    sent: list[str] = []  # up to 4096 characters: the most Telegram puts in one message

    async def run() -> None:
        async with gateway_in("webhook", fake_aimlapi, fake_telegram, home) as gateway:
            url = f"http://127.0.0.1:{gateway.control.port}/telegram/webhook"

            @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
            @given(text=texts)
            def post(text: str) -> None:
                n = len(sent) + 1
                chat = {"id": ALICE, "type": "private", "first_name": "Alice"}
                message = {"message_id": n, "date": 1_760_000_000, "chat": chat, "from": {**chat, "is_bot": False}}
                update = {"update_id": 910_000 + n, "message": {**message, "text": text}}
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
                answer = httpx.post(url, content=json.dumps(update, ensure_ascii=False).encode(), headers=headers)
                assert answer.status_code == 200, answer.text
                sent.append(text)

            await asyncio.to_thread(post)  # a sync client in a thread; the gateway serves on this loop
            assert await settled(gateway) == {"done": len(sent)}
            async with gateway.store.conn.execute("SELECT payload FROM inbox ORDER BY id") as cursor:
                stored = [json.loads(row["payload"])["text"] for row in await cursor.fetchall()]
        assert stored == sent  # each update once, its text as Telegram sent it

    asyncio.run(run())
    assert len(sent) >= 10
