"""The Slack connector through the real slack-bolt app (HTTP Events mode) and slack_sdk, against FakeSlack."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agentbox.config import ConfigError
from agentbox.connectors.slack.connector import SlackConnector, check_auth, create
from agentbox.connectors.slack.settings import SlackConfig
from agentbox.messages import Address, Attachment, ConnectorError, Inbound, Mention, Outbound
from tests.fakes.slack import FakeSlack

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_event_ids = count(1)


def sign(secret: str, body: str, timestamp: int) -> str:
    """Slack's request signature: v0= HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Harness:
    fake: FakeSlack
    connector: SlackConnector
    received: list[Inbound] = field(default_factory=list)

    async def post(self, payload: dict[str, Any], *, secret: str | None = None, age: int = 0) -> int:
        body = json.dumps(payload)
        timestamp = int(time.time()) - age
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(secret or self.fake.signing_secret, body, timestamp),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.connector.http_url, data=body, headers=headers) as response,
        ):
            await response.read()
            return response.status

    async def event(self, event: dict[str, Any], **kwargs: Any) -> int:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": self.fake.team_id,
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": f"Ev{next(_event_ids):06d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.fake.team_id, "user_id": self.fake.bot_user_id, "is_bot": True}],
            "event": event,
        }
        return await self.post(envelope, **kwargs)


def slack_config(fake: FakeSlack, **overrides: Any) -> SlackConfig:
    settings: dict[str, Any] = {"enabled": True, "mode": "http", "api_base_url": fake.api_url, **overrides}
    return SlackConfig(**settings)


def slack_env(fake: FakeSlack) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_SIGNING_SECRET": fake.signing_secret,
    }


@pytest.fixture
async def slack(fake_slack: FakeSlack) -> AsyncIterator[Harness]:
    connector = create(slack_config(fake_slack), slack_env(fake_slack), http_port=0)
    harness = Harness(fake_slack, connector)

    async def deliver(inbound: Inbound) -> None:
        harness.received.append(inbound)

    await connector.start(deliver)
    try:
        yield harness
    finally:
        await connector.stop()


def dm(text: str, ts: str = "1710000000.000100", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "channel": "D0DM", "channel_type": "im", "user": "U1", "text": text, "ts": ts, **extra}


# -- lifecycle and auth --------------------------------------------------------------


async def test_start_is_ready_and_http_port_exposed(slack: Harness) -> None:
    assert str(slack.connector.status) == "ready"
    assert slack.connector.http_port > 0
    assert slack.connector.bot_user_id == "U0BOT"
    assert slack.fake.requests_to("/api/auth.test")


async def test_create_names_missing_env_vars(fake_slack: FakeSlack) -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        create(slack_config(fake_slack), {})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        create(slack_config(fake_slack), {"SLACK_BOT_TOKEN": "xoxb-1"})
    socket = SlackConfig(mode="socket", app_token_env="MY_APP_TOKEN")
    with pytest.raises(ConfigError, match="MY_APP_TOKEN"):
        create(socket, {"SLACK_BOT_TOKEN": "xoxb-1"})


async def test_invalid_auth_is_fatal_and_never_shows_the_token(fake_slack: FakeSlack) -> None:
    env = {**slack_env(fake_slack), "SLACK_BOT_TOKEN": "xoxb-wrong-secret-value"}
    connector = create(slack_config(fake_slack), env, http_port=0)
    with pytest.raises(ConnectorError) as caught:
        await connector.start(_ignore)
    assert caught.value.fatal
    assert "invalid_auth" in str(caught.value) and "SLACK_BOT_TOKEN" in str(caught.value)
    assert "xoxb-wrong" not in str(caught.value)
    assert str(connector.status).startswith("failed: ")
    await connector.stop()


async def test_missing_scope_reported_by_auth_test_is_named(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("auth.test", status=200, error="missing_scope", needed="chat:write")
    connector = create(slack_config(fake_slack), slack_env(fake_slack), http_port=0)
    with pytest.raises(ConnectorError, match="chat:write"):
        await connector.start(_ignore)
    await connector.stop()


async def test_scopes_missing_from_the_token_degrade_and_are_listed(fake_slack: FakeSlack) -> None:
    fake_slack.scopes.discard("reactions:write")
    problems = await check_auth(slack_config(fake_slack), slack_env(fake_slack))
    assert len(problems) == 1 and "reactions:write" in problems[0]
    connector = create(slack_config(fake_slack), slack_env(fake_slack), http_port=0)
    await connector.start(_ignore)
    try:
        assert str(connector.status).startswith("degraded: ") and "reactions:write" in str(connector.status)
    finally:
        await connector.stop()


async def test_check_auth_in_socket_mode_checks_both_tokens(fake_slack: FakeSlack) -> None:
    config = slack_config(fake_slack, mode="socket")
    assert await check_auth(config, slack_env(fake_slack)) == []
    bad = {**slack_env(fake_slack), "SLACK_APP_TOKEN": "xapp-wrong"}
    problems = await check_auth(config, bad)
    assert problems and "SLACK_APP_TOKEN" in problems[0]


async def test_socket_mode_with_a_rejected_app_token_fails_fatally(fake_slack: FakeSlack) -> None:
    env = {**slack_env(fake_slack), "SLACK_APP_TOKEN": "xapp-wrong"}
    connector = create(slack_config(fake_slack, mode="socket"), env)
    with pytest.raises(ConnectorError) as caught:
        await connector.start(_ignore)
    assert caught.value.fatal and "SLACK_APP_TOKEN" in str(caught.value)
    await connector.stop()


async def wait_for(condition: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_socket_mode_delivers_acks_and_reconnects(fake_slack: FakeSlack) -> None:
    received: list[Inbound] = []

    async def deliver(inbound: Inbound) -> None:
        received.append(inbound)

    connector = create(slack_config(fake_slack, mode="socket"), slack_env(fake_slack))
    await connector.start(deliver)
    try:
        assert str(connector.status) == "ready"
        await wait_for(lambda: fake_slack.socket_connected)
        envelope = fake_slack.push_socket_event(dm("over the socket"))
        await wait_for(lambda: received and fake_slack.socket_acks)
        assert [i.text for i in received] == ["over the socket"]
        assert fake_slack.socket_acks[0]["envelope_id"] == envelope
        fake_slack.drop_sockets()  # the SDK must reconnect on its own
        await wait_for(lambda: len(fake_slack.calls_to("apps.connections.open")) >= 2 and fake_slack.socket_connected)
        fake_slack.push_socket_event(dm("after reconnect", ts="1710000000.000200"))
        await wait_for(lambda: len(received) == 2)
    finally:
        await connector.stop()
    assert str(connector.status) == "stopped"


def test_importing_the_connector_does_not_import_slack_sdks() -> None:
    code = "import sys, agentbox.connectors.slack.connector; sys.exit(any(m.startswith('slack_') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


async def _ignore(inbound: Inbound) -> None:
    pass


# -- inbound -------------------------------------------------------------------------


async def test_dm_becomes_an_inbound(slack: Harness) -> None:
    slack.fake.users["U1"] = {"name": "ada", "profile": {"display_name": "Ada"}}
    assert await slack.event(dm("hello &lt;there&gt; <https://a.example|site>")) == 200
    [inbound] = slack.received
    assert inbound == Inbound(
        channel="slack",
        chat_id="D0DM",
        message_id="1710000000.000100",
        sender_id="U1",
        text="hello <there> site (https://a.example)",
        is_direct=True,
        sender_name="Ada",
        thread_id=None,
    )


async def test_wrong_signature_is_rejected(slack: Harness) -> None:
    assert await slack.event(dm("hi"), secret="not-the-secret") == 401
    assert slack.received == []


async def test_stale_timestamp_is_rejected(slack: Harness) -> None:
    assert await slack.event(dm("hi"), age=10 * 60) == 401
    assert slack.received == []


async def test_url_verification_challenge_is_answered(slack: Harness) -> None:
    payload = {"type": "url_verification", "challenge": "c-123", "token": "t"}
    assert await slack.post(payload) == 200


async def test_app_mention_starts_a_thread(slack: Harness) -> None:
    mention = {
        "type": "app_mention",
        "channel": "C1",
        "user": "U1",
        "text": "<@U0BOT> what is up?",
        "ts": "1710000001.000200",
    }
    assert await slack.event(mention) == 200
    [inbound] = slack.received
    assert (inbound.chat_id, inbound.thread_id, inbound.message_id) == ("C1", "1710000001.000200", "1710000001.000200")
    assert inbound.mentioned and not inbound.is_direct
    assert inbound.text == "what is up?"
    await slack.connector.send(inbound.address, Outbound("Not much."))
    [reply] = slack.fake.messages
    assert reply["thread_ts"] == "1710000001.000200" and reply["channel"] == "C1"


async def test_channel_message_with_a_mention_is_delivered_once(slack: Harness) -> None:
    # Slack sends both `message` and `app_mention` for it; only app_mention delivers.
    message = {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U1"}
    message.update(text="<@U0BOT> hi", ts="1710000001.000300", thread_ts="1710000000.000001")
    await slack.event(message)
    assert slack.received == []


async def test_thread_follow_up_without_mention_in_a_thread_the_bot_answered(slack: Harness) -> None:
    await slack.connector.send(Address("slack", "C1", "1710000002.000100"), Outbound("first answer"))
    follow_up = {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U2", "text": "and then?"}
    follow_up.update(ts="1710000003.000100", thread_ts="1710000002.000100")
    assert await slack.event(follow_up) == 200
    [inbound] = slack.received
    assert inbound.mentioned and inbound.thread_id == "1710000002.000100" and inbound.text == "and then?"


async def test_a_thread_follow_up_carries_the_thread_parent(fake_slack: FakeSlack, slack: Harness) -> None:
    # Someone's message started the thread; the bot was pulled in later, so the parent is not in its history.
    parent = "Deploy of *billing* failed on `prod-eu`: exit code 137 (OOM) after 4m12s"
    fake_slack.messages.append({"channel": "C1", "ts": "1710000006.000100", "thread_ts": None, "user": "U3"})
    fake_slack.messages[-1].update(text=parent, blocks=None)
    mention = {"type": "app_mention", "channel": "C1", "user": "U2", "text": "<@U0BOT> why did it fail?"}
    await slack.event({**mention, "ts": "1710000006.000200", "thread_ts": "1710000006.000100"})
    await slack.connector.send(slack.received[0].address, Outbound("Out of memory."))
    follow_up = {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U2", "text": "how much?"}
    await slack.event({**follow_up, "ts": "1710000006.000400", "thread_ts": "1710000006.000100"})
    quoted = [("why did it fail?", parent), ("how much?", parent)]  # as the user's own text: mrkdwn kept
    assert [(i.text, i.reply_to_text) for i in slack.received] == quoted
    assert len(fake_slack.calls_to("conversations.replies")) == 1  # the parent is read once per thread


async def test_a_thread_the_bot_was_mentioned_in_quotes_no_parent(slack: Harness) -> None:
    # The mention that opened the thread is the session's first turn: quoting it again would only cost tokens.
    mention = {"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@U0BOT> summarize the plan"}
    await slack.event({**mention, "ts": "1710000007.000100"})
    await slack.connector.send(slack.received[0].address, Outbound("Here it is."))
    follow_up = {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U1", "text": "shorter"}
    await slack.event({**follow_up, "ts": "1710000007.000300", "thread_ts": "1710000007.000100"})
    assert [(i.text, i.reply_to_text) for i in slack.received] == [("summarize the plan", None), ("shorter", None)]
    assert slack.fake.calls_to("conversations.replies") == []


async def test_thread_without_the_bot_and_plain_channel_chatter_are_ignored(slack: Harness) -> None:
    base = {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U2", "text": "chatter"}
    await slack.event({**base, "ts": "1710000004.000100"})
    await slack.event({**base, "ts": "1710000004.000200", "thread_ts": "1710000004.000001"})
    assert slack.received == []


async def test_thread_membership_is_recovered_after_a_restart(fake_slack: FakeSlack, slack: Harness) -> None:
    # A previous run answered in this thread; this connector has no memory of it.
    fake_slack.messages.append({"channel": "C1", "ts": "1710000005.000200", "thread_ts": "1710000005.000100"})
    fake_slack.messages[-1].update(text="earlier answer", user="U0BOT", bot_id="B0BOT", blocks=None)
    follow_up = {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U2", "text": "more"}
    await slack.event({**follow_up, "ts": "1710000005.000300", "thread_ts": "1710000005.000100"})
    assert [i.text for i in slack.received] == ["more"]


async def test_bots_own_and_other_bots_messages_are_ignored(slack: Harness) -> None:
    await slack.event(dm("I am the bot", user="U0BOT", bot_id="B0BOT"))
    await slack.event(dm("another bot", user="U9", bot_id="B9"))
    await slack.event(dm("legacy bot", subtype="bot_message", bot_id="B9"))
    assert slack.received == []


async def test_edits_and_deletions_are_ignored(slack: Harness) -> None:
    edited: dict[str, Any] = {"type": "message", "channel": "D0DM", "channel_type": "im", "subtype": "message_changed"}
    edited.update(message={"user": "U1", "text": "edited", "ts": "1"}, ts="1710000006.000100")
    deleted = {"type": "message", "channel": "D0DM", "channel_type": "im", "subtype": "message_deleted"}
    deleted.update(deleted_ts="1", ts="1710000006.000200")
    assert await slack.event(edited) == 200
    assert await slack.event(deleted) == 200
    assert slack.received == []


async def test_image_file_is_downloaded_with_the_bot_token(slack: Harness) -> None:
    image = slack.fake.add_file(PNG, "image/png", "cat.png")
    await slack.event(dm("what is this?", subtype="file_share", files=[image]))
    [inbound] = slack.received
    [attachment] = inbound.attachments
    assert (attachment.ref, attachment.size, attachment.data) == (image["url_private_download"], len(PNG), None)
    assert slack.fake.downloads == []  # nothing fetched before the gateway's access check
    fetched = await slack.connector.fetch(attachment, 1024 * 1024)
    assert (fetched.kind, fetched.data, fetched.media_type, fetched.filename) == ("image", PNG, "image/png", "cat.png")
    [download] = slack.fake.downloads
    assert download == {"file_id": image["id"], "authorization": f"Bearer {slack.fake.bot_token}"}


async def test_file_on_a_foreign_host_never_gets_the_token(slack: Harness) -> None:
    image = slack.fake.add_file(PNG, "image/png")
    image["url_private_download"] = image["url_private"] = "http://files.evil.example/x.png"
    await slack.event(dm("", subtype="file_share", files=[image]))
    [inbound] = slack.received
    assert inbound.attachments == () and inbound.unsupported == "file"
    assert slack.fake.downloads == []


# -- outbound ------------------------------------------------------------------------


async def test_long_answer_is_split_in_order_into_the_thread(slack: Harness) -> None:
    paragraphs = [f"Paragraph {n}: " + ("lorem ipsum " * 40).strip() for n in range(20)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) > 9000
    address = Address("slack", "C1", "1710000007.000100", "1710000007.000100")
    ids = await slack.connector.send(address, Outbound(answer))
    posted = slack.fake.posted("C1")
    assert len(ids) == len(posted) >= 3
    assert all(len(text) <= 3900 for text in posted)
    assert "\n\n".join(posted) == answer  # nothing lost, nothing reordered
    assert {m["thread_ts"] for m in slack.fake.messages} == {"1710000007.000100"}


async def test_markdown_is_sent_as_mrkdwn(slack: Harness) -> None:
    await slack.connector.send(Address("slack", "D0DM"), Outbound("**Done** see [docs](https://x.example) & `a<b`"))
    assert slack.fake.posted() == ["*Done* see <https://x.example|docs> &amp; `a&lt;b`"]


async def test_rate_limited_post_is_retried_after_retry_after(slack: Harness) -> None:
    slack.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    ids = await slack.connector.send(Address("slack", "D0DM"), Outbound("hello"))
    assert time.monotonic() - started >= 1.0
    assert len(slack.fake.calls_to("chat.postMessage")) == 2
    assert slack.fake.posted() == ["hello"] and len(ids) == 1


async def test_final_send_failure_raises(slack: Harness) -> None:
    slack.fake.fail_next("chat.postMessage", status=200, error="channel_not_found")
    with pytest.raises(ConnectorError, match="channel_not_found") as caught:
        await slack.connector.send(Address("slack", "C404", None, "1710000008.000100"), Outbound("hi"))
    assert not caught.value.fatal
    assert slack.fake.posted() == []


async def test_a_retried_send_does_not_repeat_chunks_already_posted(slack: Harness) -> None:
    answer = "\n\n".join([("word " * 700).strip(), ("more " * 700).strip()])
    address = Address("slack", "C1", "1710000008.000100", "1710000008.000101")
    first = await slack.connector.send(address, Outbound(answer))
    assert len(first) >= 2 and len(slack.fake.posted()) == len(first)
    again = await slack.connector.send(address, Outbound(answer))  # e.g. the gateway retries after a crash
    assert again == first and len(slack.fake.posted()) == len(first)


async def test_attachment_goes_through_the_three_upload_calls(slack: Harness) -> None:
    address = Address("slack", "C1", "1710000009.000100", "1710000009.000100")
    picture = Attachment(kind="image", data=PNG, media_type="image/png", caption="A **cat**")
    ids = await slack.connector.send(address, Outbound(attachments=(picture,)))
    [get_url] = slack.fake.calls_to("files.getUploadURLExternal")
    assert get_url["filename"] == "image.png" and int(get_url["length"]) == len(PNG)
    [upload] = slack.fake.uploads.values()
    assert upload["data"] == PNG
    [completed] = slack.fake.completed_uploads
    assert completed["channel_id"] == "C1" and completed["thread_ts"] == "1710000009.000100"
    assert completed["initial_comment"] == "A *cat*"
    assert ids == [completed["files"][0]["id"]]


async def test_working_reaction_added_once_and_removed_by_send(slack: Harness) -> None:
    address = Address("slack", "D0DM", None, "1710000010.000100")
    await slack.connector.typing(address)
    await slack.connector.typing(address)  # the gateway may refresh it: one reactions.add only
    assert slack.fake.reactions[("D0DM", "1710000010.000100")] == ["eyes"]
    await slack.connector.send(address, Outbound("done"))
    assert slack.fake.reactions[("D0DM", "1710000010.000100")] == []
    await slack.connector.typing(address)  # a late typing tick after the reply must not re-add it
    assert slack.fake.reactions[("D0DM", "1710000010.000100")] == []
    assert len(slack.fake.calls_to("reactions.add")) == 1


async def test_done_removes_the_working_reaction_without_a_reply(slack: Harness) -> None:
    address = Address("slack", "D0DM", None, "1710000011.000100")
    await slack.connector.typing(address)
    await slack.connector.done(address)
    await slack.connector.done(address)
    assert slack.fake.reactions[("D0DM", "1710000011.000100")] == []
    assert len(slack.fake.calls_to("reactions.remove")) == 1


def test_manifest_asks_for_exactly_the_scopes_and_events_the_connector_uses() -> None:
    import yaml  # type: ignore[import-untyped]

    from agentbox.connectors.slack.connector import REQUIRED_SCOPES
    from tests.fakes.slack import ALL_SCOPES

    manifest = yaml.safe_load((Path(__file__).parent.parent / "docs" / "slack-app-manifest.yaml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(REQUIRED_SCOPES) == sorted(ALL_SCOPES)
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == ["app_mention", "message.channels", "message.groups", "message.im"]
    assert manifest["settings"]["socket_mode_enabled"] is True


async def test_a_mention_leads_the_first_chunk_and_model_text_still_cannot_mention(slack: Harness) -> None:
    address = Address("slack", "C0TEAM", "1710000012.000100")
    await slack.connector.send(address, Outbound("Stand-up <@U0EVE> <!channel>", mention=Mention("U0ALICE", "Alice")))
    assert slack.fake.posted("C0TEAM") == ["<@U0ALICE> Stand-up &lt;@U0EVE&gt; &lt;!channel&gt;"]
    await slack.connector.send(address, Outbound("hi", mention=Mention("<!everyone>")))
    assert slack.fake.posted("C0TEAM")[-1] == "hi"  # not a user id: no mention at all
