"""The Telegram connector driving the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentbox.commands import menu_entries
from agentbox.config import ConfigError
from agentbox.connectors.telegram.connector import TelegramConnector, TelegramSendError, create
from agentbox.connectors.telegram.settings import TelegramConfig
from agentbox.messages import Address, Attachment, ConnectorError, Inbound, Mention, Outbound, StreamingConnector
from tests.fakes.telegram import MAX_TEXT, FakeTelegram, png_bytes, utf16_len

DM = 835750362
GROUP = -1001234567890


class Inbox:
    """A deliver callback that collects Inbound messages (and can be told to fail)."""

    def __init__(self) -> None:
        self.items: list[Inbound] = []
        self.fail_times = 0
        self.attempts = 0

    async def __call__(self, inbound: Inbound) -> None:
        self.attempts += 1
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("database is locked")
        self.items.append(inbound)

    async def wait_for(self, count: int, within: float = 5.0) -> list[Inbound]:
        await _until(lambda: len(self.items) >= count, within)
        return self.items


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def make_connector(fake: FakeTelegram, lock_dir: Path, **overrides: Any) -> TelegramConnector:
    config = TelegramConfig(enabled=True, api_base_url=fake.url, poll_timeout=1)
    options: dict[str, Any] = {"edit_interval": 0.05, "retry_initial": 0.02, "retry_max": 0.2, **overrides}
    return TelegramConnector(config, fake.token, lock_dir=lock_dir, **options)


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    return tmp_path / "locks"


@pytest.fixture
async def started(fake_telegram: FakeTelegram, lock_dir: Path) -> AsyncIterator[tuple[TelegramConnector, Inbox]]:
    connector = make_connector(fake_telegram, lock_dir)
    inbox = Inbox()
    await connector.start(inbox)
    try:
        yield connector, inbox
    finally:
        await connector.stop()


# -- factory and start -----------------------------------------------------------
def test_create_requires_the_token_env_var() -> None:
    config = TelegramConfig(enabled=True, token_env="MY_TG_TOKEN")
    with pytest.raises(ConfigError, match=r"\$MY_TG_TOKEN is not set"):
        create(config, {})
    with pytest.raises(ConfigError, match="does not look like a Telegram bot token") as info:
        create(config, {"MY_TG_TOKEN": "secret-garbage"})
    assert "secret-garbage" not in str(info.value)
    assert isinstance(create(config, {"MY_TG_TOKEN": "123456:" + "A" * 35}), StreamingConnector)


async def test_start_checks_token_drops_webhook_and_registers_commands(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    assert str(connector.status) == "ready"
    assert connector.bot_username == fake_telegram.bot_username
    assert fake_telegram.calls_to("deleteWebhook")
    assert [c["command"] for c in fake_telegram.commands] == [
        "new",
        "reset",
        "status",
        "model",
        "memory",
        "forget",
        "help",
        "reminders",
        "cancel",
        "timezone",
    ]
    assert [(c["command"], c["description"]) for c in fake_telegram.commands] == list(menu_entries("chat"))
    assert fake_telegram.token not in repr(connector)


async def test_bad_token_is_fatal_without_retry_loop_or_token_leak(
    fake_telegram: FakeTelegram, lock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_telegram.bad_token = True
    connector = make_connector(fake_telegram, lock_dir)
    with pytest.raises(ConnectorError) as info:
        await connector.start(Inbox())
    error = info.value
    assert error.fatal
    assert "rejected the bot token" in str(error)
    assert error.__cause__ is None and error.__context__ is None  # PTB's own error quotes the token
    assert str(connector.status).startswith("failed:")
    await asyncio.sleep(0.2)
    assert len(fake_telegram.requests) == 1  # one getMe, no retry loop
    for text in (str(error), repr(error), str(connector.status), caplog.text):
        assert fake_telegram.token not in text
    # the lock was released: a fixed token can start right away
    fake_telegram.bad_token = False
    again = make_connector(fake_telegram, lock_dir)
    await again.start(Inbox())
    await again.stop()


async def test_second_poller_on_the_same_token_is_refused(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram, lock_dir: Path
) -> None:
    second = make_connector(fake_telegram, lock_dir)
    with pytest.raises(ConnectorError, match="already polling this bot token") as info:
        await second.start(Inbox())
    assert info.value.fatal
    assert fake_telegram.token not in str(info.value)
    lock_files = await asyncio.to_thread(lambda: list(lock_dir.iterdir()))
    assert len(lock_files) == 1 and fake_telegram.token.split(":")[1] not in lock_files[0].name


async def test_lock_is_released_on_stop(fake_telegram: FakeTelegram, lock_dir: Path) -> None:
    first = make_connector(fake_telegram, lock_dir)
    await first.start(Inbox())
    await first.stop()
    assert str(first.status) == "stopped"
    second = make_connector(fake_telegram, lock_dir)
    await second.start(Inbox())
    await second.stop()


# -- inbound ---------------------------------------------------------------------
async def test_direct_text_message(started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram) -> None:
    _, inbox = started
    update = fake_telegram.push_text(DM, "hello there", from_id=DM, username="alice")
    (inbound,) = await inbox.wait_for(1)
    assert inbound == Inbound(
        channel="telegram",
        chat_id=str(DM),
        message_id=str(update["message"]["message_id"]),
        sender_id=str(DM),
        sender_name="alice",
        text="hello there",
        is_direct=True,
    )
    assert inbound.address.reply_to == inbound.message_id


async def test_group_mentions(started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram) -> None:
    _, inbox = started
    bot = fake_telegram.bot_username
    fake_telegram.push_text(GROUP, "just chatting", chat_type="supergroup")
    fake_telegram.push_text(GROUP, f"@{bot} what is 2+2?", chat_type="supergroup")
    fake_telegram.push_text(GROUP, "@someone_else hi", chat_type="supergroup")
    fake_telegram.push_text(GROUP, "and you?", chat_type="supergroup", reply_to_bot=True)
    command = f"/help@{bot}"
    fake_telegram.push_text(
        GROUP, command, chat_type="group", entities=[{"type": "bot_command", "offset": 0, "length": len(command)}]
    )
    items = await inbox.wait_for(5)
    assert [(i.mentioned, i.text) for i in items] == [
        (False, "just chatting"),
        (True, "what is 2+2?"),
        (False, "@someone_else hi"),
        (True, "and you?"),
        (True, "/help"),
    ]
    assert [i.reply_to_text for i in items] == [None, None, None, "an earlier answer", None]
    assert not any(i.is_direct for i in items)


async def test_forum_topic_becomes_thread_and_replies_go_there(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, inbox = started
    fake_telegram.push_text(GROUP, f"@{fake_telegram.bot_username} hi", chat_type="supergroup", message_thread_id=42)
    (inbound,) = await inbox.wait_for(1)
    assert inbound.thread_id == "42"
    await connector.send(inbound.address, Outbound("hello topic"))
    (sent,) = fake_telegram.sent(GROUP)
    assert (sent.thread_id, sent.reply_to, sent.text) == (42, int(inbound.message_id), "hello topic")


async def test_photo_arrives_as_a_reference_and_is_fetched_as_bytes_without_token(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, inbox = started
    image = png_bytes(64, 48, (10, 200, 10))
    update = fake_telegram.push_photo(DM, image, caption="what is this?")
    (inbound,) = await inbox.wait_for(1)
    (attachment,) = inbound.attachments
    largest = update["message"]["photo"][-1]
    # Translation downloads nothing: the gateway fetches once the sender is allowed in.
    assert (attachment.kind, attachment.ref, attachment.size, attachment.data) == (
        "image",
        largest["file_id"],
        len(image),
        None,
    )
    assert inbound.text == "what is this?"
    assert fake_telegram.calls_to("getFile") == [] and fake_telegram.requests_to(".jpg") == []
    fetched = await connector.fetch(attachment, 1024 * 1024)
    assert fetched.data == image  # the largest size, not the thumbnail
    assert (fetched.kind, fetched.media_type, fetched.url) == ("image", "image/png", None)
    assert fake_telegram.calls_to("getFile")[-1]["file_id"] == largest["file_id"]
    for item in (inbound, fetched):
        assert fake_telegram.token not in repr(item)
        assert fake_telegram.token.split(":")[1] not in repr(item)


async def test_image_document_is_an_image(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, inbox = started
    image = png_bytes(8, 8)
    fake_telegram.push_document(DM, image, mime_type="image/png", file_name="scan.png")
    (inbound,) = await inbox.wait_for(1)
    (attachment,) = inbound.attachments
    assert (attachment.kind, attachment.media_type, attachment.filename, attachment.size) == (
        "image",
        "image/png",
        "scan.png",
        len(image),
    )
    assert inbound.unsupported is None
    fetched = await connector.fetch(attachment, 1024 * 1024)
    assert fetched == Attachment(
        kind="image", data=image, media_type="image/png", filename="scan.png", ref=attachment.ref, size=len(image)
    )


async def test_unsupported_media_and_bot_messages(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    _, inbox = started
    fake_telegram.push_voice(DM)
    fake_telegram.push_sticker(DM)
    fake_telegram.push_document(DM, b"%PDF-1.4", mime_type="application/pdf", file_name="a.pdf", caption="read")
    fake_telegram.push_text(GROUP, "beep", chat_type="supergroup", from_id=999, username="other_bot", is_bot=True)
    items = await inbox.wait_for(4)
    assert [(i.unsupported, i.text) for i in items[:3]] == [(None, ""), ("sticker", ""), ("document", "")]
    [voice] = items[0].attachments  # a voice note is a reference now: fetched after the access check
    assert (voice.kind, voice.voice, voice.duration, voice.data) == ("audio", True, 2.0, None) and voice.ref
    assert [i.bot_authored for i in items] == [False, False, False, True]


async def test_edited_messages_and_service_messages_are_ignored(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    _, inbox = started
    chat = {"id": DM, "type": "private", "first_name": "Alice"}
    user = {"id": DM, "is_bot": False, "first_name": "Alice"}
    fake_telegram.push_update(
        {"edited_message": {"message_id": 1, "date": 1, "edit_date": 2, "chat": chat, "from": user, "text": "x"}}
    )
    fake_telegram.push_message(GROUP, chat_type="supergroup", new_chat_members=[user])
    fake_telegram.push_text(DM, "real one")
    await inbox.wait_for(1)
    await asyncio.sleep(0.1)
    assert [i.text for i in inbox.items] == ["real one"]


async def test_a_group_upgrade_arrives_as_a_move_under_the_new_id_never_as_a_message(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    """Both service messages Telegram sends (old chat: migrate_to, new chat: migrate_from) name the same move."""
    _, inbox = started
    fake_telegram.push_group_upgrade(-4012345678, GROUP, title="Book club")
    fake_telegram.push_text(DM, "real one")
    items = await inbox.wait_for(3)
    moves = items[:2]
    assert [(i.chat_id, i.migrated_from, i.group_name) for i in moves] == [(str(GROUP), "-4012345678", "Book club")] * 2
    assert all(i.text == "" and not i.is_direct and not i.mentioned and not i.attachments for i in moves)
    assert (items[2].text, items[2].migrated_from) == ("real one", None)


async def test_offset_advances_only_after_deliver(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, inbox = started
    inbox.fail_times = 1  # e.g. the database was locked: the update must come back
    first = fake_telegram.push_text(DM, "first")
    second = fake_telegram.push_text(DM, "second")
    items = await inbox.wait_for(2)
    assert [i.text for i in items] == ["first", "second"]
    assert inbox.attempts == 3  # "first" came back after its failed delivery, before "second"

    def offsets() -> list[int]:
        return [int(p["offset"]) for p in fake_telegram.calls_to("getUpdates") if "offset" in p]

    await _until(lambda: second["update_id"] + 1 in offsets())  # confirmed only once delivered
    # after the failure it polled again without confirming anything, and got "first" back
    assert len([p for p in fake_telegram.calls_to("getUpdates") if "offset" not in p]) >= 2
    assert first["update_id"] + 1 <= min(offsets())
    await _until(lambda: str(connector.status) == "ready")


async def test_getupdates_5xx_burst_degrades_then_recovers(fake_telegram: FakeTelegram, lock_dir: Path) -> None:
    connector = make_connector(fake_telegram, lock_dir)
    states: list[str] = []
    inbox = Inbox()
    fake_telegram.fail_next("getUpdates", 502, times=4)
    fake_telegram.push_text(DM, "still there?")
    connector.status.add_listener(lambda status: states.append(str(status)))
    await connector.start(inbox)
    try:
        (inbound,) = await inbox.wait_for(1)
        assert inbound.text == "still there?"
        assert states[:2] == ["starting", "ready"]  # every connector reports STARTING while start() runs
        assert any(s.startswith("degraded:") and "Bad Gateway" in s for s in states)
        assert states[-1] == "ready"
    finally:
        await connector.stop()


async def test_telegram_down_at_start_does_not_crash(lock_dir: Path, tmp_path: Path) -> None:
    fake = FakeTelegram()
    fake.start()
    fake.stop()  # nothing listens on this port any more
    connector = make_connector(fake, lock_dir)
    await connector.start(Inbox())
    try:
        assert str(connector.status).startswith("degraded: cannot reach Telegram")
        await asyncio.sleep(0.2)
        assert connector.failure is None
    finally:
        await connector.stop()


async def test_conflict_with_another_poller_is_reported(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    states: list[str] = []
    connector.status.add_listener(lambda status: states.append(str(status)))

    def other_process_polls() -> None:
        with httpx.Client() as client:
            for _ in range(3):
                client.post(f"{fake_telegram.url}/bot{fake_telegram.token}/getUpdates", data={"timeout": "0.3"})

    thread = threading.Thread(target=other_process_polls)
    thread.start()
    await _until(lambda: any("409 Conflict" in s for s in states))
    await asyncio.to_thread(thread.join)
    assert any("another process is polling this bot token" in s for s in states)
    await _until(lambda: str(connector.status) == "ready")


# -- outbound --------------------------------------------------------------------
async def test_long_reply_is_split_in_order_under_the_limit(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    sentences = [f"Sentence number {i} is **here**." for i in range(400)]
    text = "\n\n".join(" ".join(sentences[i : i + 8]) for i in range(0, 400, 8))
    assert len(text) > 10_000
    ids = await connector.send(Address("telegram", str(DM), reply_to="77"), Outbound(text))
    sent = fake_telegram.sent(DM)
    assert len(sent) == len(ids) >= 3
    assert [str(m.message_id) for m in sent] == ids
    assert all(utf16_len(m.text) <= MAX_TEXT and len(m.raw) <= MAX_TEXT for m in sent)
    assert all(m.parse_mode == "HTML" for m in sent)
    assert [m.reply_to for m in sent] == [77] + [None] * (len(sent) - 1)
    joined = "\n".join(fake_telegram.sent_messages(DM))
    positions = [joined.index(f"Sentence number {i} is here.") for i in range(400)]
    assert positions == sorted(positions)


async def test_rejected_html_falls_back_to_plain_text(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    fake_telegram.fail_next(
        "sendMessage", 400, description="Bad Request: can't parse entities: Unsupported start tag at byte offset 3"
    )
    ids = await connector.send(Address("telegram", str(DM)), Outbound("a **bold** claim"))
    (sent,) = fake_telegram.sent(DM)
    assert ids == [str(sent.message_id)]
    assert (sent.parse_mode, sent.text) == (None, "a **bold** claim")


async def test_send_retries_429_and_5xx_then_gives_up(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    address = Address("telegram", str(DM))
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)
    fake_telegram.fail_next("sendMessage", 502, times=2)
    await connector.send(address, Outbound("made it"))
    assert fake_telegram.sent_messages(DM) == ["made it"]
    assert len(fake_telegram.calls_to("sendMessage")) == 4

    fake_telegram.fail_next("sendMessage", 503, times=10)
    with pytest.raises(TelegramSendError) as info:
        await connector.send(address, Outbound("lost"))
    assert info.value.sent_ids == [] and not info.value.fatal
    assert fake_telegram.token not in str(info.value)


async def test_send_photo_bytes_and_video_url(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    image = png_bytes(16, 16)
    outbound = Outbound(
        "Here you go",
        attachments=(
            Attachment(kind="image", data=image, media_type="image/png", caption="a *red* square"),
            Attachment(kind="video", url="https://cdn.example.com/v.mp4"),
        ),
    )
    ids = await connector.send(Address("telegram", str(DM), reply_to="5"), outbound)
    text, photo, video = fake_telegram.sent(DM)
    assert ids == [str(m.message_id) for m in (text, photo, video)]
    assert photo.method == "sendPhoto" and photo.media is not None
    assert (photo.media["size"], photo.media["filename"], photo.media["data"]) == (len(image), "image.png", image)
    assert (photo.text, photo.raw) == ("a red square", "a <i>red</i> square")
    assert (video.method, video.media) == ("sendVideo", {"url": "https://cdn.example.com/v.mp4"})
    assert [m.reply_to for m in (text, photo, video)] == [5, None, None]


async def test_typing_is_best_effort(started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram) -> None:
    connector, _ = started
    await connector.typing(Address("telegram", str(DM), thread_id="9"))
    assert fake_telegram.calls_to("sendChatAction")[-1] == {
        "chat_id": str(DM),
        "action": "typing",
        "message_thread_id": "9",
    }
    fake_telegram.fail_next("sendChatAction", 500, times=10)
    await connector.typing(Address("telegram", str(DM)))  # does not raise


# -- streaming -------------------------------------------------------------------
async def test_stream_edits_one_message_and_finishes_exactly(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    stream = await connector.open_stream(Address("telegram", str(DM), reply_to="11"))
    answer = ""
    for word in "The answer is **forty two** and that is final".split():
        answer = f"{answer} {word}".strip()
        await stream.update(answer)
        await asyncio.sleep(0.02)
    await stream.update(answer)  # identical text: no extra edit
    ids = await stream.finish(answer + ".")
    (sent,) = fake_telegram.sent(DM, include_deleted=True)
    assert ids == [str(sent.message_id)]
    assert sent.text == "The answer is forty two and that is final."
    assert sent.raw == "The answer is <b>forty two</b> and that is final."
    assert sent.reply_to == 11
    assert 1 <= sent.edits < 10  # throttled, not one edit per word
    edits = fake_telegram.calls_to("editMessageText")
    assert len({e["text"] for e in edits}) == len(edits)  # never the same text twice


async def test_stream_continues_in_new_message_past_the_limit_and_trims_on_finish(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    stream = await connector.open_stream(Address("telegram", str(DM)))
    paragraph = "Lorem ipsum dolor sit amet. " * 40
    text = ""
    for _ in range(8):
        text += paragraph + "\n\n"
        await stream.update(text)
        await asyncio.sleep(0.08)
    await _until(lambda: len(fake_telegram.sent(DM)) >= 2)
    final = paragraph.strip()  # the model's final answer was shorter than what streamed
    ids = await stream.finish(final)
    assert fake_telegram.sent_messages(DM) == [final]
    assert ids == [str(fake_telegram.sent(DM)[0].message_id)]
    assert all(m.deleted for m in fake_telegram.sent(DM, include_deleted=True)[1:])


async def test_stream_finish_right_away_sends_once(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    stream = await connector.open_stream(Address("telegram", str(DM)))
    await stream.update("partial")
    ids = await stream.finish("complete answer")
    assert fake_telegram.sent_messages(DM) == ["complete answer"]
    assert len(ids) == 1


async def test_stream_off_sends_only_the_final_text(fake_telegram: FakeTelegram, lock_dir: Path) -> None:
    config = TelegramConfig(enabled=True, api_base_url=fake_telegram.url, poll_timeout=1, streaming="off")
    connector = TelegramConnector(config, fake_telegram.token, lock_dir=lock_dir, edit_interval=0.01)
    await connector.start(Inbox())
    try:
        stream = await connector.open_stream(Address("telegram", str(DM)))
        await stream.update("draft")
        await asyncio.sleep(0.05)
        assert fake_telegram.sent(DM) == []
        await stream.finish("final")
        assert fake_telegram.sent_messages(DM) == ["final"]
        assert fake_telegram.calls_to("editMessageText") == []
    finally:
        await connector.stop()


async def test_token_never_logged(
    fake_telegram: FakeTelegram, lock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # another test's setup_logging may have quieted httpx
    connector = make_connector(fake_telegram, lock_dir)
    inbox = Inbox()
    await connector.start(inbox)
    try:
        fake_telegram.push_photo(DM)
        await inbox.wait_for(1)
        await connector.send(Address("telegram", str(DM)), Outbound("ok"))
    finally:
        await connector.stop()
    assert "HTTP Request" in caplog.text  # httpx did log the requests...
    assert fake_telegram.token not in caplog.text  # ...with the token redacted


async def test_a_mention_leads_the_message_and_notifies_that_person(
    started: tuple[TelegramConnector, Inbox], fake_telegram: FakeTelegram
) -> None:
    connector, _ = started
    mention = Mention(str(DM), "Alice [admin] *")
    await connector.send(Address("telegram", str(GROUP), "77"), Outbound("Time to **call** the bank", mention=mention))
    [sent] = fake_telegram.sent(GROUP)
    assert sent.raw == f'<a href="tg://user?id={DM}">Alice admin</a> Time to <b>call</b> the bank'
    assert sent.text == "Alice admin Time to call the bank" and sent.thread_id == 77
    await connector.send(Address("telegram", str(GROUP)), Outbound("no one", mention=Mention("not-a-number")))
    assert fake_telegram.sent(GROUP)[-1].raw == "no one"  # only numeric user ids can be mentioned
