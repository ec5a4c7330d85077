"""Gateway lifecycle in-process: recovery after a crash, connector supervision, control endpoint, drain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from agentbox.gateway.control import ControlError, ControlServer
from agentbox.messages import ConnectorState
from agentbox.store import Store, TurnRecord
from tests.fakes.aimlapi import Hang
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until

OPEN = "[channels.telegram]\ndm_policy = 'open'\n"


async def _seed(home: Path, *messages, turn_reply: str | None = None, attempts: int = 0) -> list[int]:  # type: ignore[no-untyped-def]
    """Rows a crashed gateway left behind; optionally already answered by a stored turn."""
    async with await Store.open(home / "agentbox.db") as store:
        ids = [await store.inbox.add(message) or 0 for message in messages]
        for row_id in ids:
            for _ in range(attempts):
                await store.inbox.start_attempt(row_id)
        if turn_reply is not None:
            await store.sessions.ensure("telegram:dm:42")
            turn_id = await store.sessions.add_turn(
                TurnRecord(session_key="telegram:dm:42", model="m", status="ok", reply=turn_reply)
            )
            await store.inbox.set_turn(ids, turn_id)
    return ids


async def test_answered_but_unsent_rows_are_resent_without_a_model_call(fake_aimlapi, home: Path) -> None:
    await _seed(home, inbound("a"), inbound("b"), turn_reply="stored answer")  # one batched turn, two rows
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await wait_until(lambda: tg.sent)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        counts = await gw.store.inbox.counts()
    assert tg.texts() == ["stored answer"]  # once, though it answered two rows
    assert fake_aimlapi.chat_requests() == []
    assert counts == {"done": 2}


async def test_unfinished_rows_are_processed_before_new_ones(fake_aimlapi, home: Path) -> None:
    await _seed(home, inbound("from before the crash"))
    await _seed(home, inbound("poison", sender="7"), attempts=3)
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("after restart"))
        await wait_until(lambda: len(tg.sent) == 2)
        counts = await gw.store.inbox.counts()
    asked = [b["messages"][-1]["content"] for b in fake_aimlapi.chat_requests()]
    assert asked[0] == "from before the crash"
    assert "poison" not in asked
    assert counts == {"done": 2, "failed": 1}


async def test_a_replayed_row_fetches_its_referenced_image(fake_aimlapi, home: Path) -> None:
    """Media is kept as the platform's reference in the inbox: after a crash the row fetches it then."""
    from agentbox.messages import Attachment
    from tests.helpers import png_bytes

    photo = png_bytes(40, 30)
    ref = Attachment("image", ref="AgACfile1", size=len(photo), filename="p.png")
    await _seed(home, inbound("what is it?", attachments=(ref,)))
    tg = FakeConnector(files={"AgACfile1": photo})
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await wait_until(lambda: tg.sent)
        counts = await gw.store.inbox.counts()
    assert tg.fetches == ["AgACfile1"] and counts == {"done": 1}
    content = fake_aimlapi.chat_requests()[0]["messages"][-1]["content"]
    assert [p["image_url"]["url"][:22] for p in content if p["type"] == "image_url"] == ["data:image/png;base64,"]


async def test_transient_start_failures_are_retried(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector(fail_starts=2)
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        assert gw.slots["telegram"].state == "ready" and tg.starts == 3
        tg.status.set(ConnectorState.FAILED, "token revoked")  # dies while running: restarted with backoff
        await wait_until(lambda: gw.slots["telegram"].restarts == 1 and gw.slots["telegram"].state == "ready")
        assert tg.starts == 4


async def test_fatal_start_failure_is_not_retried_and_others_keep_running(fake_aimlapi, home: Path) -> None:
    bad = FakeConnector(fail_starts=5, fatal=True)
    good = FakeConnector(name="slack")
    async with running_gateway(fake_aimlapi, home, bad, good, config="[channels.slack]\ndm_policy = 'open'\n") as gw:
        await asyncio.sleep(0.3)
        status = await gw.status()
        await good.push(inbound("hi", channel="slack"))
        await wait_until(lambda: good.sent)
    assert bad.starts == 1
    assert status["connectors"]["telegram"]["state"] == "failed: token rejected"
    assert status["connectors"]["slack"]["state"] == "ready"


async def test_control_endpoint_requires_the_token(fake_aimlapi, home: Path) -> None:
    async with running_gateway(fake_aimlapi, home, FakeConnector()) as gw:
        url = f"http://127.0.0.1:{gw.control.port}"
        token = (home / "gateway.token").read_text().strip()
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/health") as response:
                assert response.status == 401
            async with http.get(url + "/status", headers={"Authorization": "Bearer nope"}) as response:
                assert response.status == 401
            auth = {"Authorization": f"Bearer {token}"}
            async with http.get(url + "/health", headers=auth) as response:
                assert response.status == 200
            async with http.get(url + "/status", headers=auth) as response:
                body = await response.json()
    assert body["connectors"] == {"telegram": {"state": "ready", "restarts": 0}}
    assert (home / "gateway.token").stat().st_mode & 0o777 == 0o600
    assert not (home / "gateway.json").exists()  # removed on shutdown


def test_non_loopback_needs_consent(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def status() -> dict[str, object]:
        return {}

    with pytest.raises(ControlError, match="allow_non_loopback"):
        ControlServer(home=home, host="0.0.0.0", port=0, allow_non_loopback=False, status=status)
    ControlServer(home=home, host="0.0.0.0", port=0, allow_non_loopback=True, status=status)
    assert "non-loopback" in caplog.text
    ControlServer(home=home, host="::1", port=0, allow_non_loopback=False, status=status)


async def test_drain_waits_for_running_turns_within_grace(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Hang(0.5))
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("finish me"))
        await wait_until(lambda: gw.runner.lanes.busy_count == 1)
        gw.stop_event.set()
        await asyncio.wait_for(gw.task, 10)
        await tg.push(inbound("too late"))  # stored for the next start, not handled now
        counts = await gw.store.inbox.counts()
    assert tg.texts() == ["echo: finish me"]
    assert counts == {"done": 1, "pending": 1}


async def test_status_shows_todays_spend_against_the_cap(fake_aimlapi, home: Path) -> None:
    async with await Store.open(home / "agentbox.db") as store:
        await store.sessions.ensure("telegram:dm:42")
        await store.sessions.add_turn(
            TurnRecord(session_key="telegram:dm:42", model="m", status="ok", usd=1.5, sender_id="42")
        )
    caps = "[limits]\nusd_per_day = 1.0\nusd_per_sender_per_day = 0.5\n"
    async with running_gateway(fake_aimlapi, home, FakeConnector(), config=caps) as gw:
        spend = (await gw.status())["spend"]
    assert spend["spent_usd"] == 1.5 and spend["usd_per_day"] == 1.0 and spend["total_reached"] is True
    assert spend["senders"] == [{"channel": "", "sender_id": "42", "usd": 1.5, "capped": True}]
