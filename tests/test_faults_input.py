"""Fault suite, bad input: each odd message gets one clear answer (or a model answer when it is
usable), no model call for what cannot be used, and its inbox row is finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbox.messages import Attachment
from tests.fakes.aimlapi import FakeAimlapi
from tests.gatewaykit import FakeConnector, image, inbound, running_gateway, wait_until
from tests.helpers import png_bytes

OPEN = "[channels.telegram]\ndm_policy = 'open'\n[vision]\nmax_image_bytes = 4096\n"
BAD_UTF8_NAME = b"photo-\xff\xfe.png".decode("utf-8", "surrogateescape")  # what os.fsdecode gives for such a name


async def one_reply(
    fake_aimlapi: FakeAimlapi, home: Path, message, long_message: str = "truncate"
) -> tuple[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        gw.config.gateway.long_message = long_message  # type: ignore[assignment]
        await tg.push(message)
        await wait_until(lambda: tg.sent, timeout=10)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0 and gw.dispatcher.queued == 0, timeout=10)
        counts = await gw.store.inbox.counts()
    assert len(tg.sent) == 1
    return tg.texts()[0], counts


async def test_empty_message(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    reply, counts = await one_reply(fake_aimlapi, home, inbound(""))
    assert "empty" in reply and fake_aimlapi.chat_requests() == [] and sum(counts.values()) == 1
    assert "pending" not in counts


@pytest.mark.parametrize("policy", ["truncate", "refuse"])
async def test_100_kb_message(fake_aimlapi: FakeAimlapi, home: Path, policy: str) -> None:
    text = ("0123456789" * 10_240)[:102_400]
    reply, counts = await one_reply(fake_aimlapi, home, inbound(text), policy)
    if policy == "refuse":
        assert "too long" in reply and fake_aimlapi.chat_requests() == []
    else:
        [request] = fake_aimlapi.chat_requests()
        sent = request["messages"][-1]["content"]
        assert len(sent) < 21_000 and "cut to its first 20,000" in sent and reply.startswith("echo:")
    assert "pending" not in counts


@pytest.mark.parametrize("where", ["file name", "text"])
async def test_invalid_utf8_file_name(fake_aimlapi: FakeAimlapi, home: Path, where: str) -> None:
    # Telegram's JSON may carry "\\udcff" escapes, which decode to exactly these lone surrogates.
    photo = Attachment(
        "image", data=png_bytes(), media_type="image/png", filename=BAD_UTF8_NAME if where == "file name" else "a.png"
    )
    text = "what is it?" if where == "file name" else "what is " + BAD_UTF8_NAME
    reply, counts = await one_reply(fake_aimlapi, home, inbound(text, attachments=(photo,)))
    assert reply.startswith("echo:") and counts == {"done": 1}
    [request] = fake_aimlapi.chat_requests()
    assert any(p.get("type") == "image_url" for p in request["messages"][-1]["content"])


async def test_non_image_sent_as_photo(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    pdf = Attachment(
        "image", data=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"0" * 200, media_type="image/jpeg", filename="a.jpg"
    )
    reply, counts = await one_reply(fake_aimlapi, home, inbound("look", attachments=(pdf,)))
    assert "image" in reply and fake_aimlapi.chat_requests() == [] and "pending" not in counts


async def test_image_over_the_size_limit(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    big = image(png_bytes(64, 64) + b"\x00" * 8192)  # a PNG header followed by more than max_image_bytes
    reply, counts = await one_reply(fake_aimlapi, home, inbound("big one", attachments=(big,)))
    assert "large" in reply or "big" in reply or "limit" in reply, reply
    assert fake_aimlapi.chat_requests() == [] and "pending" not in counts
