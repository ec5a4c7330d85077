"""The Discord connector driving the real discord.py client against `FakeDiscord` (no network)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentbox.commands import command_spec
from agentbox.config import ConfigError
from agentbox.connectors.discord.connector import DiscordConnector, create
from agentbox.connectors.discord.settings import DiscordConfig
from agentbox.messages import Address, Attachment, Connector, ConnectorError, Inbound, Mention, Outbound
from tests.fakes.discord import PNG_1X1, FakeDiscord


def discord_config(fake: FakeDiscord, **overrides: Any) -> DiscordConfig:
    return DiscordConfig(enabled=True, api_base_url=fake.api_base_url, gateway_url=fake.ws_url, **overrides)


class Running:
    """A started connector plus the Inbounds it delivered."""

    def __init__(self, connector: DiscordConnector) -> None:
        self.connector = connector
        self.inbox: asyncio.Queue[Inbound] = asyncio.Queue()

    async def deliver(self, inbound: Inbound) -> None:
        await self.inbox.put(inbound)

    async def next(self, within: float = 5) -> Inbound:
        return await asyncio.wait_for(self.inbox.get(), within)

    async def nothing(self, wait: float = 0.4) -> None:
        await asyncio.sleep(wait)
        assert self.inbox.empty(), f"unexpected delivery: {self.inbox.get_nowait()}"


async def start(fake: FakeDiscord, **overrides: Any) -> Running:
    connector = DiscordConnector(discord_config(fake, **overrides), fake.token, guild_ready_timeout=0.05)
    running = Running(connector)
    await connector.start(running.deliver)
    return running


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[Running]:
    running = await start(fake_discord)
    try:
        yield running
    finally:
        await running.connector.stop()


async def test_connects_with_identify_and_ready(fake_discord: FakeDiscord, bot: Running) -> None:
    connector: Connector = bot.connector  # the protocol the gateway programs against
    assert isinstance(connector, Connector)
    assert str(bot.connector.status) == "ready"
    [websocket] = fake_discord.requests_to("/ws")
    assert websocket.query["encoding"] == "json"
    assert websocket.query.get("compress") in ("zlib-stream", "zstd-stream")  # the fake answers compressed
    identify = fake_discord.identifies[0]
    assert identify["token"] == fake_discord.token
    # guilds | guild messages | DMs | message content
    assert identify["intents"] == (1 << 0) | (1 << 9) | (1 << 12) | (1 << 15)
    assert fake_discord.heartbeats >= 1  # discord.py beats right after HELLO; the fake ACKs
    new = command_spec("new")  # registered from the one command table
    assert [(c["name"], c["description"]) for c in fake_discord.commands] == [(new.name, new.menu_text())]


async def test_create_reads_the_token_from_the_named_env_var(fake_discord: FakeDiscord) -> None:
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
        create(discord_config(fake_discord), {})
    connector = create(discord_config(fake_discord), {"DISCORD_BOT_TOKEN": fake_discord.token})
    await connector.start(_ignore)
    try:
        assert str(connector.status) == "ready"
    finally:
        await connector.stop()
    assert str(connector.status) == "stopped"


async def test_gateway_url_is_discovered_from_gateway_bot(fake_discord: FakeDiscord) -> None:
    config = DiscordConfig(enabled=True, api_base_url=fake_discord.api_base_url)
    connector = DiscordConnector(config, fake_discord.token, guild_ready_timeout=0.05)
    await connector.start(_ignore)
    try:
        assert str(connector.status) == "ready"
        assert fake_discord.requests_to("/gateway/bot")
    finally:
        await connector.stop()


async def test_bad_token_is_fatal_and_never_echoed(fake_discord: FakeDiscord) -> None:
    token = "not-the-right-token"
    connector = create(discord_config(fake_discord), {"DISCORD_BOT_TOKEN": token})
    with pytest.raises(ConnectorError) as caught:
        await connector.start(_ignore)
    assert caught.value.fatal
    assert "DISCORD_BOT_TOKEN" in str(caught.value) and token not in str(caught.value)
    assert str(connector.status).startswith("failed:") and token not in str(connector.status)
    assert not fake_discord.identifies  # rejected at login, before the gateway


async def test_dm_becomes_a_direct_inbound(fake_discord: FakeDiscord, bot: Running) -> None:
    message_id = fake_discord.push_message(content="hello there", author_name="alice")
    inbound = await bot.next()
    dm_channel = fake_discord.dm_channel_object(fake_discord.user_id)["id"]
    assert inbound == Inbound(
        channel="discord",
        chat_id=dm_channel,
        message_id=message_id,
        sender_id=fake_discord.user_id,
        sender_name="Alice",
        text="hello there",
        is_direct=True,
    )


async def test_guild_message_without_mention_is_dropped(fake_discord: FakeDiscord, bot: Running) -> None:
    fake_discord.push_message(fake_discord.channel_id, "just chatting", guild_id=fake_discord.guild_id)
    await bot.nothing()


async def test_guild_message_without_mention_is_delivered_unmentioned_when_group_policy_open(
    fake_discord: FakeDiscord,
) -> None:
    running = await start(fake_discord, group_policy="open")
    try:
        fake_discord.push_message(fake_discord.channel_id, "just chatting", guild_id=fake_discord.guild_id)
        inbound = await running.next()
        assert (inbound.text, inbound.mentioned, inbound.is_direct) == ("just chatting", False, False)
    finally:
        await running.connector.stop()


async def test_mention_in_guild_is_delivered_with_the_mention_stripped(fake_discord: FakeDiscord, bot: Running) -> None:
    message_id = fake_discord.push_message(
        fake_discord.channel_id,
        f"<@{fake_discord.bot_id}> what is 2+2?",
        guild_id=fake_discord.guild_id,
        mentions=[fake_discord.bot_id],
    )
    inbound = await bot.next()
    assert inbound.text == "what is 2+2?"
    assert inbound.mentioned and not inbound.is_direct
    assert (inbound.chat_id, inbound.message_id, inbound.thread_id) == (fake_discord.channel_id, message_id, None)


async def test_reply_to_the_bot_counts_as_a_mention(fake_discord: FakeDiscord, bot: Running) -> None:
    address = Address("discord", fake_discord.channel_id)
    [bot_message] = await bot.connector.send(address, Outbound("I am here"))
    fake_discord.push_message(fake_discord.channel_id, "thanks", guild_id=fake_discord.guild_id, reply_to=bot_message)
    inbound = await bot.next()
    assert (inbound.text, inbound.mentioned) == ("thanks", True)


async def test_a_reply_carries_the_text_it_replies_to(fake_discord: FakeDiscord, bot: Running) -> None:
    # "translate this" needs "this": the referenced message's text goes along, as Telegram's does.
    answer = "Le chat est sur la table.\nLa fenêtre est ouverte. 🐈"
    [bot_message] = await bot.connector.send(Address("discord", fake_discord.channel_id), Outbound(answer))
    fake_discord.push_message(
        fake_discord.channel_id, "translate this", guild_id=fake_discord.guild_id, reply_to=bot_message
    )
    assert (await bot.next()).reply_to_text == answer
    first = fake_discord.push_message(content="the meeting is at 10:30 in room 4")
    assert (await bot.next()).reply_to_text is None  # not a reply
    fake_discord.push_message(content="remind me of this tomorrow", reply_to=first)
    quoted = await bot.next()
    assert (quoted.text, quoted.reply_to_text) == ("remind me of this tomorrow", "the meeting is at 10:30 in room 4")


async def test_thread_the_bot_answered_in_is_addressed(fake_discord: FakeDiscord, bot: Running) -> None:
    thread = fake_discord.thread_id
    fake_discord.push_message(thread, "before the bot spoke", guild_id=fake_discord.guild_id)
    await bot.nothing()
    fake_discord.push_message(
        thread, f"<@{fake_discord.bot_id}> hi", guild_id=fake_discord.guild_id, mentions=[fake_discord.bot_id]
    )
    first = await bot.next()
    assert (first.chat_id, first.thread_id) == (thread, thread)
    await bot.connector.send(first.address, Outbound("hello in the thread"))
    fake_discord.push_message(thread, "follow-up without mention", guild_id=fake_discord.guild_id)
    follow_up = await bot.next()
    assert (follow_up.text, follow_up.mentioned, follow_up.thread_id) == ("follow-up without mention", True, thread)
    assert fake_discord.sent(thread) == ["hello in the thread"]


async def test_allowlists_filter_guilds_and_channels(fake_discord: FakeDiscord) -> None:
    running = await start(fake_discord, channels=[fake_discord.channel_id])
    try:
        mention = f"<@{fake_discord.bot_id}> hi"
        fake_discord.push_message(
            fake_discord.other_channel_id, mention, guild_id=fake_discord.guild_id, mentions=[fake_discord.bot_id]
        )
        await running.nothing()
        # A thread counts as its parent channel.
        fake_discord.push_message(
            fake_discord.thread_id, mention, guild_id=fake_discord.guild_id, mentions=[fake_discord.bot_id]
        )
        assert (await running.next()).chat_id == fake_discord.thread_id
        fake_discord.push_message(content="a DM is not subject to guild allowlists")
        assert (await running.next()).is_direct
    finally:
        await running.connector.stop()
    running = await start(fake_discord, guilds=["123"])
    try:
        fake_discord.push_message(
            fake_discord.channel_id, "<@1> hi", guild_id=fake_discord.guild_id, mentions=[fake_discord.bot_id]
        )
        await running.nothing()
    finally:
        await running.connector.stop()


async def test_image_attachment_is_downloaded(fake_discord: FakeDiscord, bot: Running) -> None:
    fake_discord.push_message(content="what is this?", attachments=[("cat.png", PNG_1X1, "image/png")])
    inbound = await bot.next()
    assert inbound.text == "what is this?"
    [image] = inbound.attachments
    assert (image.kind, image.data, image.size, image.filename) == ("image", None, len(PNG_1X1), "cat.png")
    assert not fake_discord.requests_to("/cat.png")  # nothing fetched before the gateway's access check
    fetched = await bot.connector.fetch(image, 1024 * 1024)
    assert (fetched.kind, fetched.data, fetched.media_type, fetched.filename) == (
        "image",
        PNG_1X1,
        "image/png",
        "cat.png",
    )
    assert fake_discord.requests_to("/cat.png")  # fetched from the (fake) CDN


async def test_own_and_other_bots_messages_are_ignored(fake_discord: FakeDiscord, bot: Running) -> None:
    dm = Address("discord", fake_discord.dm_channel_object(fake_discord.user_id)["id"])
    await bot.connector.send(dm, Outbound("the bot's own words"))  # the fake echoes MESSAGE_CREATE, like Discord
    fake_discord.push_message(content="beep", author_id=fake_discord.bot_id, bot=True)
    fake_discord.push_message(content="another bot", author_id="5000000000000000001", bot=True)
    await bot.nothing()


async def test_long_answer_with_code_block_is_split_into_valid_messages(
    fake_discord: FakeDiscord, bot: Running
) -> None:
    prose = " ".join(f"word{i}" for i in range(300))
    code = "\n".join(f"    print('line {i:04d}')  # keep going" for i in range(90))
    text = f"{prose}\n\n```python\n{code}\n```\n\nAnd that is all: {prose[:600]}"
    assert len(text) > 5000
    address = Address("discord", fake_discord.channel_id)
    ids = await bot.connector.send(address, Outbound(text))
    parts = fake_discord.sent(fake_discord.channel_id)
    assert len(parts) == len(ids) >= 3
    assert all(len(part) <= 2000 for part in parts)
    assert all(part.count("```") % 2 == 0 for part in parts)
    # Order and content survive: strip the fences the splitter added and compare words.
    rejoined = re.sub(r"```(python)?", "", "\n".join(parts)).split()
    assert rejoined == re.sub(r"```(python)?", "", text).split()
    assert all(f"print('line {i:04d}')" in "".join(parts) for i in range(90))


async def test_reply_references_the_user_message_once(fake_discord: FakeDiscord, bot: Running) -> None:
    user_message = fake_discord.push_message(content="question")
    inbound = await bot.next()
    await bot.connector.send(inbound.address, Outbound("a" * 1500 + "\n\n" + "b" * 1500))
    first, second = fake_discord.messages
    assert first.message_reference is not None
    assert str(first.message_reference["message_id"]) == user_message
    assert first.message_reference["fail_if_not_exists"] is False
    assert second.message_reference is None
    assert first.payload["allowed_mentions"]["parse"] == []  # the model cannot ping @everyone


async def test_media_is_uploaded_and_oversized_or_remote_media_linked(
    fake_discord: FakeDiscord, bot: Running, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    outbound = Outbound(
        "Here you go",
        (
            Attachment(kind="image", data=PNG_1X1, media_type="image/png", caption="a cat"),
            Attachment(kind="video", path=str(video)),
            Attachment(kind="image", url="https://cdn.example/big.png"),
            Attachment(kind="video", data=b"x" * (bot.connector.limits.max_upload_bytes + 1), filename="huge.mp4"),
        ),
    )
    ids = await bot.connector.send(Address("discord", fake_discord.channel_id), outbound)
    text_message, files_message = fake_discord.messages
    assert ids == [text_message.message_id, files_message.message_id]
    assert text_message.content.startswith("Here you go\nhttps://cdn.example/big.png")
    assert "huge.mp4 is too large" in text_message.content
    assert [name for name, _ in files_message.files] == ["image-1.png", "clip.mp4"]
    assert files_message.files[0][1] == PNG_1X1 and files_message.files[1][1] == video.read_bytes()
    assert files_message.content == "a cat"


async def test_rate_limited_send_is_retried_after_retry_after(fake_discord: FakeDiscord, bot: Running) -> None:
    fake_discord.fail_next("POST /channels/{channel_id}/messages", status=429, retry_after=0.3)
    await bot.connector.send(Address("discord", fake_discord.channel_id), Outbound("patience"))
    attempts = [r for r in fake_discord.requests_to("/messages") if r.method == "POST"]
    assert len(attempts) == 2
    assert attempts[1].time - attempts[0].time >= 0.3
    assert fake_discord.sent() == ["patience"]


async def test_failed_send_raises_connector_error(fake_discord: FakeDiscord, bot: Running) -> None:
    fake_discord.fail_next("POST /channels/{channel_id}/messages", status=403)
    with pytest.raises(ConnectorError, match=f"channel {fake_discord.channel_id}"):
        await bot.connector.send(Address("discord", fake_discord.channel_id, reply_to="42"), Outbound("nope"))


async def test_typing_hits_the_typing_endpoint(fake_discord: FakeDiscord, bot: Running) -> None:
    await bot.connector.typing(Address("discord", fake_discord.channel_id))
    assert fake_discord.typing == [fake_discord.channel_id]


async def test_slash_new_delivers_a_new_command(fake_discord: FakeDiscord, bot: Running) -> None:
    interaction_id = fake_discord.push_slash_command("new", guild_id=fake_discord.guild_id)
    inbound = await bot.next()
    assert (inbound.text, inbound.mentioned, inbound.chat_id) == ("/new", True, fake_discord.channel_id)
    assert inbound.message_id == interaction_id
    [ack] = fake_discord.interaction_responses
    assert ack["type"] == 4 and ack["data"]["flags"] & 64  # ephemeral acknowledgement
    # The gateway's answer goes to the channel, not as a reply to the interaction id.
    await bot.connector.send(inbound.address, Outbound("New conversation started."))
    assert fake_discord.messages[-1].message_reference is None


async def test_slash_new_from_a_stranger_is_acknowledged_without_promising_a_reset(
    fake_aimlapi: Any, fake_discord: FakeDiscord, home: Path
) -> None:
    """The acknowledgement comes before the gateway's access check: it must not say a reset happens."""
    from agentbox.commands import FRESH_START
    from tests.gatewaykit import running_gateway, wait_until

    connector = DiscordConnector(discord_config(fake_discord), fake_discord.token, guild_ready_timeout=0.05)
    async with running_gateway(fake_aimlapi, home, connector) as gateway:  # type: ignore[arg-type]
        await wait_until(lambda: str(connector.status) == "ready")
        fake_discord.push_slash_command("new", user_id="4000000000000000999")
        await wait_until(lambda: fake_discord.sent())
        async with gateway.store.conn.execute("SELECT COUNT(*) FROM sessions") as cursor:
            row = await cursor.fetchone()
    [ack] = fake_discord.interaction_responses
    assert ack["type"] == 4 and ack["data"]["flags"] & 64
    assert ack["data"]["content"] == "Received /new."
    # the gateway's answer stands alone: a pairing code for the stranger, no conversation reset
    [reply] = fake_discord.sent()
    assert "pairing" in reply.lower() and FRESH_START not in reply
    assert row is not None and row[0] == 0 and fake_aimlapi.chat_requests() == []


async def test_reconnect_resumes_and_keeps_delivering(fake_discord: FakeDiscord, bot: Running) -> None:
    fake_discord.drop_connections(code=4000)
    for _ in range(100):
        if fake_discord.resumes and str(bot.connector.status) == "ready":
            break
        await asyncio.sleep(0.05)
    assert fake_discord.resumes and str(bot.connector.status) == "ready"
    fake_discord.push_message(content="still there?")
    assert (await bot.next()).text == "still there?"


async def _ignore(inbound: Inbound) -> None:
    del inbound


async def test_second_client_on_the_same_token_is_refused(fake_discord: FakeDiscord) -> None:
    """Discord sends every message to every client on a token: two gateways would answer twice."""
    first = await start(fake_discord)
    try:
        second = DiscordConnector(discord_config(fake_discord), fake_discord.token, guild_ready_timeout=0.05)
        with pytest.raises(ConnectorError, match="already using this bot token") as info:
            await second.start(_ignore)
        assert info.value.fatal and fake_discord.token not in str(info.value)
    finally:
        await first.connector.stop()
    third = await start(fake_discord)  # stop() released the lock
    await third.connector.stop()


async def test_a_mention_pings_that_person_only(fake_discord: FakeDiscord, bot: Running) -> None:
    alice = "123456789012345678"
    outbound = Outbound("Stand-up time <@999> @everyone", mention=Mention(alice, "Alice"))
    await bot.connector.send(Address("discord", fake_discord.channel_id), outbound)
    assert fake_discord.sent() == [f"<@{alice}> Stand-up time <@999> @everyone"]
    [posted] = [r.json for r in fake_discord.requests_to("/messages") if r.method == "POST"]
    allowed = posted["allowed_mentions"]
    assert [str(user) for user in allowed["users"]] == [alice] and allowed["parse"] == []
    await bot.connector.send(Address("discord", fake_discord.channel_id), Outbound("plain"))
    plain = [r.json for r in fake_discord.requests_to("/messages") if r.method == "POST"][-1]
    assert "users" not in plain.get("allowed_mentions", {}) or plain["allowed_mentions"]["users"] == []
