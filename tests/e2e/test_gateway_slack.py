"""End to end: a real `agentbox gateway run` process with Slack in HTTP Events mode.

Signed Events API requests go to the real slack-bolt app inside the gateway; its replies go
through the real slack_sdk to FakeSlack; the turn pipeline talks to FakeAimlapi. Nothing is
mocked in-process. The connector answers an event's HTTP request only after the gateway
stored the message, so once `event()` returns, the message was either stored or dropped.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gatewayproc import wait_for
from tests.e2e.platforms import (
    PlatformGateway,
    SlackEvents,
    asked,
    image_urls,
    inbox_settled,
    pairing_code,
    start_platform_gateway,
)
from tests.fakes.aimlapi import FakeAimlapi, Reply
from tests.fakes.slack import FakeSlack
from tests.helpers import png_bytes, run_cli

ALICE = "U0ALICE"
DM = "D0ALICE"
CHANNEL = "C0GENERAL"
OPEN = 'dm_policy = "open"'
OPEN_CHANNEL = f'groups = ["{CHANNEL}"]'  # everyone in #general may talk to the bot

Launch = Callable[..., tuple[PlatformGateway, SlackEvents]]


@pytest.fixture
def launch(home: Path, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack) -> Iterator[Launch]:
    """Start a gateway with Slack in HTTP mode on a free port; returns it and a signed-event poster."""
    started: list[PlatformGateway] = []

    def start(extra: str = "") -> tuple[PlatformGateway, SlackEvents]:
        config = (
            f'mode = "http"\nhttp_host = "127.0.0.1"\nhttp_port = 0\napi_base_url = "{fake_slack.api_url}"\n{extra}\n'
        )
        gateway = start_platform_gateway(
            home,
            fake_aimlapi,
            "slack",
            config,
            SLACK_BOT_TOKEN=fake_slack.bot_token,
            SLACK_SIGNING_SECRET=fake_slack.signing_secret,
        )
        started.append(gateway)
        gateway.wait_ready()
        return gateway, SlackEvents(gateway, fake_slack)

    yield start
    for gateway in started:
        if gateway.proc.poll() is None:
            gateway.kill()


def dm(text: str, **extra: Any) -> dict[str, Any]:
    ts = SlackEvents.next_ts()
    return {"type": "message", "channel": DM, "channel_type": "im", "user": ALICE, "text": text, "ts": ts, **extra}


def in_channel(text: str, **extra: Any) -> dict[str, Any]:
    ts = SlackEvents.next_ts()
    event = {"type": "message", "channel": CHANNEL, "channel_type": "channel", "user": ALICE, "text": text, "ts": ts}
    return {**event, **extra}


def posted_containing(fake_slack: FakeSlack, needle: str, channel: str = DM) -> list[dict[str, Any]]:
    """chat.postMessage calls that succeeded, in order, whose text contains `needle`."""
    with fake_slack.lock:
        return [dict(m) for m in fake_slack.messages if m["channel"] == channel and needle in m["text"]]


def answered(fake_slack: FakeSlack, needle: str, channel: str = DM) -> Callable[[], list[dict[str, Any]]]:
    return lambda: posted_containing(fake_slack, needle, channel)


def test_dm_pairing_then_approve_then_answer(launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack) -> None:
    gateway, events = launch()
    assert events.event(dm("hello bot")) == 200
    [reply] = wait_for(answered(fake_slack, "pairing code"), what="the pairing reply")
    code = pairing_code(reply["text"], "slack")
    assert code is not None, reply["text"]  # the exact command, ready to paste
    assert f"Your pairing code is {code}." in reply["text"]
    assert reply["thread_ts"] is None  # a DM is answered in the DM itself
    wait_for(lambda: gateway.status()[1]["pairing"]["by_channel"] == {"slack": 1}, what="the pending request")
    assert fake_aimlapi.chat_requests() == []  # an unknown sender never reaches the model

    approved = run_cli("pairing", "approve", "slack", code, env=gateway.env)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == f"Approved slack sender {ALICE}.\nThey were told they can talk now.\n"

    assert events.event(dm("what is 2+2?")) == 200
    wait_for(answered(fake_slack, "echo: what is 2+2?"), what="the model's answer")
    assert asked(fake_aimlapi) == ["what is 2+2?"]
    assert len(posted_containing(fake_slack, "pairing code")) == 1
    # The notice went out when the owner approved: before the first answer, once.
    assert [m["text"][:16] for m in fake_slack.messages] == ["Hi! I don't know", "You're approved:", "echo: what is 2+"]
    assert gateway.terminate() == 0


def test_mention_answered_in_a_thread_and_follow_ups_without_mention(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack
) -> None:
    gateway, events = launch(OPEN_CHANNEL)
    assert events.event(in_channel("just chatting, no mention")) == 200  # channel chatter is not for the bot
    question = in_channel(f"<@{fake_slack.bot_user_id}> what is the capital of France?", type="app_mention")
    assert events.event(question) == 200
    [answer] = wait_for(answered(fake_slack, "echo: what is the capital of France?", CHANNEL), what="the answer")
    assert answer["thread_ts"] == question["ts"]  # a mention outside a thread starts one
    # The working signal: a reaction on the question while the turn ran, removed afterwards.
    assert [c["timestamp"] for c in fake_slack.calls_to("reactions.add")] == [question["ts"]]
    wait_for(lambda: fake_slack.reactions.get((CHANNEL, question["ts"])) == [], what="the reaction removed")

    assert events.event(in_channel("and of Italy?", thread_ts=question["ts"])) == 200  # no mention
    [again] = wait_for(answered(fake_slack, "echo: and of Italy?", CHANNEL), what="the follow-up's answer")
    assert again["thread_ts"] == question["ts"]  # the same thread...
    history = fake_aimlapi.chat_requests()[-1]["messages"]
    assert any("capital of France" in str(m.get("content")) for m in history)  # ...and the same session
    assert asked(fake_aimlapi) == ["what is the capital of France?", "and of Italy?"]
    assert len(fake_slack.posted(CHANNEL)) == 2
    assert inbox_settled(gateway, 2) == {"done": 2}  # the chatter was dropped by the connector

    # After a restart the connector no longer remembers the thread: it asks Slack who is in it.
    assert gateway.terminate() == 0
    _, events = launch(OPEN_CHANNEL)
    assert events.event(in_channel("and of Spain?", thread_ts=question["ts"])) == 200
    [third] = wait_for(answered(fake_slack, "echo: and of Spain?", CHANNEL), what="the answer after a restart")
    assert third["thread_ts"] == question["ts"]
    assert [c["ts"] for c in fake_slack.calls_to("conversations.replies")] == [question["ts"]]


def test_own_and_other_bots_messages_are_ignored(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack
) -> None:
    gateway, events = launch(OPEN)
    own = dm("echo: an earlier answer", user=fake_slack.bot_user_id, bot_id=fake_slack.bot_id)
    assert events.event(own) == 200
    other_bot = dm("beep", subtype="bot_message", bot_id="B0OTHER", user=None)
    assert events.event(other_bot) == 200
    assert events.event(dm("are you there?")) == 200  # handled after the two above
    wait_for(answered(fake_slack, "echo: are you there?"), what="the answer to the person")
    assert asked(fake_aimlapi) == ["are you there?"]
    assert fake_slack.posted(DM) == ["echo: are you there?"]
    assert inbox_settled(gateway, 1) == {"done": 1}  # the bots' events were never even stored


def test_image_file_in_a_dm_reaches_the_model(launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack) -> None:
    _, events = launch(OPEN)
    picture = png_bytes(3, 3)
    shared = dm("what is in this picture?", subtype="file_share", files=[fake_slack.add_file(picture, "image/png")])
    assert events.event(shared) == 200
    wait_for(answered(fake_slack, "echo: what is in this picture?"), what="the answer about the picture")
    [request] = fake_aimlapi.chat_requests()
    [url] = image_urls(request)
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == picture
    assert [d["authorization"] for d in fake_slack.downloads] == [f"Bearer {fake_slack.bot_token}"]
    assert fake_slack.bot_token not in str(fake_aimlapi.chat_requests())  # the token stays with Slack


def test_long_answer_arrives_in_order_in_several_messages(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack
) -> None:
    paragraphs = [f"Paragraph {i}: " + ("lorem ipsum dolor sit amet " * 18).strip() + "." for i in range(20)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) > 10_000
    fake_aimlapi.script(Reply(text=answer))
    _, events = launch(OPEN)
    assert events.event(dm("tell me a lot")) == 200

    def complete() -> list[str]:
        sent = fake_slack.posted(DM)
        return sent if sent and "Paragraph 19" in sent[-1] else []

    sent = wait_for(complete, what="the whole long answer")
    assert len(sent) >= 3 and all(len(text) <= 3900 for text in sent)
    assert " ".join(" ".join(sent).split()) == " ".join(answer.split())  # every word once, in order
    assert all(m["thread_ts"] is None for m in fake_slack.messages)
    assert len(fake_aimlapi.chat_requests()) == 1


def test_rate_limited_post_is_retried_after_retry_after(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack
) -> None:
    _, events = launch(OPEN)
    fake_slack.fail_next("chat.postMessage", 429, retry_after=1)
    assert events.event(dm("hello despite limits")) == 200
    wait_for(answered(fake_slack, "echo: hello despite limits"), what="the answer after the 429")
    attempts = fake_slack.requests_to("/api/chat.postMessage")
    assert len(attempts) == 2  # the 429, then one successful retry
    assert attempts[1].time - attempts[0].time >= 0.9  # Retry-After: 1 was honoured
    assert fake_slack.posted(DM) == ["echo: hello despite limits"]
    assert len(fake_aimlapi.chat_requests()) == 1  # a failed send does not re-run the turn


def test_wrong_signature_is_rejected(launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack) -> None:
    gateway, events = launch(OPEN)
    assert events.event(dm("forged"), secret="not-the-signing-secret") == 401
    assert events.event(dm("genuine")) == 200
    wait_for(answered(fake_slack, "echo: genuine"), what="the genuine message's answer")
    assert asked(fake_aimlapi) == ["genuine"]
    assert fake_slack.posted(DM) == ["echo: genuine"]
    assert inbox_settled(gateway, 1) == {"done": 1}  # the forged request was never stored


def test_a_stranger_in_a_channel_nobody_opened_gets_one_hint_until_the_owner_opens_it(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack
) -> None:
    gateway, events = launch()
    for text in ("summarize the secrets", "/model o1-pro", "hello??"):
        assert events.event(in_channel(f"<@{fake_slack.bot_user_id}> {text}", type="app_mention")) == 200
    [hint] = wait_for(answered(fake_slack, "approve-group", CHANNEL), what="the channel hint")
    assert fake_slack.posted(CHANNEL) == [hint["text"]] and fake_aimlapi.chat_requests() == []
    assert fake_slack.calls_to("reactions.add") == []  # no "working" signal for a refused message either
    code = re.search(r"approve-group slack ([A-Z2-9]{8})", hint["text"])
    assert code is not None, hint["text"]
    opened = run_cli("pairing", "approve-group", "slack", code.group(1), env=gateway.env)
    assert opened.returncode == 0, opened.stderr
    assert events.event(in_channel(f"<@{fake_slack.bot_user_id}> now?", type="app_mention")) == 200
    wait_for(answered(fake_slack, "echo: now?", CHANNEL), what="the answer once the channel is open")
    assert asked(fake_aimlapi) == ["now?"]


def test_own_events_in_a_channel_start_no_turn_and_no_reaction(
    launch: Launch, fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack
) -> None:
    """The bot's own posts, edits of them (streaming) and self-mentions, in a thread it answers in."""
    gateway, events = launch(OPEN_CHANNEL)
    bot = {"user": fake_slack.bot_user_id, "bot_id": fake_slack.bot_id}
    question = in_channel(f"<@{fake_slack.bot_user_id}> hi", type="app_mention")
    assert events.event(question) == 200
    wait_for(answered(fake_slack, "echo: hi", CHANNEL), what="the first answer")
    thread = {"thread_ts": question["ts"]}
    assert events.event(in_channel("echo: hi", **bot, **thread)) == 200  # its own reply, echoed by Slack
    assert events.event(in_channel(f"<@{fake_slack.bot_user_id}> as I said", type="app_mention", **bot)) == 200
    edited = in_channel("", subtype="message_changed", **thread)
    edited["message"] = {"type": "message", "text": "echo: hi (edited)", "ts": question["ts"], **bot}
    assert events.event(edited) == 200
    legacy = in_channel("posted by an integration", subtype="bot_message", bot_id=fake_slack.bot_id, user=None)
    assert events.event(legacy) == 200
    follow_up = in_channel("and you?", **thread)
    assert events.event(follow_up) == 200  # a person, after all of the above
    wait_for(answered(fake_slack, "echo: and you?", CHANNEL), what="the person's answer")
    assert asked(fake_aimlapi) == ["hi", "and you?"]
    assert fake_slack.posted(CHANNEL) == ["echo: hi", "echo: and you?"]
    # The "working" reaction went on the two people's messages only.
    assert [c["timestamp"] for c in fake_slack.calls_to("reactions.add")] == [question["ts"], follow_up["ts"]]
    assert inbox_settled(gateway, 2) == {"done": 2}  # the bot's events were never even stored
