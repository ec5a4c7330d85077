"""Access is decided before any media is downloaded: the real connectors in a gateway, against the fakes.

A stranger's uploads cost nothing (no download, no bytes in the database); an allowed sender's
oversized file is refused on its declared size, or cut off while streaming when the size was not
declared; a failed download is explained in a plain sentence, never an internal reason code.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentbox.connectors.telegram.connector import TelegramConnector
from agentbox.download import read_capped
from agentbox.messages import MediaTooLarge
from agentbox.store import Store
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.gatewaykit import running_gateway, wait_until
from tests.test_slack_connector import Harness, dm, slack_config, slack_env

STRANGER = 555000111
FRIEND = 835750362
MB = 1024 * 1024


def photo_bytes(size: int, seed: int = 1) -> bytes:
    """A JPEG header and high-entropy bytes: the size and shape of a phone photo."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + random.Random(seed).randbytes(size - 11)


def telegram_connector(fake: FakeTelegram, tmp_path: Path) -> TelegramConnector:
    from agentbox.connectors.telegram.settings import TelegramConfig

    config = TelegramConfig(enabled=True, api_base_url=fake.url, poll_timeout=1)
    return TelegramConnector(config, fake.token, lock_dir=tmp_path / "locks", retry_initial=0.02, retry_max=0.2)


def database_bytes(home: Path) -> int:
    return sum(path.stat().st_size for path in home.glob("agentbox.db*"))


async def media_rows(store: Store) -> int:
    async with store.conn.execute("SELECT COUNT(*) FROM media") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def finished(store: Store, count: int) -> None:
    async def done() -> int:
        counts = await store.inbox.counts()
        return sum(n for status, n in counts.items() if status != "pending")

    for _ in range(1500):
        if await done() >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"inbox rows not finished: {await store.inbox.counts()}")


async def test_a_strangers_big_images_are_never_downloaded_or_stored(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    big = photo_bytes(15 * MB)
    async with running_gateway(fake_aimlapi, home, telegram_connector(fake_telegram, tmp_path)) as gateway:  # type: ignore[arg-type]
        before = database_bytes(home)
        for n in range(5):
            fake_telegram.push_document(
                STRANGER, big, mime_type="image/jpeg", file_name=f"IMG_{n}.jpg", from_id=STRANGER, username="stranger"
            )
        await finished(gateway.store, 5)
        assert await media_rows(gateway.store) == 0
    assert fake_telegram.calls_to("getFile") == []
    assert fake_telegram.requests_to(".jpg") == []  # no file download either
    assert database_bytes(home) - before < 256 * 1024  # five inbox rows and a pairing request, not 75 MB
    [reply] = fake_telegram.sent_messages(STRANGER)  # one pairing code; the later uploads are ignored
    assert "pairing" in reply.lower() or "code" in reply.lower()
    assert fake_aimlapi.chat_requests() == []


ALLOW_FRIEND = (
    f"[channels.telegram]\ndm_policy = 'allowlist'\nallow_from = ['{FRIEND}']\n[vision]\nmax_image_bytes = {MB}\n"
)


async def test_an_allowed_senders_oversized_image_is_refused_on_its_declared_size(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    connector = telegram_connector(fake_telegram, tmp_path)
    async with running_gateway(fake_aimlapi, home, connector, config=ALLOW_FRIEND) as gateway:  # type: ignore[arg-type]
        fake_telegram.push_document(FRIEND, photo_bytes(15 * MB), mime_type="image/jpeg", file_name="IMG_1.jpg")
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
    [reply] = fake_telegram.sent_messages(FRIEND)
    assert "IMG_1.jpg is 15.0 MB; the limit is 1.0 MB" in reply
    assert fake_telegram.calls_to("getFile") == [] and fake_aimlapi.chat_requests() == []


async def test_an_undeclared_oversized_image_is_cut_off_while_streaming(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    fake_telegram.report_file_sizes = False
    connector = telegram_connector(fake_telegram, tmp_path)
    async with running_gateway(fake_aimlapi, home, connector, config=ALLOW_FRIEND) as gateway:  # type: ignore[arg-type]
        fake_telegram.push_document(
            FRIEND, photo_bytes(3 * MB), mime_type="image/jpeg", file_name="IMG_2.jpg", declare_size=False
        )
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
    [reply] = fake_telegram.sent_messages(FRIEND)
    assert "IMG_2.jpg is larger than the limit of 1.0 MB" in reply
    assert len(fake_telegram.calls_to("getFile")) == 1 and fake_aimlapi.chat_requests() == []


async def test_an_allowed_senders_photo_is_fetched_and_reaches_the_model(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    photo = photo_bytes(60_000)
    connector = telegram_connector(fake_telegram, tmp_path)
    async with running_gateway(fake_aimlapi, home, connector, config=ALLOW_FRIEND) as gateway:  # type: ignore[arg-type]
        fake_telegram.push_document(FRIEND, photo, mime_type="image/jpeg", file_name="IMG_3.jpg", caption="what?")
        await finished(gateway.store, 1)
    [request] = fake_aimlapi.chat_requests()
    [url] = [p["image_url"]["url"] for p in request["messages"][-1]["content"] if p["type"] == "image_url"]
    import base64

    assert base64.b64decode(url.split(",", 1)[1]) == photo
    assert fake_telegram.sent_messages(FRIEND) == ["echo: what?"]


async def test_a_failed_download_is_explained_without_internal_codes(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    fake_telegram.fail_next(
        "getFile", 400, description="Bad Request: wrong file_id or the file is temporarily unavailable"
    )
    connector = telegram_connector(fake_telegram, tmp_path)
    async with running_gateway(fake_aimlapi, home, connector, config=ALLOW_FRIEND) as gateway:  # type: ignore[arg-type]
        fake_telegram.push_photo(FRIEND, caption="look")
        await finished(gateway.store, 1)
    [reply] = fake_telegram.sent_messages(FRIEND)
    assert reply == "Sorry, I can't use that image: I could not download it from Telegram; please send it again."
    assert "_" not in reply and "file_unavailable" not in reply


async def test_streaming_stops_as_soon_as_the_limit_is_passed() -> None:
    served: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(100):
            served.append(n)
            yield b"x" * 65536

    with pytest.raises(MediaTooLarge):
        await read_capped(chunks(), 200_000)
    assert len(served) == 4  # 4 × 64 KB passes 200 KB: nothing after that is read


# -- Slack and Discord -------------------------------------------------------------------


@pytest.fixture
async def slack_harness(fake_slack: FakeSlack) -> Harness:
    from agentbox.connectors.slack.connector import create

    return Harness(fake_slack, create(slack_config(fake_slack), slack_env(fake_slack), http_port=0))


async def test_slack_strangers_image_is_never_downloaded(
    fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack, slack_harness: Harness, home: Path
) -> None:
    image = fake_slack.add_file(photo_bytes(2 * MB), "image/jpeg", "IMG_1.jpg")
    async with running_gateway(fake_aimlapi, home, slack_harness.connector) as gateway:  # type: ignore[arg-type]
        await slack_harness.event(dm("what is this?", subtype="file_share", files=[image]))
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
        await wait_until(lambda: fake_slack.calls_to("chat.postMessage"))
    assert fake_slack.downloads == []
    assert fake_aimlapi.chat_requests() == []


async def test_slack_allowed_image_is_downloaded_after_the_access_check(
    fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack, slack_harness: Harness, home: Path
) -> None:
    photo = photo_bytes(50_000)
    image = fake_slack.add_file(photo, "image/jpeg", "IMG_2.jpg")
    config = "[channels.slack]\ndm_policy = 'allowlist'\nallow_from = ['U1']\n"
    async with running_gateway(fake_aimlapi, home, slack_harness.connector, config=config) as gateway:  # type: ignore[arg-type]
        await slack_harness.event(dm("what is this?", subtype="file_share", files=[image]))
        await finished(gateway.store, 1)
    assert len(fake_slack.downloads) == 1
    [request] = fake_aimlapi.chat_requests()
    assert any(p["type"] == "image_url" for p in request["messages"][-1]["content"])


async def test_slack_oversized_image_is_refused_on_its_declared_size(
    fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack, slack_harness: Harness, home: Path
) -> None:
    image = fake_slack.add_file(photo_bytes(15 * MB), "image/jpeg", "IMG_3.jpg")
    config = f"[channels.slack]\ndm_policy = 'allowlist'\nallow_from = ['U1']\n[vision]\nmax_image_bytes = {MB}\n"
    async with running_gateway(fake_aimlapi, home, slack_harness.connector, config=config) as gateway:  # type: ignore[arg-type]
        await slack_harness.event(dm("what is this?", subtype="file_share", files=[image]))
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
        await wait_until(lambda: fake_slack.calls_to("chat.postMessage"))
    [reply] = fake_slack.posted()
    assert "IMG_3.jpg is 15.0 MB; the limit is 1.0 MB" in reply
    assert fake_slack.downloads == [] and fake_aimlapi.chat_requests() == []


async def test_discord_strangers_image_is_never_downloaded(
    fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord, home: Path
) -> None:
    from agentbox.connectors.discord.connector import DiscordConnector
    from tests.test_discord_connector import discord_config

    connector = DiscordConnector(discord_config(fake_discord), fake_discord.token, guild_ready_timeout=0.05)
    async with running_gateway(fake_aimlapi, home, connector) as gateway:  # type: ignore[arg-type]
        fake_discord.push_message(
            content="what is this?", attachments=[("IMG_1.png", photo_bytes(2 * MB), "image/png")]
        )
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
    assert fake_discord.requests_to("/IMG_1.png") == []
    assert fake_aimlapi.chat_requests() == []


async def test_discord_oversized_image_is_refused_on_its_declared_size(
    fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord, home: Path
) -> None:
    from agentbox.connectors.discord.connector import DiscordConnector
    from tests.test_discord_connector import discord_config

    connector = DiscordConnector(discord_config(fake_discord), fake_discord.token, guild_ready_timeout=0.05)
    config = f"[channels.discord]\ndm_policy = 'allowlist'\nallow_from = ['{fake_discord.user_id}']\n"
    config += f"[vision]\nmax_image_bytes = {MB}\n"
    async with running_gateway(fake_aimlapi, home, connector, config=config) as gateway:  # type: ignore[arg-type]
        fake_discord.push_message(
            content="what is this?", attachments=[("IMG_4.png", photo_bytes(15 * MB), "image/png")]
        )
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
        await wait_until(lambda: fake_discord.sent())
    [reply] = fake_discord.sent()
    assert "IMG_4.png is 15.0 MB; the limit is 1.0 MB" in reply
    assert fake_discord.requests_to("/IMG_4.png") == [] and fake_aimlapi.chat_requests() == []


@pytest.mark.parametrize(
    "codes",
    [["voice"], ["video_note"], ["file_unavailable"], ["file_too_large"], ["image too large"], ["video", "file"]],
)
def test_refusals_are_plain_sentences(codes: list[str]) -> None:
    from agentbox.gateway.refusals import unsupported_reply

    reply = unsupported_reply(codes)
    assert reply.startswith("Sorry") and reply.endswith(".")
    assert not any(code in reply for code in codes if "_" in code or " " in code)
    assert "_" not in reply


def test_every_telegram_unsupported_kind_has_its_own_words() -> None:
    from agentbox.connectors.telegram.inbound import _UNSUPPORTED
    from agentbox.gateway.refusals import unsupported_reply

    generic = unsupported_reply(["something new"])
    for code in _UNSUPPORTED:
        assert unsupported_reply([code]) != generic and "_" not in unsupported_reply([code]), code
