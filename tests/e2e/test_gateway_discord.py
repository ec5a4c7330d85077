"""End to end: a real `agentbox gateway run` process with the real discord.py client pointed
at FakeDiscord (REST base URL + gateway websocket), and the turn pipeline on FakeAimlapi.
Nothing is mocked in-process.

FakeDiscord echoes the bot's own messages back over the gateway (real Discord does too), so
every test also shows that the bot's own messages never start a turn.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.gatewayproc import wait_for
from tests.e2e.platforms import (
    PlatformGateway,
    asked,
    image_urls,
    inbox_settled,
    pairing_code,
    start_platform_gateway,
)
from tests.fakes.aimlapi import FakeAimlapi, Reply
from tests.fakes.discord import FakeDiscord, SentMessage
from tests.helpers import png_bytes, run_cli

OPEN = 'dm_policy = "open"'

Launch = Callable[..., PlatformGateway]


@pytest.fixture
def launch(home: Path, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord) -> Iterator[Launch]:
    """Start a gateway with Discord pointed at the fake; returns it once the connector is ready."""
    started: list[PlatformGateway] = []

    def start(extra: str = "") -> PlatformGateway:
        config = (
            f'api_base_url = "{fake_discord.api_base_url}"\n'
            f'gateway_url = "{fake_discord.ws_url}"\n'
            "slash_commands = false\n"
            f"{extra}\n"
        )
        gateway = start_platform_gateway(home, fake_aimlapi, "discord", config, DISCORD_BOT_TOKEN=fake_discord.token)
        started.append(gateway)
        gateway.wait_ready()
        return gateway

    yield start
    for gateway in started:
        if gateway.proc.poll() is None:
            gateway.kill()


def dm_channel(fake_discord: FakeDiscord) -> str:
    return str(fake_discord.dm_channel_object(fake_discord.user_id)["id"])


def sent_containing(fake_discord: FakeDiscord, needle: str) -> list[SentMessage]:
    with fake_discord.lock:
        return [m for m in fake_discord.messages if needle in m.content]


def answered(fake_discord: FakeDiscord, needle: str) -> Callable[[], list[SentMessage]]:
    return lambda: sent_containing(fake_discord, needle)


def test_dm_pairing_then_approve_then_answer(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord
) -> None:
    gateway = launch()
    fake_discord.push_message(content="hello bot")
    [reply] = wait_for(answered(fake_discord, "pairing code"), what="the pairing reply")
    assert reply.channel_id == dm_channel(fake_discord)
    code = pairing_code(reply.content, "discord")
    assert code is not None, reply.content  # the exact command, ready to paste
    wait_for(lambda: gateway.status()[1]["pairing"]["by_channel"] == {"discord": 1}, what="the pending request")
    assert fake_aimlapi.chat_requests() == []  # an unknown sender never reaches the model

    approved = run_cli("pairing", "approve", "discord", code, env=gateway.env)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == f"Approved discord sender {fake_discord.user_id}.\nThey were told they can talk now.\n"
    assert sent_containing(fake_discord, "You're approved")  # at once, before the first answer

    question = fake_discord.push_message(content="what is 2+2?")
    [answer] = wait_for(answered(fake_discord, "echo: what is 2+2?"), what="the model's answer")
    assert answer.channel_id == dm_channel(fake_discord)
    assert answer.message_reference is not None and str(answer.message_reference["message_id"]) == question
    assert asked(fake_aimlapi) == ["what is 2+2?"]
    assert len(sent_containing(fake_discord, "pairing code")) == 1
    [notice] = sent_containing(fake_discord, "You're approved")
    assert notice.channel_id == dm_channel(fake_discord)
    assert gateway.terminate() == 0


def test_guild_message_needs_a_mention_and_the_answer_replies_to_it(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord
) -> None:
    gateway = launch(f'groups = ["{fake_discord.guild_id}"]')
    guild, channel = fake_discord.guild_id, fake_discord.channel_id
    fake_discord.push_message(channel, "just chatting about lunch", guild_id=guild)
    question = fake_discord.push_message(
        channel, f"<@{fake_discord.bot_id}> are you there?", guild_id=guild, mentions=[fake_discord.bot_id]
    )
    [answer] = wait_for(answered(fake_discord, "echo: are you there?"), what="the mention's answer")
    assert answer.channel_id == channel
    assert answer.message_reference is not None and str(answer.message_reference["message_id"]) == question
    assert asked(fake_aimlapi) == ["are you there?"]  # no chatter, and the mention is stripped
    assert fake_discord.typing and set(fake_discord.typing) == {channel}  # typing shown during the turn
    assert fake_discord.sent() == ["echo: are you there?"]
    assert inbox_settled(gateway, 1) == {"done": 1}  # the chatter was dropped by the connector


def test_own_and_other_bots_messages_are_ignored(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord
) -> None:
    gateway = launch(OPEN)
    fake_discord.push_message(content="echo: an old answer", author_id=fake_discord.bot_id, bot=True)
    fake_discord.push_message(content="beep boop", author_id="4000000000000000099", bot=True)
    fake_discord.push_message(content="are you there?")  # delivered in gateway order, after the two above
    wait_for(answered(fake_discord, "echo: are you there?"), what="the answer to the person")
    assert asked(fake_aimlapi) == ["are you there?"]  # and the echo of that answer started nothing either
    assert fake_discord.sent() == ["echo: are you there?"]
    assert inbox_settled(gateway, 1) == {"done": 1}  # the bots' messages were never even stored


def test_image_attachment_reaches_the_model(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord
) -> None:
    launch(OPEN)
    picture = png_bytes(3, 3)
    fake_discord.push_message(content="what is in this picture?", attachments=[("pic.png", picture, "image/png")])
    wait_for(answered(fake_discord, "echo: what is in this picture?"), what="the answer about the picture")
    [request] = fake_aimlapi.chat_requests()
    [url] = image_urls(request)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == picture
    assert fake_discord.requests_to("/pic.png")  # downloaded from the (fake) CDN


def test_long_answer_with_code_block_is_split_into_valid_messages(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord
) -> None:
    intro = "\n\n".join(f"Intro {i}: " + "some words before the code " * 6 for i in range(6))
    code = "\n".join(f"value_{i:03d} = compute({i})  # step {i} of the long computation" for i in range(60))
    outro = "\n\n".join(f"Outro {i}: " + "some words after the code " * 6 for i in range(6))
    answer = f"{intro}\n\n```python\n{code}\n```\n\n{outro}"
    assert 4_500 <= len(answer) <= 6_000 and len(code) > 2_000  # the block itself must be cut
    fake_aimlapi.script(Reply(text=answer))
    launch(OPEN)
    fake_discord.push_message(content="show me the code")

    def complete() -> list[str]:
        sent = fake_discord.sent()
        return sent if sent and "Outro 5" in sent[-1] else []

    sent = wait_for(complete, what="the whole long answer")
    assert len(sent) >= 3
    assert all(len(text) <= 2000 for text in sent)
    fences = [re.findall(r"^```", text, re.MULTILINE) for text in sent]
    assert all(len(found) % 2 == 0 for found in fences), fences  # every message renders its block whole
    assert sum(1 for found in fences if found) >= 2  # the block really spans messages

    def lines(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("```")]

    assert lines("\n".join(sent)) == lines(answer)  # every line once, in order
    assert all(line.startswith("```python") for text in sent[1:] for line in text.splitlines()[:1] if "```" in line)
    assert len(fake_aimlapi.chat_requests()) == 1
    references = [m.message_reference for m in fake_discord.messages]
    assert references[0] is not None and all(r is None for r in references[1:])  # only the first one replies


def test_a_stranger_in_a_server_nobody_opened_gets_one_hint_until_the_owner_opens_it(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord
) -> None:
    """A public bot invited to someone's server: no model call until the owner opens that server."""
    gateway = launch()
    guild, mallory = fake_discord.guild_id, "4000000000000000666"
    for text in ("do my homework", "/model o1-pro", "hello??"):
        fake_discord.push_message(
            fake_discord.channel_id, f"<@{fake_discord.bot_id}> {text}", guild_id=guild,
            mentions=[fake_discord.bot_id], author_id=mallory,
        )  # fmt: skip
    [hint] = wait_for(answered(fake_discord, "approve-group"), what="the server hint")
    wait_for(lambda: gateway.status()[1]["inbox"].get("ignored") == 3, what="all three handled")
    assert fake_discord.sent() == [hint.content] and fake_aimlapi.chat_requests() == []
    opened = run_cli("pairing", "approve-group", "discord", guild, env=gateway.env)  # by the server id
    assert opened.returncode == 0 and "is now open to everyone in it" in opened.stdout, opened.stderr
    fake_discord.push_message(
        fake_discord.other_channel_id, f"<@{fake_discord.bot_id}> now?", guild_id=guild,
        mentions=[fake_discord.bot_id], author_id=mallory,
    )  # fmt: skip
    [answer] = wait_for(answered(fake_discord, "echo: now?"), what="the answer in another channel of that server")
    assert answer.channel_id == fake_discord.other_channel_id and asked(fake_aimlapi) == ["now?"]


def test_own_messages_in_a_server_start_nothing(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord
) -> None:
    """The bot's own messages come back over the gateway, even when they mention or reply to it."""
    gateway = launch(f'groups = ["{fake_discord.guild_id}"]\ngroup_policy = "open"')
    guild, channel, bot = fake_discord.guild_id, fake_discord.channel_id, fake_discord.bot_id
    earlier = fake_discord.push_message(channel, "echo: an old answer", guild_id=guild, author_id=bot, bot=True)
    fake_discord.push_message(
        channel, f"<@{bot}> as I said", guild_id=guild, mentions=[bot], author_id=bot, bot=True, reply_to=earlier
    )
    fake_discord.push_message(channel, "are you there?", guild_id=guild)  # a person, after the two above
    wait_for(answered(fake_discord, "echo: are you there?"), what="the person's answer")
    assert asked(fake_aimlapi) == ["are you there?"]
    assert fake_discord.sent() == ["echo: are you there?"]
    assert inbox_settled(gateway, 1) == {"done": 1}  # the bot's messages were never even stored
