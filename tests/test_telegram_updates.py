"""Malformed updates from Telegram: skipped and logged (field names only), polling goes on for every chat.

The real python-telegram-bot against the fake Bot API, which returns the malformed update
in the same getUpdates batch as good ones.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.test_telegram_connector import DM, Inbox, make_connector

SENDER = {"id": 5551234, "is_bot": False, "first_name": "Mallory"}
SECRET_TEXT = "my private message 7c1f"


@pytest.mark.parametrize(
    "message",
    [
        {"message_id": 1, "date": 1, "from": SENDER, "text": SECRET_TEXT},  # no chat
        {"message_id": 1, "date": 1, "from": SENDER, "chat": {"type": "private"}, "text": SECRET_TEXT},  # chat, no id
        {"message_id": 1, "from": SENDER, "chat": {"id": 77, "type": "private"}, "text": SECRET_TEXT},  # no date
        {"message_id": 1, "date": 1, "from": {"first_name": "x"}, "chat": {"id": 77, "type": "private"}},  # from, no id
    ],
    ids=["no chat", "chat without id", "no date", "sender without id"],
)
async def test_a_malformed_update_is_skipped_and_polling_goes_on(
    message: dict[str, Any], fake_telegram: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connector = make_connector(fake_telegram, tmp_path / "locks")
    inbox = Inbox()
    fake_telegram.push_text(DM, "before")
    bad = fake_telegram.push_update({"message": message})
    fake_telegram.push_text(DM, "after")
    await connector.start(inbox)
    try:
        items = await inbox.wait_for(2)
        fake_telegram.push_text(DM, "later")
        items = await inbox.wait_for(3)
    finally:
        await connector.stop()
    assert [item.text for item in items] == ["before", "after", "later"]  # in order, nothing lost
    offsets = [int(p["offset"]) for p in fake_telegram.calls_to("getUpdates") if "offset" in p]
    assert max(offsets) > bad["update_id"] + 1  # confirmed past the bad update
    assert str(connector.status) == "stopped" and connector.failure is None
    skipped = [r for r in caplog.records if str(bad["update_id"]) in r.getMessage() and "skipped" in r.getMessage()]
    assert len(skipped) == 1 and skipped[0].levelno == logging.ERROR
    log_text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert SECRET_TEXT not in log_text  # someone's message is not copied into the log
