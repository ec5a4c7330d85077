"""The gateway in-process: a fake connector implementing the protocol, the real store and turn runner
against the fake AI/ML API over HTTP (or pydantic-ai's FunctionModel where only scheduling is tested)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.function import AgentInfo

from agentbox.gateway.access import PairingService
from tests.fakes.aimlapi import Hang, Reply
from tests.gatewaykit import FakeConnector, StreamingFakeConnector, image, inbound, running_gateway, wait_until
from tests.helpers import png_bytes
from tests.modelkit import FunctionModels, last_prompt, reply

OPEN = "[channels.telegram]\ndm_policy = 'open'\n"


def user_texts(fake_aimlapi) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for body in fake_aimlapi.chat_requests():
        content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        out.append(content if isinstance(content, str) else " ".join(p.get("text", "") for p in content))
    return out


async def test_unknown_sender_gets_a_code_never_a_model_call(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        await tg.push(inbound("hello?", sender="835750362"))
        [reply] = await wait_until(lambda: tg.texts())
        [request] = await gw.pairing.pending("telegram")
        assert request.code in reply and f"agentbox pairing approve telegram {request.code}" in reply
        await tg.push(inbound("hello again", sender="835750362"))
        await wait_until(lambda: gw.dispatcher.active_sessions == 0 and gw.dispatcher.queued == 0)
        await asyncio.sleep(0.05)
        assert len(tg.sent) == 1  # no second code
        # approval from "the CLI" (another service on the same DB) takes effect without restart
        await PairingService(gw.store.pairing).approve("telegram", request.code.lower())
        await tg.push(inbound("now?", sender="835750362"))
        await wait_until(lambda: any("echo" in t or "now?" in t for t in tg.texts()[1:]))
    assert user_texts(fake_aimlapi) == ["now?"]


async def test_groups_need_a_mention(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config="[channels.telegram]\ngroups = ['-100']\n") as gw:
        await tg.push(inbound("chatter", direct=False, chat="-100", sender="1"))
        await tg.push(inbound("@bot what time is it", direct=False, chat="-100", sender="2", mentioned=True))
        await wait_until(lambda: tg.sent)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        counts = await gw.store.inbox.counts()
        sessions = [s.key for s in await gw.store.sessions.all()]
    assert user_texts(fake_aimlapi) == ["@bot what time is it"]
    assert tg.sent[0].address.chat_id == "-100"
    assert counts == {"ignored": 1, "done": 1}
    assert sessions == ["telegram:group:-100"]


async def test_queued_messages_are_batched_in_order(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Hang(0.6), Reply(text="second answer"))
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("one"))
        await wait_until(lambda: gw.runner.lanes.busy_count == 1)
        await tg.push(inbound("two"))
        await tg.push(three := inbound("three"))
        await wait_until(lambda: len(tg.sent) == 2, timeout=10)
    assert user_texts(fake_aimlapi) == ["one", "two\n\nthree"]  # two and three answered together
    assert tg.sent[0].text == "echo: one" and tg.sent[1].text == "second answer"
    assert tg.sent[1].address.reply_to == three.message_id  # the batch's reply goes to its last message


async def test_a_group_batch_names_each_sender_and_ends_at_a_chat_command(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Hang(0.6))
    tg = FakeConnector()
    config = "[channels.telegram]\ngroups = ['-100']\ngroup_policy = 'open'\n"
    async with running_gateway(fake_aimlapi, home, tg, config=config) as gw:
        await tg.push(inbound("one", direct=False, sender="1"))
        await wait_until(lambda: gw.runner.lanes.busy_count == 1)
        await tg.push(inbound("two", direct=False, sender="1"))
        await tg.push(inbound("three", direct=False, sender="2"))
        await tg.push(inbound("/status", direct=False, sender="2"))  # answered on its own, in its turn
        await tg.push(inbound("four", direct=False, sender="1"))
        await wait_until(lambda: len(tg.sent) == 4, timeout=10)
    assert user_texts(fake_aimlapi) == ["one", "user1: two\n\nuser2: three", "four"]  # who said what, in a group
    assert "Model:" in tg.sent[2].text


async def test_sessions_do_not_block_each_other(fake_aimlapi, home: Path) -> None:
    release_slow = asyncio.Event()

    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        text = last_prompt(messages)
        if text == "slow":
            await release_slow.wait()  # sender 1's turn runs until the test lets it finish
        return reply(f"echo: {text}")

    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN, models=FunctionModels(answer)) as gw:
        await tg.push(inbound("slow", sender="1"))
        await wait_until(lambda: gw.runner.lanes.busy_count == 1)
        await tg.push(inbound("fast", sender="2"))
        await wait_until(lambda: tg.texts("2"))
        assert not tg.texts("1")
        status = await gw.status()
        assert status["lanes"]["busy"] == 1 and status["connectors"]["telegram"]["state"] == "ready"
        release_slow.set()
        await wait_until(lambda: tg.texts("1"))
    assert tg.texts("1") == ["echo: slow"] and tg.texts("2") == ["echo: fast"]


async def test_chat_commands(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    allowed = "[agents.main]\nallowed_models = ['openai/gpt-4o']\n"
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN + allowed) as gw:
        await tg.push(inbound("/model openai/gpt-4o"))
        await wait_until(lambda: tg.sent)
        await tg.push(inbound("hi"))
        await wait_until(lambda: len(tg.sent) == 2)
        await tg.push(inbound("/status"))
        await wait_until(lambda: len(tg.sent) == 3)
        await tg.push(inbound("/new"))
        await tg.push(inbound("/help"))
        await wait_until(lambda: len(tg.sent) == 5)
        info = await gw.store.sessions.get("telegram:dm:42")
    assert "openai/gpt-4o" in tg.sent[0].text
    assert fake_aimlapi.chat_requests()[0]["model"] == "openai/gpt-4o"
    status = tg.sent[2].text
    assert "Model: openai/gpt-4o" in status and "telegram:dm:42" in status and "Tokens used" in status
    assert "fresh" in tg.sent[3].text and "/model" in tg.sent[4].text
    assert info is not None and info.epoch == 1
    assert len(fake_aimlapi.chat_requests()) == 1


async def test_polite_answers_without_model(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        gw.config.gateway.long_message = "refuse"
        gw.config.gateway.max_message_chars = 100
        await tg.push(inbound("", unsupported="voice"))
        await tg.push(inbound("   "))
        await tg.push(inbound("x" * 101))
        await tg.push(inbound("what is this", attachments=(image(b"not an image at all"),)))
        await wait_until(lambda: len(tg.sent) == 4)
    texts = tg.texts()
    assert "voice" in texts[0] and "empty" in texts[1] and "too long" in texts[2] and "image" in texts[3]
    assert fake_aimlapi.chat_requests() == []


async def test_long_message_truncated_and_image_reaches_model(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        gw.config.gateway.max_message_chars = 100
        await tg.push(inbound("y" * 150))
        await wait_until(lambda: len(tg.sent) == 1)
        await tg.push(inbound("what colour?", attachments=(image(png_bytes()),)))
        await wait_until(lambda: len(tg.sent) == 2)
    first, second = fake_aimlapi.chat_requests()
    assert "cut to its first 100 of 150" in first["messages"][-1]["content"]
    parts = second["messages"][-1]["content"]
    assert any(p.get("type") == "image_url" and p["image_url"]["url"].startswith("data:image/png") for p in parts)


async def test_streaming_connector_gets_updates_and_finish(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(text="A fairly long answer that streams in several chunks."))
    tg = StreamingFakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("stream please"))
        await wait_until(lambda: tg.sent)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        counts = await gw.store.inbox.counts()
    [stream] = tg.streams
    assert stream.updates and stream.final == "A fairly long answer that streams in several chunks."
    assert stream.updates[-1] == stream.final
    assert counts == {"done": 1}


async def test_duplicate_delivery_is_processed_once(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN):
        message = inbound("once", message_id="dup")
        await tg.push(message)
        await tg.push(message)
        await wait_until(lambda: tg.sent)
        await asyncio.sleep(0.1)
    assert len(tg.sent) == 1 and len(fake_aimlapi.chat_requests()) == 1


async def test_gateway_send_and_background_services(fake_aimlapi, home: Path) -> None:
    from agentbox.messages import Address, Outbound

    events: list[str] = []

    class Service:
        name = "video-jobs"

        async def start(self) -> None:
            events.append("start")

        async def stop(self) -> None:
            events.append("stop")

    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        assert events == []  # added after start in this test: start it by hand like run() would
        gw.add_service(Service())
        await gw.services[0].start()
        ids = await gw.send(Address("telegram", "5"), Outbound("your video is ready"))
        assert ids == ["1"] and tg.texts("5") == ["your video is ready"]
        assert (await gw.status())["services"] == ["video-jobs"]
    assert events == ["start", "stop"]


async def test_a_reply_carries_the_quoted_message_to_the_model(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("translate this into French", reply_to_text="Good morning, everyone!"))
        await wait_until(lambda: tg.sent)
        row = await gw.store.inbox.get(1)  # the quote is kept with the stored message (replays see it)
    assert row is not None and row.inbound.reply_to_text == "Good morning, everyone!"
    assert user_texts(fake_aimlapi) == ['(Replying to: "Good morning, everyone!")\ntranslate this into French']
