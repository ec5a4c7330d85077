"""The OpenAI-compatible API, driven by the real `openai` SDK (and raw HTTP) against a running gateway.

The gateway runs in-process on a real port with the fake AI/ML API behind it; what the model
received is read from the fake, so every assertion is about real traffic on both sides.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agentbox.api.keys import key_hash, key_hint, new_key
from agentbox.api.service import gateway_service
from tests.fakes.aimlapi import TINY_PNG, FakeAimlapi, Reply, ToolCall, message_text
from tests.gatewaykit import running_gateway

TWO_AGENTS = "[agents.work]\nmodel = 'gpt-4o'\n"


def noisy_png(width: int, height: int, seed: int) -> bytes:
    """A real PNG of random pixels: as big as a photo's worth of entropy, every byte value in its base64."""
    rng = random.Random(seed)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@dataclass
class Api:
    gateway: Any
    token: str
    clients: list[openai.AsyncOpenAI] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.gateway.control.port}"

    def client(self, key: str | None = None) -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(base_url=self.base + "/v1", api_key=key or self.token, max_retries=0)
        self.clients.append(client)
        return client

    async def raw(self, path: str, body: bytes | None = None, *, token: str | None = "owner") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token if token == 'owner' else token}"} if token else {}
        async with aiohttp.ClientSession() as http:
            method = (
                http.post(self.base + path, data=body, headers=headers)
                if body is not None
                else http.get(self.base + path, headers=headers)
            )
            async with method as response:
                text = await response.read()
                try:
                    return response.status, json.loads(text)
                except ValueError:
                    return response.status, text

    async def add_key(self, name: str, *, agent: str | None = None, usd_per_day: float | None = None) -> str:
        key = new_key()
        await self.gateway.store.api_keys.add(name, key_hash(key), key_hint(key), agent=agent, usd_per_day=usd_per_day)
        return key


@asynccontextmanager
async def api_on(fake_aimlapi: FakeAimlapi, home: Path, config: str = "") -> AsyncIterator[Api]:
    async with running_gateway(fake_aimlapi, home, config=config, services=[gateway_service]) as gateway:
        api = Api(gateway, (home / "gateway.token").read_text().strip())
        try:
            yield api
        finally:
            for client in api.clients:
                await client.close()


def sent_to_model(fake: FakeAimlapi, *, caller_system: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(role, text) of the messages of the last model request, the agent's own instructions left out.

    The agent's instructions (persona, skills, schedules, memory...) are system messages; the caller's
    own system messages are kept when named in `caller_system`.
    """
    messages = [(m["role"], message_text(m.get("content"))) for m in fake.last_chat()["messages"]]
    return [(role, text) for role, text in messages if role != "system" or text in caller_system]


async def ask(client: openai.AsyncOpenAI, text: str, **options: Any) -> str:
    completion = await client.chat.completions.create(
        model=options.pop("model", "agentbox/main"), messages=[{"role": "user", "content": text}], **options
    )
    return completion.choices[0].message.content or ""


# -- the SDK, both modes ---------------------------------------------------------------


async def test_the_sdk_lists_the_agents_and_gets_an_answer_with_its_usage(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    async with api_on(fake_aimlapi, home, TWO_AGENTS) as api:
        client = api.client()
        assert sorted(m.id for m in (await client.models.list()).data) == ["agentbox/main", "agentbox/work"]
        completion = await client.chat.completions.create(
            model="agentbox/main", messages=[{"role": "user", "content": "Quelle heure est-il à Montréal ?"}]
        )
        assert completion.object == "chat.completion" and completion.model == "agentbox/main"
        assert completion.choices[0].message.content == "echo: Quelle heure est-il à Montréal ?"
        assert completion.choices[0].finish_reason == "stop"
        request = fake_aimlapi.last_chat()
        usage = completion.usage
        assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        assert request["model"] == "gpt-4o-mini"  # the agent's own model, not the client's
        assert await ask(client, "and you?", model="work") == "echo: and you?"  # the bare agent name works too
        assert fake_aimlapi.last_chat()["model"] == "gpt-4o"


async def test_streaming_sends_the_answer_as_it_comes_then_the_usage(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    question = "Tell me about the lighthouse at Alexandria, its height and its fate."
    async with api_on(fake_aimlapi, home) as api:
        stream = await api.client().chat.completions.create(
            model="agentbox/main",
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
        assert "".join(pieces) == f"echo: {question}" and len(pieces) > 3  # word by word, as the model wrote it
        assert {c.object for c in chunks} == {"chat.completion.chunk"} and len({c.id for c in chunks}) == 1
        assert chunks[0].choices[0].delta.role == "assistant"
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
        last = chunks[-1]
        assert last.choices == [] and last.usage is not None and last.usage.completion_tokens > 0
        plain = await api.client().chat.completions.create(
            model="agentbox/main", messages=[{"role": "user", "content": "again"}], stream=True
        )
        assert all(c.usage is None for c in [chunk async for chunk in plain])  # only when asked for


# -- sessions ----------------------------------------------------------------------------


async def test_a_user_keeps_a_session_and_another_user_does_not_see_it(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with api_on(fake_aimlapi, home) as api:
        client = api.client()
        await ask(client, "My locker code is 4471.", user="alice")
        await ask(client, "What is my locker code?", user="alice")  # only the new message is sent
        assert ("user", "My locker code is 4471.") in sent_to_model(fake_aimlapi)
        await ask(client, "What is my locker code?", user="bob")
        assert not any("4471" in text for _, text in sent_to_model(fake_aimlapi))
        await ask(client, "And the code?", extra_headers={"X-Agentbox-Session": "alice"})
        assert ("user", "My locker code is 4471.") in sent_to_model(fake_aimlapi)
        sessions = {s.key for s in await api.gateway.store.sessions.all()}
        assert {"api:alice", "api:bob"} <= sessions


async def test_the_owners_session_names_never_meet_a_keys_sessions(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with api_on(fake_aimlapi, home) as api:
        keyed = api.client(await api.add_key("app"))
        await ask(keyed, "My PIN is 9921.", user="sam")
        await ask(api.client(), "What is my PIN?", user="app:sam")  # the owner, spelling the key's session
        assert not any("9921" in text for _, text in sent_to_model(fake_aimlapi))
        assert {"api:app:sam", "api:app%3Asam"} <= {s.key for s in await api.gateway.store.sessions.all()}


async def test_a_one_off_conversation_cannot_be_reached_by_naming_its_session(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    async with api_on(fake_aimlapi, home) as api:
        await ask(api.client(), "My PIN is 9921.")  # stateless: its own session, this turn only
        [once] = [s.key for s in await api.gateway.store.sessions.all()]
        suffix = once.rsplit(":", 1)[1]
        named = api.client(await api.add_key("once"))  # a key whose sessions are api:once:<user>
        await ask(named, "What is my PIN?", user=suffix)
        assert not any("9921" in text for _, text in sent_to_model(fake_aimlapi))
        await ask(api.client(), "And the PIN?", user=once.removeprefix("api:"))  # the owner, spelling it out
        assert not any("9921" in text for _, text in sent_to_model(fake_aimlapi))


async def test_a_stateless_request_is_its_own_whole_conversation(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    conversation = [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "My name is Ada Lovelace."},
        {"role": "assistant", "content": "Noted."},
        {"role": "tool", "content": "ignored", "tool_call_id": "call_1"},
        {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]},
    ]
    async with api_on(fake_aimlapi, home) as api:
        client = api.client()
        await client.chat.completions.create(model="agentbox/main", messages=conversation)
        assert sent_to_model(fake_aimlapi, caller_system=("Answer in one word.",)) == [
            ("system", "Answer in one word."),
            ("user", "My name is Ada Lovelace."),
            ("assistant", "Noted."),
            ("user", "What is my name?"),
        ]
        await ask(client, "What is my name?")  # a new stateless request: nothing carried over
        assert sent_to_model(fake_aimlapi) == [("user", "What is my name?")]
        turns = [
            t
            for s in await api.gateway.store.sessions.all()
            for t in await api.gateway.store.sessions.transcript(s.key)
        ]
        assert [t["user_text"] for t in turns] == ["What is my name?", "What is my name?"]  # usage is recorded


def test_text_of_any_script_round_trips(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300).filter(str.strip)

    async def run() -> None:
        async with api_on(fake_aimlapi, home) as api:
            client = openai.OpenAI(base_url=api.base + "/v1", api_key=api.token, max_retries=0)

            @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
            @given(text=texts)
            def round_trip(text: str) -> None:
                answer = client.chat.completions.create(model="main", messages=[{"role": "user", "content": text}])
                assert answer.choices[0].message.content == f"echo: {text}"

            await asyncio.to_thread(round_trip)  # the sync SDK in a thread; the gateway serves on this loop
            client.close()

    asyncio.run(run())
    assert len(fake_aimlapi.chat_requests()) >= 20  # the examples really went through


# -- images ------------------------------------------------------------------------------


async def test_images_in_content_parts_reach_the_model_byte_for_byte(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    photo = noisy_png(640, 480, seed=7)  # ~900 KB: a photo's size, and random bytes all through its base64
    data_url = "data:image/png;base64," + base64.b64encode(photo).decode()
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": data_url, "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.org/cat.jpg"}},
    ]
    async with api_on(fake_aimlapi, home) as api:
        await api.client().chat.completions.create(
            model="agentbox/main", messages=[{"role": "user", "content": content}]
        )
        parts = fake_aimlapi.last_chat()["messages"][-1]["content"]
        urls = [part["image_url"]["url"] for part in parts if part["type"] == "image_url"]
        assert base64.b64decode(urls[0].split(",", 1)[1]) == photo
        assert urls[1] == "https://example.org/cat.jpg"  # the model service fetches it, not agentbox


async def test_generated_images_come_back_as_signed_media_links(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    draw = ToolCall("generate_image", {"prompt": "a red square"})
    async with api_on(fake_aimlapi, home) as api:
        fake_aimlapi.script(Reply(tool_calls=[draw]), Reply(text="Here it is."))
        answer = await ask(api.client(), "Draw a red square.")
        [(name, signature)] = re.findall(r"\]\(http://127\.0\.0\.1:\d+/media/([0-9a-f]{16}\.png)\?sig=(\w+)\)", answer)
        assert answer.startswith("Here it is.\n\n![")
        status, body = await api.raw(f"/media/{name}?sig={signature}", token=None)  # a chat UI sends no token
        assert (status, body) == (200, TINY_PNG)
        for forged in (f"/media/{name}", f"/media/{name}?sig={'0' * 32}", f"/media/{'a' * 16}.png?sig={signature}"):
            assert (await api.raw(forged, token=None))[0] == 404
        fake_aimlapi.script(Reply(tool_calls=[draw]), Reply(text="Again."))
        stream = await api.client().chat.completions.create(
            model="agentbox/main", messages=[{"role": "user", "content": "Once more."}], stream=True
        )
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert re.search(r"^Again\.\n\n!\[image\.png\]\(http://127\.0\.0\.1:\d+/media/\w+\.png\?sig=\w+\)$", streamed)


async def test_media_links_use_the_public_url_when_set(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with api_on(fake_aimlapi, home, "[api]\npublic_url = 'https://ai.example.org/'\n") as api:
        fake_aimlapi.script(Reply(tool_calls=[ToolCall("generate_image", {"prompt": "p"})]), Reply(text="Done."))
        assert "](https://ai.example.org/media/" in await ask(api.client(), "Draw.")


# -- errors, raw and through the SDK ---------------------------------------------------


async def test_errors_come_in_openais_shape_with_the_right_status(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    def body(messages: Any, model: str = "agentbox/main") -> bytes:
        return json.dumps({"model": model, "messages": messages}).encode()

    user = [{"role": "user", "content": "hi"}]
    cases = [
        ("no token", None, body(user), 401, "invalid_api_key"),
        ("wrong token", "abx-wrong", body(user), 401, "invalid_api_key"),
        ("unknown agent", "owner", body(user, "agentbox/nobody"), 404, "model_not_found"),
        ("not JSON", "owner", b"{not json", 400, None),
        ("no messages", "owner", body([]), 400, None),
        ("ends with the assistant", "owner", body([*user, {"role": "assistant", "content": "hello"}]), 400, None),
        (
            "audio",
            "owner",
            body([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]),
            400,
            None,
        ),
        (
            "not an image",
            "owner",
            body([{"role": "user", "content": [_image_part(b"GIF8" + b"\0" * 64, "png")]}]),
            400,
            None,
        ),
        (
            "bad base64",
            "owner",
            body(
                [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}]
            ),
            400,
            None,
        ),
    ]
    async with api_on(fake_aimlapi, home) as api:
        for case, token, payload, status, code in cases:
            got, answer = await api.raw("/v1/chat/completions", payload, token=token)
            assert got == status, (case, answer)
            error = answer["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["message"], case
            assert error["code"] == code or code is None, case
        assert fake_aimlapi.chat_requests() == []  # none of them reached the model
        status, answer = await api.raw("/v1/embeddings", b'{"model": "main", "input": "x"}')
        assert status == 404 and "serves /v1/chat/completions" in answer["error"]["message"]
        assert (await api.raw("/v1/embeddings", b"{}", token=None))[0] == 401
        with pytest.raises(openai.AuthenticationError):
            await ask(api.client("abx-not-a-key"), "hi")
        with pytest.raises(openai.NotFoundError):
            await ask(api.client(), "hi", model="agentbox/nobody")


def _image_part(data: bytes, kind: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:image/{kind};base64," + base64.b64encode(data).decode()}}


async def test_a_body_over_the_limit_is_refused_before_it_is_read(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with api_on(fake_aimlapi, home, "[api]\nmax_body_bytes = 65536\n") as api:
        photo = noisy_png(200, 200, seed=1)
        messages = [{"role": "user", "content": [_image_part(photo, "png")]}]
        status, answer = await api.raw(
            "/v1/chat/completions", json.dumps({"model": "main", "messages": messages}).encode()
        )
        assert status == 413 and answer["error"]["code"] == "request_too_large"


async def test_the_spending_caps_answer_429_in_both_modes(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with api_on(fake_aimlapi, home, "[limits]\nusd_per_day = 0.000001\n") as api:
        client = api.client()
        await ask(client, "the first one fits")  # it starts under the cap and ends over it
        with pytest.raises(openai.RateLimitError, match="spending limit"):
            await ask(client, "this one does not")
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(
                model="main", messages=[{"role": "user", "content": "nor streamed"}], stream=True
            )
        assert len(fake_aimlapi.chat_requests()) == 1


async def test_a_model_failure_is_a_502_with_the_honest_sentence(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    from tests.fakes.aimlapi import Fail

    async with api_on(fake_aimlapi, home) as api:
        fake_aimlapi.script(Fail(403))
        with pytest.raises(openai.APIStatusError) as caught:
            await ask(api.client(), "hello")
        assert caught.value.status_code == 502 and "out of credits" in caught.value.message


# -- API keys ----------------------------------------------------------------------------


async def test_an_api_key_opens_only_the_api_and_only_its_agent(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with api_on(fake_aimlapi, home, TWO_AGENTS) as api:
        key = await api.add_key("open-webui", agent="work")
        client = api.client(key)
        assert [m.id for m in (await client.models.list()).data] == ["agentbox/work"]
        assert await ask(client, "hello", model="agentbox/work") == "echo: hello"
        with pytest.raises(openai.NotFoundError):
            await ask(client, "hello", model="agentbox/main")
        assert (await api.raw("/status", token=key))[0] == 401  # a key is for the API, not the gateway
        stored = await api.gateway.store.api_keys.get("open-webui")
        assert stored.last_used_at is not None and key not in repr(stored)
        await api.gateway.store.api_keys.revoke("open-webui")
        with pytest.raises(openai.AuthenticationError):
            await ask(client, "still there?", model="agentbox/work")


async def test_keys_have_their_own_sessions_and_daily_caps(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    async with api_on(fake_aimlapi, home) as api:
        capped = api.client(await api.add_key("script", usd_per_day=0.000001))
        other = api.client(await api.add_key("laptop"))
        await ask(capped, "My PIN is 9921.", user="sam")
        await ask(other, "What is my PIN?", user="sam")  # same user name, another key: another session
        assert not any("9921" in text for _, text in sent_to_model(fake_aimlapi))
        with pytest.raises(openai.RateLimitError, match="daily spending cap"):
            await ask(capped, "one more", user="sam")
        assert await ask(other, "still fine?") == "echo: still fine?"  # the cap is the key's alone
        assert {"api:script:sam", "api:laptop:sam"} <= {s.key for s in await api.gateway.store.sessions.all()}


async def test_a_failure_after_the_stream_started_arrives_as_an_error_event(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    from tests.fakes.aimlapi import CutStream

    async with api_on(fake_aimlapi, home, "[aimlapi.retry]\nattempts = 1\n") as api:
        # Paced, so the words before the cut arrive in reads of their own: a chunk that shares the transport's
        # last read with the dropped connection is lost in the client library, wherever the model is.
        fake_aimlapi.chunk_delay = 0.05
        fake_aimlapi.script(CutStream(after_chunks=4, reply=Reply(text="The first words and then the line drops")))
        stream = await api.client().chat.completions.create(
            model="main", messages=[{"role": "user", "content": "talk"}], stream=True
        )
        received: list[str] = []
        with pytest.raises(openai.APIError, match="couldn't reach the model service"):
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
        assert "".join(received).startswith("The first")  # what came before the failure was shown


# -- memory: each caller's own -----------------------------------------------------------

LOCKER = "The user's locker code is 4471."


def model_system_text(fake: FakeAimlapi) -> str:
    """The agent's instructions of the last model request (where recalled memories go)."""
    return "\n".join(message_text(m.get("content")) for m in fake.last_chat()["messages"] if m["role"] == "system")


async def test_stateless_requests_of_two_keys_never_share_memory(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("remember", {"text": LOCKER})]), Reply(text="Noted."))
    async with api_on(fake_aimlapi, home) as api:
        alice = api.client(await api.add_key("alice"))
        bob = api.client(await api.add_key("bob"))
        await ask(alice, "remember that my locker code is 4471")
        await ask(alice, "what is my locker code?")
        assert LOCKER in model_system_text(fake_aimlapi)  # the key's own memory is recalled
        await ask(bob, "what is my locker code?")
        assert "4471" not in model_system_text(fake_aimlapi)
        await ask(api.client(), "what is my locker code?")  # the gateway token is another caller too
        assert "4471" not in model_system_text(fake_aimlapi)
        scopes = {m.scope for m in await api.gateway.store.memory.newest()}
    assert scopes == {"sender:api:key:alice"}


async def test_each_user_of_a_key_has_its_own_memory(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("remember", {"text": LOCKER})]), Reply(text="Noted."))
    async with api_on(fake_aimlapi, home) as api:
        app = api.client(await api.add_key("app"))
        await ask(app, "remember that my locker code is 4471", user="sam")
        await api.gateway.store.sessions.reset("api:app:sam")  # a fresh conversation: memory stays
        await ask(app, "what is my locker code?", user="sam")
        assert LOCKER in model_system_text(fake_aimlapi)
        await ask(app, "what is my locker code?", user="kim")  # another user of the same key
        assert "4471" not in model_system_text(fake_aimlapi)
        await ask(app, "what is my locker code?")  # the key itself, stateless
        assert "4471" not in model_system_text(fake_aimlapi)
        await ask(api.client(), "what is my locker code?", user="app:sam")  # the owner's session name alike
        assert "4471" not in model_system_text(fake_aimlapi)
        scopes = {m.scope for m in await api.gateway.store.memory.newest()}
    assert scopes == {"sender:api:key:app:sam"}


# -- request bodies over many inputs ---------------------------------------------------

IMAGE_HEADS = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff\xe0",
    "image/gif": b"GIF89a",
    "image/webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
}
part_texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=1000)
sizes = st.integers(0, 4096) | st.integers(200_000, 1_500_000)  # an icon, a photo
images = st.tuples(st.sampled_from(sorted(IMAGE_HEADS)), sizes, st.integers(0, 2**32))  # type, size, seed
content_parts = st.lists(st.one_of(part_texts, images), min_size=1, max_size=5)


def _body_of(messages: list[dict[str, Any]]) -> bytes:
    return json.dumps({"model": "agentbox/main", "messages": messages}).encode()


def _parts(drawn: list[Any]) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, bytes]]]:
    """Content parts as a client sends them, and the texts and (type, bytes) of images they carry."""
    parts, texts, sent = [], [], []
    for item in drawn:
        if isinstance(item, str):
            parts.append({"type": "text", "text": item})
            texts.append(item)
        else:
            media_type, size, seed = item
            # random bytes behind the type's magic: a photo's size, every byte value in its base64
            data = IMAGE_HEADS[media_type] + random.Random(seed).randbytes(size)
            parts.append(_image_part(data, media_type.removeprefix("image/")))
            sent.append((media_type, data))
    return parts, texts, sent


@settings(max_examples=30, deadline=None)
@given(earlier=content_parts, last=content_parts)
def test_content_parts_of_any_size_cross_into_the_turn_intact(earlier: list[Any], last: list[Any]) -> None:
    from pydantic_ai.messages import BinaryContent, ModelRequest, UserPromptPart

    from agentbox.api.convert import turn_input
    from agentbox.api.wire import parse_request
    from agentbox.config import VisionConfig

    before, before_texts, before_images = _parts(earlier)
    now, texts, sent = _parts(last)
    assume("\n".join(texts).strip() or sent)  # an empty last message is refused (test_errors_come_in_openais_shape)
    messages = [{"role": "user", "content": before}, {"role": "assistant", "content": "ok"}]
    chat = parse_request(_body_of([*messages, {"role": "user", "content": now}]))
    turn = turn_input(chat.messages, VisionConfig(), stateless=True)
    assert turn.text == "\n".join(texts)
    assert [(image.media_type, image.data) for image in turn.images] == sent
    [request, _] = turn.history
    assert isinstance(request, ModelRequest) and isinstance(request.parts[0], UserPromptPart)
    content = request.parts[0].content
    if not before_images:
        assert content == "\n".join(before_texts)
    else:
        binaries = [(part.media_type, part.data) for part in content if isinstance(part, BinaryContent)]
        assert binaries == before_images  # the earlier message's images reach the model too, byte for byte


@settings(max_examples=30, deadline=None)
@given(drawn=images, at=st.integers(0), bad=st.sampled_from("@!*\n.~"))
def test_a_damaged_or_unknown_image_is_a_400_naming_its_message(drawn: Any, at: int, bad: str) -> None:
    from agentbox.api.convert import turn_input
    from agentbox.api.wire import ApiError, parse_request
    from agentbox.config import VisionConfig

    [part], _, [(_, data)] = _parts([drawn])
    url = part["image_url"]["url"]
    head, encoded = url.split(",", 1)
    at = at % len(encoded)
    damaged = [
        head + "," + encoded[:at] + bad + encoded[at + 1 :],  # one character outside base64
        head + "," + base64.b64encode(b"\0" + data[1:]).decode(),  # valid base64, not an image
    ]
    for url in damaged:
        chat = parse_request(
            _body_of([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
        )
        with pytest.raises(ApiError) as refused:
            turn_input(chat.messages, VisionConfig(), stateless=True)
        assert refused.value.status == 400 and refused.value.body["error"]["param"] == "messages.0.content"
