"""Platform translators are objects with explicit inputs: each is built and used without its connector.

The real SDK types (PTB's `Update`, slack_sdk's client against the fake Slack) go in, `Inbound`s
come out; who the bot is and which threads it joined are told to the translator, never read from
a host object. Two bots side by side show that nothing is shared between translators.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import aiohttp
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot, Update

from agentbox.connectors.slack.inbound import SlackInbound
from agentbox.connectors.telegram.inbound import TelegramInbound
from tests.fakes.slack import FakeSlack

TOKEN = "123456789:AAHfakeTelegramTokenValue_abcdefghij"


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _group_update(before: str, mention: str, after: str) -> dict[str, Any]:
    text = before + mention + after
    return {
        "update_id": 7,
        "message": {
            "message_id": 70,
            "date": int(time.time()),
            "chat": {"id": -100555, "type": "supergroup", "title": "Team"},
            "from": {"id": 8001, "is_bot": False, "first_name": "Ana", "username": "ana"},
            "text": text,
            # Telegram counts offsets and lengths in UTF-16 code units
            "entities": [{"type": "mention", "offset": _utf16(before), "length": _utf16(mention)}],
        },
    }


async def test_telegram_translator_is_told_who_the_bot_is() -> None:
    bot = Bot(TOKEN)  # never started: translating an update needs no network
    helper = TelegramInbound("telegram", bot=lambda: bot, reason=lambda exc: type(exc).__name__)
    other = TelegramInbound("telegram-work", bot=lambda: bot, reason=lambda exc: type(exc).__name__)
    update = Update.de_json(_group_update("", "@helper_bot", " what is on today?"), bot)

    unknown = await helper.translate(update)  # before getMe: no username to recognize
    assert unknown is not None and not unknown.mentioned
    helper.identify(4242, "helper_bot")
    other.identify(4343, "other_bot")
    mine, theirs = await helper.translate(update), await other.translate(update)
    assert mine is not None and mine.mentioned and mine.text == "what is on today?" and mine.channel == "telegram"
    assert theirs is not None and not theirs.mentioned and theirs.channel == "telegram-work"
    assert theirs.text == "@helper_bot what is on today?"


@given(before=st.text(max_size=40), after=st.text(max_size=200))
def test_telegram_translator_cuts_the_mention_out_of_any_text(before: str, after: str) -> None:
    bot = Bot(TOKEN)
    translator = TelegramInbound("telegram", bot=lambda: bot, reason=str)
    translator.identify(4242, "helper_bot")
    update = Update.de_json(_group_update(before, "@helper_bot", after), bot)
    translated = asyncio.run(translator.translate(update))
    expected = re.sub(r"[ \t]{2,}", " ", before + after).strip()
    if not expected:
        assert translated is None  # nothing left to answer: like a service message
    else:
        assert translated is not None and translated.mentioned and translated.text == expected


async def test_slack_translator_uses_the_client_and_threads_it_is_given(fake_slack: FakeSlack) -> None:
    fake_slack.users["U1"] = {"name": "ana", "profile": {"display_name": "Ana"}}
    client = AsyncWebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
    async with aiohttp.ClientSession() as session:

        def translator() -> SlackInbound:
            inbound = SlackInbound(
                "slack",
                api_base_url=fake_slack.api_url,
                bot_token=fake_slack.bot_token,
                client=lambda: client,
                session=lambda: session,
            )
            inbound.identify(fake_slack.bot_user_id, fake_slack.bot_id)
            return inbound

        first, second = translator(), translator()
        dm = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "ts": "1.1", "text": "hi"}
        translated = await first.message(dm)
        assert translated is not None and translated.is_direct and translated.sender_name == "Ana"

        follow_up = {"type": "message", "channel": "C1", "channel_type": "channel", "user": "U1"}
        follow_up |= {"ts": "2.2", "thread_ts": "2.0", "text": "and tomorrow?"}
        first.joined("C1", "2.0")  # the connector answered in that thread
        joined = await first.message(follow_up)
        assert joined is not None and joined.mentioned and joined.thread_id == "2.0"
        assert await second.message(follow_up) is None  # Slack's history shows no bot there: not for it
        assert await first.message({**dm, "user": fake_slack.bot_user_id}) is None  # its own echo
