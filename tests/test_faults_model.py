"""Fault suite, model API side: whatever the AI/ML API does, each message gets exactly one reply
(the answer or one honest sentence), its inbox row is finished, and the next message is answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.aimlapi import CutStream, Fail, FakeAimlapi, Hang, Malformed, Reply, Step, ToolCall
from tests.gatewaykit import FakeConnector, StreamingFakeConnector, inbound, running_gateway, wait_until

# Fast retries and a short timeout so every scenario runs in seconds; the policy is the shipped one.
CONFIG = (
    "[channels.telegram]\ndm_policy = 'open'\n"
    "[aimlapi]\ntimeout = 1.0\n"
    "[aimlapi.retry]\nattempts = 4\ninitial_delay = 0.01\nmax_delay = 0.05\nmax_total_seconds = 6\n"
)
HONEST = (
    "rate-limiting me",
    "couldn't reach the model service",
    "sent an answer I couldn't use",
    "something went wrong on my side",
)


def is_honest_error(text: str) -> bool:
    return any(phrase in text for phrase in HONEST)


SCENARIOS: dict[str, tuple[list[Step], str | None]] = {
    # name: (script, expected answer or None for "one honest error")
    "429 with Retry-After, then success": ([Fail(429, headers={"Retry-After": "1"}), Reply(text="fine")], "fine"),
    "500/502/503 burst, then success": ([Fail(500), Fail(502), Fail(503), Reply(text="recovered")], "recovered"),
    "503 that never ends": ([Fail(503, times=20)], None),
    "429 that never ends": ([Fail(429, times=20)], None),
    "hangs past the timeout": ([Hang(30)] * 5, None),
    "malformed JSON": ([Malformed()] * 5, None),
    "SSE stream cut in the middle": ([CutStream(after_chunks=2, reply=Reply(text="a b c d e f g"))] * 5, None),
    "tool call with invalid JSON arguments": (
        [Reply(tool_calls=[ToolCall("current_time", '{"tz": "UTC"')]), Reply(text="after the retry")],
        "after the retry",
    ),
}


SLOW = {"hangs past the timeout"}  # four attempts of the 1 s timeout


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow if name in SLOW else ()) for name in SCENARIOS]
)
@pytest.mark.parametrize("streaming", [False, True], ids=["send", "stream"])
async def test_model_fault_gives_one_reply_and_loses_nothing(
    fake_aimlapi: FakeAimlapi, home: Path, name: str, streaming: bool
) -> None:
    script, expected = SCENARIOS[name]
    fake_aimlapi.script(*script)
    tg = StreamingFakeConnector() if streaming else FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=CONFIG) as gw:
        await tg.push(inbound("question", message_id="q1"))
        await wait_until(lambda: tg.sent, timeout=20)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0, timeout=20)
        [reply] = tg.texts()
        if expected is None:
            assert is_honest_error(reply), reply
        else:
            assert reply == expected
        fake_aimlapi.reset()
        await tg.push(inbound("still there?", message_id="q2"))  # the gateway survived the fault
        await wait_until(lambda: len(tg.sent) == 2, timeout=20)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0, timeout=20)
        counts = await gw.store.inbox.counts()
        transcript = await gw.store.sessions.transcript("telegram:dm:42")
    assert tg.texts()[1] == "echo: still there?"
    assert counts == {"done": 2}  # nothing left pending, nothing lost
    assert [t["status"] for t in transcript] == ["failed" if expected is None else "ok", "ok"]
    assert transcript[0]["user_text"] == "question"


async def test_connection_refused_is_one_honest_error(home: Path) -> None:
    dead = FakeAimlapi()
    dead.start()
    dead.stop()  # its port is now closed: every connection is refused
    tg = FakeConnector()
    async with running_gateway(dead, home, tg, config=CONFIG) as gw:
        await tg.push(inbound("anyone?"))
        await wait_until(lambda: tg.sent, timeout=20)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0, timeout=20)
        counts = await gw.store.inbox.counts()
    [reply] = tg.texts()
    assert "couldn't reach the model service" in reply and counts == {"done": 1}
