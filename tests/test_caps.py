"""Spending caps: over the cap the user gets one sentence, no model request is made, the turn is `capped`."""

from __future__ import annotations

import time
from pathlib import Path

from agentbox.messages import Address
from agentbox.store import TurnRecord
from agentbox.turn.caps import SENDER_REFUSAL, TOTAL_REFUSAL
from agentbox.turn.runner import TurnRequest
from agentbox.turn.usage import DAY
from tests.fakes.aimlapi import FakeAimlapi, Reply
from tests.helpers import runtime_on


async def spend(rt, usd: float, *, sender: str = "alice", channel: str = "telegram", at: float | None = None) -> None:  # type: ignore[no-untyped-def]
    key = f"{channel}:{sender}"
    await rt.store.sessions.ensure(key, channel=channel, chat_id=sender)
    await rt.store.sessions.add_turn(
        TurnRecord(
            session_key=key, model="gpt-4o-mini", status="ok", sender_id=sender, usd=usd, started_at=at or time.time()
        )
    )


def request(sender: str = "alice", text: str = "hi") -> TurnRequest:
    return TurnRequest(
        session_key=f"telegram:{sender}", text=text, sender_id=sender, address=Address("telegram", sender)
    )


async def test_daily_cap_refuses_without_a_model_call(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with runtime_on(fake_aimlapi, home, "[limits]\nusd_per_day = 1.0\n") as rt:
        await spend(rt, 1.2)
        result = await rt.runner.run(request())
        assert result.reply == TOTAL_REFUSAL and not result.ok and result.status == "refused"
        assert fake_aimlapi.chat_requests() == []
        turns = await rt.store.sessions.transcript("telegram:alice")
        assert [t["status"] for t in turns] == ["ok", "capped"] and turns[-1]["reply"] == TOTAL_REFUSAL
        status = await rt.caps.status()
        assert status.total_reached and status.spent_usd == 1.2 and status.resets_at.endswith("+00:00")


async def test_a_new_utc_day_lets_turns_through(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with runtime_on(fake_aimlapi, home, "[limits]\nusd_per_day = 1.0\n") as rt:
        now = time.time()
        await spend(rt, 5.0, at=now)
        rt.caps.clock = lambda: now
        assert (await rt.runner.run(request())).reply == TOTAL_REFUSAL
        rt.caps.clock = lambda: now - now % DAY + DAY + 1  # one second past the next 00:00 UTC
        result = await rt.runner.run(request(text="again"))
        assert result.ok and result.reply == "echo: again" and len(fake_aimlapi.chat_requests()) == 1


async def test_per_sender_cap_only_stops_that_sender(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with runtime_on(fake_aimlapi, home, "[limits]\nusd_per_day = 10.0\nusd_per_sender_per_day = 0.5\n") as rt:
        await spend(rt, 0.6, sender="alice")
        await spend(rt, 0.6, sender="bob", channel="discord")  # same id space, other channel: not alice
        assert (await rt.runner.run(request("alice"))).reply == SENDER_REFUSAL
        assert (await rt.runner.run(request("bob"))).ok
        assert len(fake_aimlapi.chat_requests()) == 1
        status = await rt.caps.status()
        capped = {(s["channel"], s["sender_id"]) for s in status.senders if s["capped"]}
        assert capped == {("telegram", "alice"), ("discord", "bob")} and not status.total_reached


async def test_spend_is_counted_from_what_turns_record(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    fake_aimlapi.stream_meta = True  # the API reports usd_spent; the runner records it per turn
    fake_aimlapi.script(Reply(text="expensive", usd=0.75))
    async with runtime_on(fake_aimlapi, home, "[limits]\nusd_per_day = 0.5\n") as rt:
        first = await rt.runner.run(request())
        assert first.ok and first.reply == "expensive"
        assert (await rt.runner.run(request(text="more"))).reply == TOTAL_REFUSAL
        assert len(fake_aimlapi.chat_requests()) == 1


async def test_no_caps_configured_never_refuses(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with runtime_on(fake_aimlapi, home) as rt:
        await spend(rt, 1000.0)
        assert (await rt.runner.run(request())).ok
