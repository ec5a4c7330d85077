"""The turn pipeline driven through its Python API against the fake AI/ML API over real HTTP;
lane logic on pydantic-ai's FunctionModel (tests/modelkit.py), where no wire is involved."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.function import AgentInfo

from agentbox.store import Store
from tests.fakes.aimlapi import CutStream, Fail, Hang, Malformed, Reply, ToolCall
from tests.gatewaykit import wait_until
from tests.helpers import API_KEY, png_bytes, runtime_on
from tests.modelkit import FunctionModels, conversation, last_prompt, reply

PNG = png_bytes()


def _tool_messages(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m["role"] == "tool"]


async def test_plain_reply_streams_and_records_usage(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(text="Hello there, friend.", usage=(120, 7), usd=0.0042))
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        deltas: list[str] = []

        async def collect(delta: str) -> None:
            deltas.append(delta)

        result = await rt.runner.run(TurnRequest("t:1", "hi"), on_delta=collect)
        info = await rt.store.sessions.get("t:1")
    assert result.ok and result.reply == "Hello there, friend."
    assert len(deltas) > 1 and "".join(deltas) == "Hello there, friend."
    body = fake_aimlapi.last_chat()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4o-mini"
    assert fake_aimlapi.chat_requests()[0]["messages"][-1] == {"role": "user", "content": "hi"}
    assert (result.usage.input_tokens, result.usage.output_tokens) == (120, 7)
    # streams carry no meta.usage: the cost is estimated from the default price and flagged
    assert result.usage.usd_estimated and abs(result.usage.usd - (120 * 1.0 + 7 * 4.0) / 1e6) < 1e-12
    assert info is not None and info.turns == 1 and info.input_tokens == 120
    auth = fake_aimlapi.requests_to("/chat/completions")[0].headers["Authorization"]
    assert auth == f"Bearer {API_KEY}"


async def test_usd_from_meta_usage_on_non_streamed_path(fake_aimlapi, home: Path) -> None:
    """meta.usage.usd_spent is what the turn records when the API reports it."""
    from agentbox.aimlapi import UsageMeter, current_meter

    async with runtime_on(fake_aimlapi, home) as rt:
        meter = UsageMeter()
        token = current_meter.set(meter)
        try:
            fake_aimlapi.script(Reply(text="x", usd=0.25, credits=500000))
            await rt.runner.aimlapi.post_json("/v1/chat/completions", {"model": "m", "messages": []})
        finally:
            current_meter.reset(token)
    assert meter.usd == 0.25 and meter.credits == 500000


async def test_tool_round_trip_and_parallel_calls(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(
            tool_calls=[
                ToolCall("current_time", {"timezone": "UTC"}),
                ToolCall("current_time", {"timezone": "Asia/Tokyo"}),
            ]
        ),
        Reply(text="It is late somewhere."),
    )
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("t:tools", "time in UTC and Tokyo?"))
    assert result.ok and result.reply == "It is late somewhere."
    assert result.tool_calls == ["current_time", "current_time"]
    second = fake_aimlapi.chat_requests()[1]
    tools = _tool_messages(second)
    assert len(tools) == 2
    assert "UTC" in tools[0]["content"] and "JST" in tools[1]["content"]
    assert "current_time" in [t["function"]["name"] for t in second["tools"]]


async def test_tool_error_goes_back_to_model_and_bad_args_are_retried(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("current_time", '{"timezone": "Mars/Olympus"}')]),  # tool raises ModelRetry
        Reply(tool_calls=[ToolCall("current_time", '{"timezone": ')]),  # malformed JSON arguments
        Reply(text="Sorry, here it is in UTC."),
    )
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("t:retry", "time on Mars?"))
    assert result.ok and result.reply == "Sorry, here it is in UTC."
    requests = fake_aimlapi.chat_requests()
    assert len(requests) == 3
    assert "unknown timezone" in _tool_messages(requests[1])[-1]["content"]
    assert _tool_messages(requests[2])  # the validation error was sent back, not a crash


async def test_vision_file_becomes_data_url_and_url_passes_through(fake_aimlapi, home: Path, tmp_path: Path) -> None:
    from agentbox.config import VisionConfig
    from agentbox.vision import load_image

    image_file = tmp_path / "dot.png"
    image_file.write_bytes(PNG)
    images = (load_image(str(image_file), VisionConfig()), load_image("https://example.org/cat.jpg", VisionConfig()))
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("t:vision", "what is this?", images=images))
    assert result.ok
    content = fake_aimlapi.last_chat()["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "what is this?"}
    urls = [part["image_url"]["url"] for part in content if part["type"] == "image_url"]
    assert urls == ["data:image/png;base64," + base64.b64encode(PNG).decode(), "https://example.org/cat.jpg"]


async def test_history_replays_exactly_and_media_is_stored_once(fake_aimlapi, home: Path) -> None:
    from agentbox.messages import Attachment

    image = Attachment("image", data=PNG, media_type="image/png")
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        for text in ("first", "second", "third"):
            await rt.runner.run(TurnRequest("t:hist", text, images=(image,)))
        async with rt.store.conn.execute("SELECT COUNT(*), SUM(size) FROM media") as cur:
            media_rows, media_bytes = await cur.fetchone()
        async with rt.store.conn.execute("SELECT messages FROM turns") as cur:
            blobs = [row[0] for row in await cur.fetchall()]
    assert (media_rows, media_bytes) == (1, len(PNG))
    assert all(base64.b64encode(PNG).decode() not in blob.decode() for blob in blobs)
    last = fake_aimlapi.last_chat()["messages"]
    user_turns = [m for m in last if m["role"] == "user"]
    assert [next(p["text"] for p in m["content"] if p["type"] == "text") for m in user_turns] == [
        "first",
        "second",
        "third",
    ]
    # the replayed image is the original bytes, restored from the media table
    assert all(
        any(
            p["type"] == "image_url" and p["image_url"]["url"].endswith(base64.b64encode(PNG).decode())
            for p in m["content"]
        )
        for m in user_turns
    )
    assert [m["content"] for m in last if m["role"] == "assistant"] == ["echo: first", "echo: second"]


async def test_retries_then_success_honouring_retry_after(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Fail(429, headers={"Retry-After": "0.2"}), Fail(500), Fail(503), Reply(text="made it"))
    config = "[aimlapi.retry]\nattempts = 5\ninitial_delay = 0.05\nmax_delay = 0.2\n"
    async with runtime_on(fake_aimlapi, home, config) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("t:flaky", "hello?"))
    assert result.ok and result.reply == "made it"
    times = [r.time for r in fake_aimlapi.requests_to("/chat/completions")]
    assert len(times) == 4
    assert times[1] - times[0] >= 0.19  # waited for Retry-After


async def test_retries_exhausted_gives_one_honest_sentence_and_records_it(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Fail(502, times=10))
    config = "[aimlapi.retry]\nattempts = 3\ninitial_delay = 0.01\nmax_delay = 0.02\n"
    async with runtime_on(fake_aimlapi, home, config) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("t:down", "anyone?"))
        transcript = await rt.store.sessions.transcript("t:down")
        fake_aimlapi.reset()
        after = await rt.runner.run(TurnRequest("t:down", "and now?"))
    assert not result.ok and result.status == "failed"
    assert result.reply.count(".") == 1 and "model service" in result.reply
    assert len(fake_aimlapi.requests) == 1 or after.ok  # the process keeps working after a failure
    assert after.ok and after.reply == "echo: and now?"
    assert transcript[0]["status"] == "failed" and transcript[0]["user_text"] == "anyone?"


async def test_401_is_not_retried_and_says_the_key_is_wrong(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Fail(401, times=5))
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("t:key", "hi"))
    assert not result.ok and "key was rejected" in result.reply
    assert len(fake_aimlapi.requests_to("/chat/completions")) == 1


async def test_hang_times_out_and_malformed_and_cut_stream_fail_cleanly(fake_aimlapi, home: Path) -> None:
    config = "[aimlapi]\ntimeout = 0.5\n[aimlapi.retry]\nattempts = 2\ninitial_delay = 0.01\nmax_total_seconds = 3\n"
    fake_aimlapi.script(Hang(5), Hang(5), Malformed(), CutStream(after_chunks=2), Reply(text="fine again"))
    async with runtime_on(fake_aimlapi, home, config) as rt:
        from agentbox.turn.runner import TurnRequest

        hung = await rt.runner.run(TurnRequest("t:bad", "one"))
        malformed = await rt.runner.run(TurnRequest("t:bad", "two"))
        cut = await rt.runner.run(TurnRequest("t:bad", "three"))
        fine = await rt.runner.run(TurnRequest("t:bad", "four"))
    assert [hung.ok, malformed.ok, cut.ok, fine.ok] == [False, False, False, True]
    assert len(fake_aimlapi.requests_to("/chat/completions")) == 5  # the hang was retried once
    assert fine.reply == "fine again"


async def test_one_session_runs_in_order_and_sessions_run_concurrently(store: Store) -> None:
    """Lane logic, on pydantic-ai's FunctionModel: the model waits on the test's events, so the order
    and the concurrency are shown as facts, not inferred from how long things took."""
    from agentbox.config import Config
    from agentbox.turn.runner import TurnRequest, TurnRunner

    events: list[str] = []
    seen: dict[str, list[str]] = {}  # prompt → the conversation the model was shown
    in_flight: set[str] = set()
    release_a, all_eight_in = asyncio.Event(), asyncio.Event()

    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        text = last_prompt(messages)
        seen[text] = conversation(messages)
        events.append(f"start {text}")
        in_flight.add(text)
        if text == "A":
            await release_a.wait()  # A holds its session's lane until the test lets it go
        if text.startswith("par"):
            if len({t for t in in_flight if t.startswith("par")}) == 8:
                all_eight_in.set()
            await all_eight_in.wait()  # never set unless all 8 run at once
        in_flight.discard(text)
        events.append(f"end {text}")
        return reply(f"echo: {text}")

    runner = TurnRunner(Config(), store, models=FunctionModels(answer))
    first = asyncio.create_task(runner.run(TurnRequest("t:lane", "A")))
    await wait_until(lambda: "start A" in events)
    second = asyncio.create_task(runner.run(TurnRequest("t:lane", "B")))
    await wait_until(lambda: runner.lanes.busy("t:lane") and runner.lanes.queued("t:lane") == 1)  # B waits behind A
    assert "start B" not in events
    release_a.set()
    same = [await first, await second]
    eight = asyncio.gather(*(runner.run(TurnRequest(f"t:par{i}", f"par{i}")) for i in range(8)))
    parallel = await asyncio.wait_for(eight, 30)  # a deadline, not a measurement: serialised turns never end
    await runner.aclose()
    assert [r.reply for r in same] == ["echo: A", "echo: B"]
    assert events[:4] == ["start A", "end A", "start B", "end B"]  # B waited for A
    assert seen["B"] == ["A", "echo: A", "B"]  # and saw A's turn in its history
    assert all(r.ok for r in parallel) and all_eight_in.is_set()  # 8 sessions were answered at once


async def test_compaction_keeps_prompt_under_budget_and_transcript_whole(fake_aimlapi, home: Path) -> None:
    config = "[agents.main.memory]\ntoken_budget = 600\n"

    def responder(body: dict) -> Reply:
        if "Summarize this conversation" in json.dumps(body["messages"][0]):
            return Reply(text="SUMMARY: the user counted numbers.")
        last = body["messages"][-1]["content"]
        return Reply(text=f"noted {last} " + "blah " * 40)

    fake_aimlapi.responder = responder
    async with runtime_on(fake_aimlapi, home, config) as rt:
        from agentbox.turn.history import estimate_tokens
        from agentbox.turn.runner import TurnRequest

        for i in range(30):
            result = await rt.runner.run(TurnRequest("t:long", f"number {i} " + "pad " * 30))
            assert result.ok
        transcript = await rt.store.sessions.transcript("t:long")
    chats = [
        b for b in fake_aimlapi.chat_requests() if "Summarize this conversation" not in json.dumps(b["messages"][0])
    ]
    sizes = [sum(estimate_tokens(json.dumps(m.get("content"))) for m in b["messages"][1:]) for b in chats]
    assert max(sizes) < 600 + 200  # history within budget, plus the new message
    assert len(transcript) == 30 and transcript[0]["user_text"].startswith("number 0")
    summaries = [
        b for b in fake_aimlapi.chat_requests() if "Summarize this conversation" in json.dumps(b["messages"][0])
    ]
    assert summaries, "older turns were summarized by the model"
    assert "SUMMARY: the user counted numbers." in json.dumps(chats[-1]["messages"])
    assert "number 29" in json.dumps(chats[-1]["messages"]) and "number 0 " not in json.dumps(chats[-1]["messages"])


async def test_model_prefix_and_session_model_override(fake_aimlapi, home: Path) -> None:
    async with runtime_on(fake_aimlapi, home, '[agents.main]\nmodel = "aimlapi/google/gemini-3-flash-preview"\n') as rt:
        from agentbox.turn.runner import TurnRequest

        await rt.runner.run(TurnRequest("t:m", "a"))
        await rt.store.sessions.set_model("t:m", "aimlapi/anthropic/claude-sonnet-4.6")
        await rt.runner.run(TurnRequest("t:m", "b"))
        await rt.runner.run(TurnRequest("t:m", "c", model="gpt-4o"))
    assert [b["model"] for b in fake_aimlapi.chat_requests()] == [
        "google/gemini-3-flash-preview",
        "anthropic/claude-sonnet-4.6",
        "gpt-4o",
    ]


async def test_stream_api_yields_deltas_then_result(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(text="one two three four"))
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        stream = rt.runner.stream(TurnRequest("t:s", "count"))
        deltas = [delta async for delta in stream]
        result = await stream.result()
    assert "".join(deltas) == "one two three four" and len(deltas) >= 2
    assert result.reply == "one two three four"


async def test_turn_without_a_delta_reader_records_the_apis_own_cost(fake_aimlapi, home: Path) -> None:
    """No one reads deltas (CLI --json, Slack, Discord): a plain request, whose meta.usage is the real cost."""
    fake_aimlapi.script(Reply(text="priced", usage=(100, 10), usd=0.0123, credits=24600))
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("t:priced", "how much?"))
        info = await rt.store.sessions.get("t:priced")
    assert fake_aimlapi.last_chat().get("stream") in (None, False)
    assert result.usage.usd == 0.0123 and not result.usage.usd_estimated and result.usage.credits == 24600
    assert info is not None and abs(info.usd - 0.0123) < 1e-12


async def test_a_tool_that_raises_is_reported_to_the_model_not_a_crash(fake_aimlapi, home: Path) -> None:
    from pydantic_ai.toolsets import FunctionToolset

    from agentbox.config import load_config
    from agentbox.store import Store
    from agentbox.turn.runner import TurnRequest, TurnRunner

    broken: FunctionToolset = FunctionToolset()

    @broken.tool_plain
    async def flaky_lookup(query: str) -> str:
        """Look something up (always fails in this test)."""
        raise RuntimeError(f"backend down while looking up {query}")

    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("flaky_lookup", {"query": "weather"})]), Reply(text="Sorry, it failed.")
    )
    config = load_config(
        home / "none.toml", env={"AIMLAPI_API_KEY": API_KEY, "AIMLAPI_BASE_URL": fake_aimlapi.url + "/v1"}
    )
    async with await Store.open(home / "agentbox.db") as store:
        runner = TurnRunner(config, store, extra_toolsets=lambda _agent: [broken])
        try:
            result = await runner.run(TurnRequest("t:broken-tool", "weather?"))
        finally:
            await runner.aclose()
    assert result.ok and result.reply == "Sorry, it failed." and result.tool_calls == ["flaky_lookup"]
    reported = _tool_messages(fake_aimlapi.chat_requests()[1])[0]["content"]
    assert "flaky_lookup failed" in reported and "backend down while looking up weather" in reported


async def test_persona_from_config_or_workspace_file(fake_aimlapi, home: Path) -> None:
    workspace = home / "workspace"
    workspace.mkdir()
    (workspace / "AGENTS.md").write_text("You are Ferris, a crab who answers in haiku.\n")
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        await rt.runner.run(TurnRequest("t:persona", "hi"))
    assert fake_aimlapi.last_chat()["messages"][0]["content"].startswith("You are Ferris, a crab")
    config = '[agents.main]\ninstructions = "You are Nova, terse and exact."\n'
    async with runtime_on(fake_aimlapi, home, config) as rt:
        await rt.runner.run(TurnRequest("t:persona2", "hi"))
    assert fake_aimlapi.last_chat()["messages"][0]["content"].startswith("You are Nova, terse and exact.")
