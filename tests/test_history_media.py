"""Media in stored history: any bytes round-trip exactly through dump → SQLite → load.

pydantic serializes `BinaryContent` as URL-safe base64 (`-` and `_`); decoding it as standard
base64 dropped those characters, so most real photos were stored truncated or crashed the turn.
Tiny test PNGs happened to encode without them; these tests use random bytes and real sizes.
"""

from __future__ import annotations

import asyncio
import base64
import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_ai.messages import (
    BinaryContent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolReturnPart,
    UserPromptPart,
)

from agentbox.store import Store, TurnRecord
from agentbox.turn.history import dump_messages, load_messages
from tests.clirun import invoke_cli
from tests.helpers import cli_env

# Small byte strings hypothesis shrinks well, and large random ones (photos are tens of KB to MBs),
# drawn as (seed, size) so a failing example prints short.
any_bytes = st.one_of(st.binary(min_size=1, max_size=4096), st.tuples(st.integers(), st.integers(20_000, 400_000)))


def materialize(item: bytes | tuple[int, int]) -> bytes:
    return item if isinstance(item, bytes) else random.Random(item[0]).randbytes(item[1])


def realistic_jpeg(size: int = 40_000, seed: int = 7) -> bytes:
    """A JPEG header followed by high-entropy bytes, like a real compressed photo."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + random.Random(seed).randbytes(size)


def _conversation(images: list[bytes]) -> list[ModelMessage]:
    content: list[str | BinaryContent] = ["look at these"]
    content += [BinaryContent(data, media_type="image/jpeg") for data in images]
    return [
        ModelRequest(parts=[UserPromptPart(content=content)]),
        ModelResponse(parts=[TextPart(content="nice")]),
        ModelRequest(parts=[ToolReturnPart("screenshot", BinaryContent(images[0], media_type="image/png"), "c1")]),
    ]


def _binaries(messages: list[ModelMessage]) -> list[bytes]:
    found: list[bytes] = []
    for message in messages:
        for part in message.parts:
            content = getattr(part, "content", None)
            items = content if isinstance(content, list) else [content]
            found += [item.data for item in items if isinstance(item, BinaryContent)]
    return found


async def _round_trip(images: list[bytes]) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "agentbox.db") as store:
            await store.sessions.ensure("s")
            blob = await dump_messages(store, _conversation(images))
            await store.sessions.add_turn(TurnRecord("s", "m", "ok", messages=blob))
            [stored] = await store.sessions.history_turns("s")
            assert stored.messages is not None
            return _binaries(await load_messages(store, stored.messages))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(any_bytes, min_size=1, max_size=3))
def test_any_bytes_round_trip_exactly_through_sqlite(drawn: list[bytes | tuple[int, int]]) -> None:
    images = [materialize(item) for item in drawn]
    assert asyncio.run(_round_trip(images)) == [*images, images[0]]


async def test_urlsafe_base64_characters_survive(store: Store) -> None:
    # 0xfb 0xff encodes to "-_8=" in URL-safe base64: exactly what standard decoding dropped.
    data = b"\xfb\xff" * 5000
    assert b"-" in base64.urlsafe_b64encode(data) and b"_" in base64.urlsafe_b64encode(data)
    blob = await dump_messages(store, _conversation([data]))
    assert _binaries(await load_messages(store, blob)) == [data, data]


def test_realistic_photo_is_replayed_byte_for_byte_on_the_next_turn(fake_aimlapi, home: Path, tmp_path: Path) -> None:
    """Two CLI runs, each opening the database afresh: the photo of turn one reaches turn two's request unchanged."""
    photo = realistic_jpeg()
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo)
    env = cli_env(home, fake_aimlapi)
    first = invoke_cli("agent", "-m", "what is this?", "--image", str(path), "--session", "me", env=env)
    second = invoke_cli("agent", "-m", "and the colours?", "--session", "me", env=env)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    replay = fake_aimlapi.chat_requests()[1]["messages"]
    urls = [
        part["image_url"]["url"]
        for message in replay
        if message["role"] == "user" and isinstance(message["content"], list)
        for part in message["content"]
        if part["type"] == "image_url"
    ]
    assert len(urls) == 1 and urls[0].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(urls[0].split(",", 1)[1], validate=True) == photo
