"""A Telegram group upgraded to a supergroup changes its chat id: the gateway keeps the group open under it.

The real connector in a gateway against the fake Bot API: Telegram's two service messages
(`migrate_to_chat_id` in the old group, `migrate_from_chat_id` in the new supergroup) move the
group's approval, never start a turn, and open nothing that was not open.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from agentbox.gateway.group_pairing import GroupPairing
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.telegram import FakeTelegram
from tests.gatewaykit import running_gateway
from tests.test_media_access import finished, telegram_connector

OLD = -4012345678  # a basic group's id
NEW = -1004012345678  # the supergroup Telegram made of it
STRANGER = 555000111


def mention_in(fake: FakeTelegram, chat_id: int, chat_type: str, text: str = "what is 2+2?") -> None:
    fake.push_text(chat_id, f"@{fake.bot_username} {text}", chat_type=chat_type, from_id=STRANGER, username="stranger")


async def test_an_approved_group_stays_open_after_telegram_makes_it_a_supergroup(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    async with running_gateway(fake_aimlapi, home, telegram_connector(fake_telegram, tmp_path)) as gateway:  # type: ignore[arg-type]
        await gateway.store.groups.allow("telegram", str(OLD), group_name="Book club")
        fake_telegram.push_group_upgrade(OLD, NEW, title="Book club")
        mention_in(fake_telegram, NEW, "supergroup")
        await finished(gateway.store, 1)
        [opened] = await gateway.store.groups.allowed("telegram")
        inbox = await gateway.store.inbox.counts()
    assert (opened.group_id, opened.group_name) == (str(NEW), "Book club")  # `pairing allowed` shows the live id
    assert len(fake_aimlapi.chat_requests()) == 1  # the stranger's question; the service messages cost nothing
    [answer] = fake_telegram.sent_messages(NEW)
    assert "approve-group" not in answer  # answered, not hinted
    assert fake_telegram.sent_messages(OLD) == []
    assert inbox == {"done": 1}  # the service messages are events, not messages to answer


async def test_an_unapproved_groups_upgrade_opens_nothing_and_its_code_still_works(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    async with running_gateway(fake_aimlapi, home, telegram_connector(fake_telegram, tmp_path)) as gateway:  # type: ignore[arg-type]
        mention_in(fake_telegram, OLD, "group")
        await finished(gateway.store, 1)
        [hint] = fake_telegram.sent_messages(OLD)
        code = re.search(r"approve-group telegram (\w+)", hint)
        assert code is not None
        fake_telegram.push_group_upgrade(OLD, NEW)
        mention_in(fake_telegram, NEW, "supergroup", "anyone there?")
        await finished(gateway.store, 2)
        assert await gateway.store.groups.allowed() == []  # nothing was opened
        assert fake_telegram.sent_messages(NEW) == []  # the group had its one hint; not a second one
        approval = await GroupPairing(gateway.store.groups, gateway.store.pairing).approve("telegram", code[1])
    assert approval.group_id == str(NEW)  # the owner's code opens the group as it is now
    assert fake_aimlapi.chat_requests() == []


async def test_a_group_opened_in_config_stays_open_for_this_run_with_one_warning(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    config = f'[channels.telegram]\ngroups = ["{OLD}"]\n'
    connector = telegram_connector(fake_telegram, tmp_path)
    async with running_gateway(fake_aimlapi, home, connector, config=config) as gateway:  # type: ignore[arg-type]
        fake_telegram.push_group_upgrade(OLD, NEW)
        mention_in(fake_telegram, NEW, "supergroup")
        await finished(gateway.store, 1)
        assert await gateway.store.groups.allowed() == []  # config.toml stays the owner's: nothing written for it
    assert len(fake_aimlapi.chat_requests()) == 1
    [answer] = fake_telegram.sent_messages(NEW)
    assert "approve-group" not in answer
    [warning] = [r.getMessage() for r in caplog.records if str(NEW) in r.getMessage()]
    assert f'replace "{OLD}" with "{NEW}" in groups under [channels.telegram]' in warning
