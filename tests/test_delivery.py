"""Reply delivery in-process: what the platform does not take waits in the outbox and goes out once, in order.

A fake connector implementing the protocol plays the platform (`down`, `fail_sends`,
`reject_sends`); the store, the turn runner and the fake AI/ML API are real. The same shape
through the real Telegram, Slack and Discord clients is in tests/e2e/test_gateway_outbox.py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from agentbox.gateway.delivery import DeliveryService
from agentbox.messages import Address, ConnectorError, Outbound
from agentbox.store import Store
from agentbox.store.outbox import NewEntry
from tests.gatewaykit import FakeConnector, FakeStream, StreamingFakeConnector, inbound, running_gateway, wait_until

OPEN = "[channels.telegram]\ndm_policy = 'open'\n"


async def _settled(gw, done: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The inbox counts once `done` rows are answered and no session is busy."""
    deadline = asyncio.get_running_loop().time() + 10.0
    while True:
        counts = await gw.store.inbox.counts()
        if counts.get("done", 0) >= done and gw.dispatcher.active_sessions == 0:
            return counts
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the inbox never reached {done} done: {counts}")
        await asyncio.sleep(0.01)


async def test_a_reply_the_platform_did_not_take_is_delivered_once_when_it_is_back(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector(down=True)
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("are you there?", message_id="103"))
        await wait_until(lambda: tg.send_attempts >= 3)  # the direct try, then retries from the outbox
        status = await gw.status()
        counts_while_down = await gw.store.inbox.counts()
        tg.down = False
        await wait_until(lambda: tg.sent)
        counts = await _settled(gw, 1)
        backlog_after = (await gw.status())["outbox"]
    assert status["outbox"]["waiting"] == 1 and status["outbox"]["by_channel"] == {"telegram": 1}
    assert status["outbox"]["oldest_age_s"] is not None
    assert counts_while_down == {"outbox": 1}  # answered; the reply waits
    assert tg.texts() == ["echo: are you there?"]  # exactly once
    assert tg.sent[0].address.reply_to == "103"
    assert len(fake_aimlapi.chat_requests()) == 1  # delivery never asks the model again
    assert counts == {"done": 1} and backlog_after["waiting"] == 0


async def test_a_later_reply_in_the_same_chat_never_overtakes_a_waiting_one(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector(down=True)
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("first", sender="42"))
        await wait_until(lambda: gw.dispatcher.active_sessions == 0 and tg.send_attempts >= 1)
        await tg.push(inbound("second", sender="42"))
        await tg.push(inbound("/help", sender="42"))  # answered without a model: queued behind too
        await tg.push(inbound("from bob", sender="77"))  # another chat: its own queue
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        await wait_until(lambda: len(fake_aimlapi.chat_requests()) == 3)
        tg.down = False
        await wait_until(lambda: len(tg.sent) == 4)
        await _settled(gw, 4)
    alice = tg.texts("42")
    assert alice[:2] == ["echo: first", "echo: second"] and "/model" in alice[2]
    assert tg.texts("77") == ["echo: from bob"]


async def test_a_rejected_reply_is_failed_at_once_and_does_not_block_the_chat(
    fake_aimlapi, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tg = FakeConnector(reject_sends=1)
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("hi", message_id="m77"))
        await wait_until(lambda: gw.dispatcher.active_sessions == 0 and tg.send_attempts == 1)
        await tg.push(inbound("still there?", message_id="m78"))
        await wait_until(lambda: tg.sent)
        counts = await _settled(gw, 1)
        transcript = await gw.store.sessions.transcript("telegram:dm:42")
    assert tg.send_attempts == 2  # the refused message was not retried
    assert tg.texts() == ["echo: still there?"]
    assert counts == {"failed": 1, "done": 1}
    assert len(transcript) == 2  # the turn stays in history though its reply was refused
    [record] = [r for r in caplog.records if "could not be sent" in r.getMessage()]
    assert record.levelno == logging.ERROR and (record.session, record.message_id) == ("telegram:dm:42", "m77")  # type: ignore[attr-defined]


async def test_a_streamed_reply_whose_finish_failed_is_sent_whole_from_the_outbox(fake_aimlapi, home: Path) -> None:
    class BrokenFinish(FakeStream):
        async def finish(self, final_text: str) -> list[str]:
            raise ConnectorError("telegram: finishing reply in chat 42 failed: 502 Bad Gateway")

    class Streaming(StreamingFakeConnector):
        async def open_stream(self, address: Address) -> FakeStream:
            stream = BrokenFinish(self, address)
            self.streams.append(stream)
            return stream

    tg = Streaming(down=True)
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("stream this"))
        await wait_until(lambda: tg.streams and tg.send_attempts >= 1)
        tg.down = False
        await wait_until(lambda: tg.sent)
        counts = await _settled(gw, 1)
    assert tg.texts() == ["echo: stream this"] and counts == {"done": 1}


async def test_a_pairing_code_waits_for_the_platform_too(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector(down=True)
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        await tg.push(inbound("hello?", sender="835750362"))
        await wait_until(lambda: tg.send_attempts >= 2)
        tg.down = False
        [reply] = await wait_until(lambda: tg.texts())
        [request] = await gw.pairing.pending("telegram")
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        async with gw.store.conn.execute("SELECT status, error FROM inbox") as cursor:
            rows = [tuple(row) for row in await cursor.fetchall()]
    assert f"agentbox pairing approve telegram {request.code}" in reply
    assert rows == [("ignored", "pairing")]
    assert fake_aimlapi.chat_requests() == []


async def test_a_video_job_delivery_waits_in_the_outbox(fake_aimlapi, home: Path) -> None:
    from agentbox.gateway.jobs import gateway_service

    tg = FakeConnector(down=True)
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        jobs = gateway_service(gw)
        await jobs.send(Address("telegram", "5"), Outbound("Your video is ready"))  # queued, not raised
        assert (await gw.store.outbox.backlog()).count == 1
        tg.down = False
        await wait_until(lambda: tg.sent)
    assert tg.texts("5") == ["Your video is ready"]


async def test_replies_older_than_the_max_age_expire_loudly(
    fake_aimlapi, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tg = FakeConnector(down=True)
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        gw.delivery.max_age = 0.5  # [gateway] outbox_max_age, 24 h by default
        await tg.push(inbound("too late", message_id="m9"))
        await wait_until(lambda: any(r.getMessage().startswith("gave up") for r in caplog.records))
        tg.down = False
        attempts = tg.send_attempts
        counts = await gw.store.inbox.counts()
        async with gw.store.conn.execute("SELECT status, error FROM outbox") as cursor:
            [(status, error)] = [tuple(row) for row in await cursor.fetchall()]
        backlog = (await gw.status())["outbox"]
    assert tg.sent == [] and tg.send_attempts == attempts  # never sent after expiring
    assert counts == {"failed": 1} and status == "expired" and "502 Bad Gateway" in error
    assert backlog["waiting"] == 0
    [record] = [r for r in caplog.records if r.getMessage().startswith("gave up")]
    assert record.levelno == logging.ERROR and record.message_id == "m9"  # type: ignore[attr-defined]


async def test_a_reply_caught_mid_send_by_a_crash_goes_out_after_the_restart(fake_aimlapi, home: Path) -> None:
    async with await Store.open(home / "agentbox.db") as store:
        row_id = await store.inbox.add(inbound("hi", sender="42", message_id="103")) or 0
        entry_id = await store.outbox.add(
            NewEntry(Address("telegram", "42", None, "103"), Outbound("the stored answer"), inbox_ids=(row_id,))
        )
        # killed after queueing, before marking the row; then again in the middle of an attempt
        assert await store.outbox.claim(entry_id)
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await wait_until(lambda: tg.sent)
        counts = await _settled(gw, 1)
    assert tg.texts() == ["the stored answer"] and counts == {"done": 1}
    assert fake_aimlapi.chat_requests() == []  # neither the inbox recovery nor the outbox re-asked


async def test_the_service_sleeps_until_something_is_due(store: Store) -> None:
    """No polling loop: while the platform is in backoff the service reads nothing until woken."""
    reads: list[int] = []
    tg = FakeConnector(down=True)
    service = DeliveryService(store, lambda channel: tg, max_age=3600)
    service.retry_initial = service.retry_max = 30.0
    waiting = store.outbox.waiting

    async def counted():  # type: ignore[no-untyped-def]
        reads.append(1)
        return await waiting()

    store.outbox.waiting = counted  # type: ignore[method-assign]
    await service.start()
    try:
        assert await service.send(Address("telegram", "42"), Outbound("x")) == "queued"
        await wait_until(lambda: len(reads) == 3)  # recovery at start, the first pass, the pass after queueing
        await asyncio.sleep(1.2)  # a polling loop (every second or faster) would read again meanwhile
        assert len(reads) == 3 and tg.send_attempts == 1
        tg.down = False
        service.channel_ready("telegram")  # a connector (re)started: try now, not in 30 s
        await wait_until(lambda: tg.sent)
    finally:
        await service.stop()
    assert tg.texts() == ["x"]


async def test_chat_status_shows_the_backlog(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector(down=True)
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("first"))
        await wait_until(lambda: gw.dispatcher.active_sessions == 0 and tg.send_attempts >= 1)
        await tg.push(inbound("/status"))  # answered at once, but queued behind the first reply
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        tg.down = False
        await wait_until(lambda: len(tg.sent) == 2)
    first, status = tg.texts()
    assert first == "echo: first"
    assert "Replies waiting for delivery: 1 (oldest 0 min)" in status


async def test_the_first_retry_waits_what_the_config_says(fake_aimlapi, home: Path) -> None:
    from agentbox.gateway.lifecycle import Gateway
    from tests.helpers import runtime_on

    async with runtime_on(fake_aimlapi, home, "[gateway]\noutbox_retry_initial = 0.3\n") as rt:
        assert Gateway(rt.config, rt.store, rt.runner, connectors={}).delivery.retry_initial == 0.3
