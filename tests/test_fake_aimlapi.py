"""The fake AI/ML API speaks the documented wire format: driven by the real `openai` SDK and httpx."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator

import aiohttp
import httpx
import openai
import pytest
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.fakes.aimlapi import (
    TINY_PNG,
    CutStream,
    Fail,
    FakeAimlapi,
    Hang,
    Malformed,
    Reply,
    ToolCall,
)

MODEL = "openai/gpt-5-nano-2025-08-07"


@pytest.fixture
async def client(fake_aimlapi: FakeAimlapi) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=fake_aimlapi.url + "/v1", api_key="k", max_retries=0, timeout=5)
    try:
        yield sdk
    finally:
        await sdk.close()


@pytest.fixture
async def http(fake_aimlapi: FakeAimlapi) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake_aimlapi.url, headers={"Authorization": "Bearer k"}, timeout=5) as c:
        yield c


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


async def collect_stream(client: openai.AsyncOpenAI, **kwargs: object) -> list[object]:
    stream = await client.chat.completions.create(model=MODEL, stream=True, **kwargs)  # type: ignore[call-overload]
    return [chunk async for chunk in stream]


# -- chat: non-stream --------------------------------------------------------------------------


async def test_default_responder_echoes_and_reports_usage(
    fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI
) -> None:
    resp = await client.chat.completions.create(model=MODEL, messages=user("hello there"))  # type: ignore[arg-type]
    assert resp.object == "chat.completion"
    assert resp.model == MODEL
    assert resp.choices[0].message.content == "echo: hello there"
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    raw = resp.model_dump()
    assert raw["meta"]["usage"]["credits_used"] > 0
    assert raw["meta"]["usage"]["usd_spent"] == raw["meta"]["usage"]["credits_used"] / 2_000_000
    assert fake_aimlapi.last_chat()["messages"] == user("hello there")


async def test_scripted_reply_tool_calls_and_meta(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    call = ToolCall("get_time", '{"tz":"UTC"}', id="call_1")
    fake_aimlapi.script(
        Reply(tool_calls=[call], usage=(10, 5), credits=1234, usd=None, model="upstream-name"),
        Reply(text="", finish_reason="length", meta=False, reasoning_content="thinking hard"),
    )
    first = await client.chat.completions.create(model=MODEL, messages=user("time?"))  # type: ignore[arg-type]
    msg = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert msg.content is None and msg.tool_calls is not None
    assert msg.tool_calls[0].id == "call_1"
    assert msg.tool_calls[0].function.name == "get_time"  # type: ignore[union-attr]
    assert json.loads(msg.tool_calls[0].function.arguments) == {"tz": "UTC"}  # type: ignore[union-attr]
    assert first.model == "upstream-name"
    assert first.usage is not None and (first.usage.prompt_tokens, first.usage.completion_tokens) == (10, 5)
    assert first.model_dump()["meta"] == {"usage": {"credits_used": 1234}}

    second = await client.chat.completions.create(model=MODEL, messages=user("again"))  # type: ignore[arg-type]
    assert second.choices[0].finish_reason == "length"
    assert second.choices[0].message.content == ""
    dumped = second.model_dump()
    assert "meta" not in dumped or dumped["meta"] is None
    assert dumped["choices"][0]["message"]["reasoning_content"] == "thinking hard"
    assert fake_aimlapi.pending == 0


async def test_default_responder_after_tool_results_and_image_parts(
    fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI
) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    resp = await client.chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "tool said: sunny"

    parts = [
        {"type": "text", "text": "what is"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(TINY_PNG).decode()}},
        {"type": "text", "text": "this?"},
    ]
    resp = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": parts}])  # type: ignore[arg-type, misc]
    assert resp.choices[0].message.content == "echo: what is this?"


async def test_custom_responder(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    fake_aimlapi.responder = lambda body: Reply(text=f"{len(body['messages'])} messages")
    resp = await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "1 messages"


# -- chat: streaming ---------------------------------------------------------------------------


async def test_stream_text_reassembles(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    fake_aimlapi.script(Reply(text="The quick brown fox jumps", reasoning_content="hmm let me see"))
    chunks = await collect_stream(client, messages=user("go"), stream_options={"include_usage": True})
    first = chunks[0]
    assert first.object == "chat.completion.chunk" and first.id and first.created and first.model == MODEL  # type: ignore[attr-defined]
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""  # type: ignore[attr-defined]
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]  # type: ignore[attr-defined]
    assert len(content) >= 3
    assert "".join(content) == "The quick brown fox jumps"
    reasoning = [
        c.choices[0].delta.model_extra.get("reasoning_content")  # type: ignore[attr-defined]
        for c in chunks
        if c.choices and c.choices[0].delta.model_extra  # type: ignore[attr-defined]
    ]
    assert "".join(r for r in reasoning if r) == "hmm let me see"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]  # type: ignore[attr-defined]
    assert finish == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0  # type: ignore[attr-defined]


async def test_stream_raw_sse_framing(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    body = {"model": MODEL, "messages": user("a b"), "stream": True}
    resp = await http.post("/v1/chat/completions", json=body)
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [e for e in resp.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"] == []

    fake_aimlapi.send_done = False
    resp = await http.post("/v1/chat/completions", json=body)
    assert "[DONE]" not in resp.text and resp.text.endswith("\n\n")


async def test_stream_parallel_tool_calls_accumulate(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    calls = [ToolCall("get_time", '{"tz": "Europe/Paris"}'), ToolCall("get_weather", {"city": "Paris", "days": 3})]
    fake_aimlapi.script(Reply(tool_calls=calls))
    async with client.chat.completions.stream(model=MODEL, messages=user("both")) as stream:  # type: ignore[arg-type]
        raw = [event.chunk async for event in stream if event.type == "chunk"]
        final = await stream.get_final_completion()
    fragments = [tc for c in raw if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    first = fragments[0]
    assert first.id == calls[0].id and first.type == "function"
    assert first.function.name == "get_time" and first.function.arguments == ""  # type: ignore[union-attr]
    assert sum(1 for f in fragments if f.index == 0 and f.function and f.function.arguments) >= 2
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and len(message.tool_calls) == 2
    got = [(tc.id, tc.function.name, json.loads(tc.function.arguments)) for tc in message.tool_calls]  # type: ignore[union-attr]
    assert got == [
        (calls[0].id, "get_time", {"tz": "Europe/Paris"}),
        (calls[1].id, "get_weather", {"city": "Paris", "days": 3}),
    ]


# -- failures ----------------------------------------------------------------------------------


async def test_rate_limit_with_retry_after(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    fake_aimlapi.script(Fail(429, headers={"Retry-After": "1"}))
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert info.value.response.headers["retry-after"] == "1"
    body = info.value.response.json()
    assert set(body) == {"message", "path", "requestId", "statusCode", "timestamp"}
    assert body["path"] == "/v1/chat/completions" and body["statusCode"] == "429"
    # The script is used up: the next request gets the default echo.
    resp = await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "echo: x"


async def test_fail_times_and_custom_body(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    fake_aimlapi.script(Fail(500, times=2), Fail(403), Fail(502, body="<html>bad gateway</html>"))
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    with pytest.raises(openai.PermissionDeniedError) as info:
        await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert "run out of credits" in info.value.response.json()["message"]
    with pytest.raises(openai.InternalServerError) as info502:
        await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert info502.value.status_code == 502 and info502.value.response.text == "<html>bad gateway</html>"
    assert fake_aimlapi.pending == 0


async def test_auth(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    body = {"model": MODEL, "messages": user("x")}
    assert (await http.post("/v1/chat/completions", json=body, headers={"Authorization": ""})).status_code == 401
    fake_aimlapi.api_key = "right"
    sdk = openai.AsyncOpenAI(base_url=fake_aimlapi.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        await sdk.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert info.value.response.json()["message"].startswith("This request requires a valid API key")
    ok = openai.AsyncOpenAI(base_url=fake_aimlapi.url + "/v1", api_key="right", max_retries=0)
    resp = await ok.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "echo: x"
    await sdk.close()
    await ok.close()
    # A request without model/messages is a 400 validation error and consumes no script step.
    fake_aimlapi.script(Reply(text="kept"))
    bad = await http.post("/v1/chat/completions", json={"messages": []}, headers={"Authorization": "Bearer right"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("Body validation error!")
    assert fake_aimlapi.pending == 1


async def test_malformed(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    fake_aimlapi.script(Malformed(), Malformed())
    # The SDK lets the decoder's error through for a 200 it cannot parse (pydantic-ai wraps it).
    with pytest.raises(json.JSONDecodeError):
        await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    with pytest.raises(json.JSONDecodeError):
        await collect_stream(client, messages=user("x"))


async def test_cut_stream(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    fake_aimlapi.script(CutStream(after_chunks=2, reply=Reply(text="one two three four")), CutStream())
    seen: list[object] = []
    with pytest.raises(openai.APIConnectionError):
        stream = await client.chat.completions.create(model=MODEL, messages=user("x"), stream=True)  # type: ignore[arg-type]
        async for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2
    with pytest.raises(openai.APIConnectionError):  # non-stream: the JSON body is cut short
        await client.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]


async def test_hang_trips_client_timeout(fake_aimlapi: FakeAimlapi) -> None:
    fake_aimlapi.script(Hang(30))
    sdk = openai.AsyncOpenAI(base_url=fake_aimlapi.url + "/v1", api_key="k", max_retries=0, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await sdk.chat.completions.create(model=MODEL, messages=user("x"))  # type: ignore[arg-type]
    assert time.monotonic() - started < 10  # the client's 0.2 s timeout, not the 30 s hang
    resp = await sdk.chat.completions.create(model=MODEL, messages=user("after"))  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "echo: after"
    await sdk.close()
    # fake_aimlapi.stop() (fixture teardown) must not wait for the 30 s hang.


async def test_short_hang_then_answers(fake_aimlapi: FakeAimlapi, client: openai.AsyncOpenAI) -> None:
    fake_aimlapi.script(Hang(0.1))
    resp = await client.chat.completions.create(model=MODEL, messages=user("slow"))  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "echo: slow"


async def test_latency_applies_concurrently(fake_aimlapi: FakeAimlapi) -> None:
    # aiohttp as the client: httpcore's pool is O(n^2) in open connections and would measure itself.
    fake_aimlapi.latency = 0.2
    body = {"model": MODEL, "messages": user("x")}
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": "Bearer k"}) as session:

        async def one() -> int:
            async with session.post(fake_aimlapi.url + "/v1/chat/completions", json=body) as resp:
                await resp.read()
                return resp.status

        statuses = await asyncio.gather(*(one() for _ in range(200)))
    assert set(statuses) == {200}
    # Served concurrently, judged by overlap rather than by a clock (this box is shared): served
    # one at a time, at most one request would ever be waiting out the latency.
    assert fake_aimlapi.peak_sleepers >= 150
    assert len(fake_aimlapi.chat_requests()) == 200


# -- search ------------------------------------------------------------------------------------


async def test_search_model_citations(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    body = {"model": "perplexity/sonar-pro", "messages": user("news?"), "web_search_options": {}}
    data = (await http.post("/v1/chat/completions", json=body)).json()
    assert data["choices"][0]["message"]["content"] == "echo: news?"
    assert data["citations"] == ["https://example.com/one", "https://example.org/two"]
    assert {"title", "url", "date"} <= set(data["search_results"][0])
    ann = data["choices"][0]["message"]["annotations"][0]
    assert ann["type"] == "url_citation" and {"url", "title", "start_index", "end_index"} <= set(ann["url_citation"])

    fake_aimlapi.search_fields = {"annotations"}
    data = (await http.post("/v1/chat/completions", json=body)).json()
    assert "citations" not in data and "search_results" not in data
    assert data["choices"][0]["message"]["annotations"]

    # Non-search models carry no extras unless scripted.
    plain = (await http.post("/v1/chat/completions", json={"model": MODEL, "messages": user("q")})).json()
    assert "citations" not in plain and "annotations" not in plain["choices"][0]["message"]

    fake_aimlapi.script(Reply(text="see [1]", citations=["https://a.example/x"]))
    streamed = await http.post("/v1/chat/completions", json={**body, "stream": True})
    chunks = [json.loads(e[6:]) for e in streamed.text.split("\n\n") if e and e != "data: [DONE]"]
    assert any(c.get("citations") == ["https://a.example/x"] for c in chunks)


# -- models ------------------------------------------------------------------------------------


async def test_models_list_needs_no_key(fake_aimlapi: FakeAimlapi) -> None:
    async with httpx.AsyncClient() as c:
        models = (await c.get(fake_aimlapi.url + "/v1/models")).json()
    assert isinstance(models, list) and len(models) >= 3
    chat = next(m for m in models if m["id"] == "gpt-4o")
    assert chat["type"] == "chat-completion" and "openai/chat-completion.function" in chat["features"]
    assert {m["type"] for m in models} >= {"chat-completion", "image", "video"}


# -- images ------------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    crc = struct.unpack(">I", data[29:33])[0]
    assert crc == zlib.crc32(data[12:29]) & 0xFFFFFFFF
    return struct.unpack(">II", data[16:24])  # type: ignore[return-value]


async def test_image_generation_shapes(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    body = {"model": "flux/schnell", "prompt": "a lobster"}
    data = (await http.post("/v1/images/generations", json=body)).json()
    url = data["data"][0]["url"]
    assert url.startswith(fake_aimlapi.url + "/files/") and url.endswith(".png")
    assert data["meta"]["usage"]["credits_used"] > 0
    img = await http.get(url)
    assert img.headers["content-type"] == "image/png" and png_size(img.content) == (2, 2)

    fake_aimlapi.image_format = "fal"
    data = (await http.post("/v1/images/generations", json={**body, "num_images": 2})).json()
    assert len(data["images"]) == 2
    assert {"url", "content_type", "width", "height"} <= set(data["images"][0])

    fake_aimlapi.image_format = "url"
    data = (await http.post("/v1/images/generations", json={**body, "response_format": "b64_json"})).json()
    assert base64.b64decode(data["data"][0]["b64_json"]) == TINY_PNG
    assert fake_aimlapi.image_requests()[0] == body


async def test_image_edit_multipart(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    resp = await http.post(
        "/v1/images/edits",
        data={"prompt": "make it blue", "model": "openai/gpt-image-1"},
        files={"image": ("in.png", TINY_PNG, "image/png")},
    )
    assert resp.status_code == 200 and resp.json()["data"][0]["url"].endswith(".png")
    form = fake_aimlapi.image_requests()[-1]
    assert form["prompt"] == "make it blue" and form["model"] == "openai/gpt-image-1"
    assert form["image"]["data"] == TINY_PNG and form["image"]["filename"] == "in.png"
    missing = await http.post("/v1/images/edits", data={"prompt": "p", "model": "m"}, files={"x": ("a", b"1")})
    assert missing.status_code == 400


async def test_image_script_failure(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    fake_aimlapi.script_images(Fail(400, "Body validation error! Invalid enum value"))
    resp = await http.post("/v1/images/generations", json={"model": "nope", "prompt": "p"})
    assert resp.status_code == 400 and "Invalid enum value" in resp.json()["message"]
    assert (await http.post("/v1/images/generations", json={"model": "flux/schnell", "prompt": "p"})).status_code == 200


# -- video -------------------------------------------------------------------------------------


async def test_video_lifecycle(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    created = (await http.post("/v2/video/generations", json={"model": "google/veo-3.1-t2v", "prompt": "fog"})).json()
    assert created["status"] == "queued" and created["id"].endswith(":google/veo-3.1-t2v")
    statuses = []
    for _ in range(4):
        poll = (await http.get("/v2/video/generations", params={"generation_id": created["id"]})).json()
        statuses.append(poll["status"])
    assert statuses == ["queued", "generating", "completed", "completed"]
    assert poll["id"] == created["id"] and poll["meta"]["usage"]["credits_used"] > 0
    video = await http.get(poll["video"]["url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"

    fake_aimlapi.video_states = ["generating", "error"]
    job = (await http.post("/v2/video/generations", json={"model": "m", "prompt": "p"})).json()
    polls = [(await http.get("/v2/video/generations", params={"generation_id": job["id"]})).json() for _ in range(2)]
    assert polls[0]["status"] == "generating"
    assert polls[1]["status"] == "error" and set(polls[1]["error"]) == {"name", "message"}

    unknown = await http.get("/v2/video/generations", params={"generation_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["statusCode"] == "404"


async def test_missing_file_and_reset(fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient) -> None:
    fake_aimlapi.missing_files.add("gone.png")
    assert (await http.get("/files/gone.png")).status_code == 404
    fake_aimlapi.script(Reply(text="unused"))
    fake_aimlapi.reset()
    assert fake_aimlapi.pending == 0 and fake_aimlapi.requests == [] and fake_aimlapi.chat_requests() == []


# -- speech ------------------------------------------------------------------------------------


async def test_speech_scripts_answer_in_order_and_reset_drops_them(
    fake_aimlapi: FakeAimlapi, http: httpx.AsyncClient
) -> None:
    from tests.fakes.aimlapi_speech import SttJob

    stt = {"model": "openai/gpt-4o-transcribe", "url": "https://example.org/a.mp3"}
    fake_aimlapi.speech.script_stt(Fail(503, times=2), Malformed(), SttJob(text="scripted", states=["completed"]))
    statuses = [(await http.post("/v1/stt/create", json=stt)).status_code for _ in range(2)]
    assert statuses == [503, 503]  # `times` answers that many requests
    broken = await http.post("/v1/stt/create", json=stt)
    assert broken.status_code == 200 and broken.text == '{"generation_id": '
    job = (await http.post("/v1/stt/create", json=stt)).json()
    assert (await http.get(f"/v1/stt/{job['generation_id']}")).json()["result"]["text"] == "scripted"
    unscripted = (await http.post("/v1/stt/create", json=stt)).json()
    assert (await http.get(f"/v1/stt/{unscripted['generation_id']}")).json()["status"] == "queued"  # the defaults

    tts = {"model": "openai/gpt-4o-mini-tts", "text": "Hello!"}
    fake_aimlapi.speech.script_tts(Fail(400, "Body validation error! voice"), Fail(500))
    assert (await http.post("/v1/tts", json=tts)).status_code == 400
    fake_aimlapi.speech.script_stt(Fail(503))
    fake_aimlapi.reset()  # drops the tts failure still queued and the stt one
    assert (await http.post("/v1/tts", json=tts)).status_code == 200
    assert (await http.post("/v1/stt/create", json=stt)).status_code == 201


# -- the real consumer -------------------------------------------------------------------------


async def test_pydantic_ai_tool_loop_streamed_and_not(fake_aimlapi: FakeAimlapi) -> None:
    provider = OpenAIProvider(base_url=fake_aimlapi.url + "/v1", api_key="k")
    agent = Agent(OpenAIChatModel("gpt-4o", provider=provider))

    @agent.tool_plain
    def get_time(tz: str) -> str:
        return f"12:00 {tz}"

    fake_aimlapi.script(Reply(tool_calls=[ToolCall("get_time", {"tz": "UTC"}), ToolCall("get_time", {"tz": "CET"})]))
    result = await agent.run("what time?")
    assert result.output == "tool said: 12:00 UTC | 12:00 CET"
    assert result.usage.requests == 2 and result.usage.tool_calls == 2

    fake_aimlapi.script(Reply(tool_calls=[ToolCall("get_time", {"tz": "UTC"})]))
    async with agent.run_stream("streamed") as run:
        text = "".join([delta async for delta in run.stream_text(delta=True)])
    assert text == "tool said: 12:00 UTC"
    last = fake_aimlapi.last_chat()
    assert last["stream"] is True and [m["role"] for m in last["messages"]] == ["user", "assistant", "tool"]
