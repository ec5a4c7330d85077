"""Audio from Slack and Discord: the real connectors in a gateway, against their fakes (which serve the files).

Slack audio files (and clips recorded in Slack) and Discord voice messages and audio attachments
are references until the sender passes the access check, then downloaded, transcribed and
answered; the spoken answer to a clip or voice message goes back as an audio file (MP3), while an
ordinary audio file is answered in text only (`voice_replies = "mirror"`).
"""

from __future__ import annotations

from pathlib import Path

from agentbox.voice.audio import sniff_audio_type
from tests import test_media_access
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.audio import mp3, ogg_opus, webm
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.gatewaykit import running_gateway, wait_until
from tests.test_media_access import finished, media_rows
from tests.test_slack_connector import Harness, dm

slack_harness = test_media_access.slack_harness  # the fixture: the real Slack connector on the fake

HEARD = "What is the weather like in Lisbon this weekend?"
FAST_VOICE = "[voice]\nstt_poll_interval = 0.01\n"


async def test_a_slack_audio_clip_is_downloaded_after_access_transcribed_and_answered_with_audio(
    fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack, slack_harness: Harness, home: Path
) -> None:
    clip = webm(30_000, seed=5)
    file = fake_slack.add_file(clip, "audio/webm", "audio_message.webm") | {
        "subtype": "slack_audio",
        "duration_ms": 6_500,
    }
    config = "[channels.slack]\ndm_policy = 'allowlist'\nallow_from = ['U1']\n" + FAST_VOICE
    async with running_gateway(fake_aimlapi, home, slack_harness.connector, config=config) as gateway:  # type: ignore[arg-type]
        await slack_harness.event(dm("", subtype="file_share", files=[file]))
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_slack.completed_uploads)
    [download] = fake_slack.downloads
    assert download["authorization"] == f"Bearer {fake_slack.bot_token}"
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == clip and form["file"]["content_type"] == "audio/webm"
    assert fake_aimlapi.last_chat()["messages"][-1]["content"] == HEARD
    assert fake_slack.posted("D0DM") == [f"_“{HEARD}”_\n\necho: {HEARD}"]
    [upload] = fake_slack.completed_uploads
    [uploaded] = [u for u in fake_slack.uploads.values() if u["filename"] == "speech.mp3"]
    assert upload["channel_id"] == "D0DM" and sniff_audio_type(uploaded["data"]) == "audio/mpeg"
    assert fake_aimlapi.speech.tts_requests()[0]["response_format"] == "mp3"


async def test_a_slack_strangers_audio_is_never_downloaded(
    fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack, slack_harness: Harness, home: Path
) -> None:
    file = fake_slack.add_file(mp3(60.0), "audio/mpeg", "memo.mp3")
    async with running_gateway(fake_aimlapi, home, slack_harness.connector, config=FAST_VOICE) as gateway:  # type: ignore[arg-type]
        await slack_harness.event(dm("listen", subtype="file_share", files=[file]))
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
    assert fake_slack.downloads == [] and fake_aimlapi.speech.stt_requests() == []


async def test_a_discord_voice_message_is_fetched_transcribed_and_answered_with_audio(
    fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord, home: Path
) -> None:
    from agentbox.connectors.discord.connector import DiscordConnector
    from tests.test_discord_connector import discord_config

    voice = ogg_opus(3.0, seed=11)
    connector = DiscordConnector(discord_config(fake_discord), fake_discord.token, guild_ready_timeout=0.05)
    config = f"[channels.discord]\ndm_policy = 'allowlist'\nallow_from = ['{fake_discord.user_id}']\n" + FAST_VOICE
    async with running_gateway(fake_aimlapi, home, connector, config=config) as gateway:  # type: ignore[arg-type]
        fake_discord.push_message(attachments=[("voice-message.ogg", voice, "audio/ogg")], voice_seconds=3.0)
        await finished(gateway.store, 1)
        await wait_until(lambda: any(m.files for m in fake_discord.messages))
    assert len(fake_discord.requests_to("/voice-message.ogg")) == 1  # from the CDN, after the access check
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == voice
    [text, spoken] = fake_discord.messages
    assert text.content == f"_“{HEARD}”_\n\necho: {HEARD}"
    [(name, data)] = spoken.files
    assert name == "speech.mp3" and sniff_audio_type(data) == "audio/mpeg"


async def test_a_discord_strangers_audio_attachment_is_never_downloaded(
    fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord, home: Path
) -> None:
    from agentbox.connectors.discord.connector import DiscordConnector
    from tests.test_discord_connector import discord_config

    connector = DiscordConnector(discord_config(fake_discord), fake_discord.token, guild_ready_timeout=0.05)
    async with running_gateway(fake_aimlapi, home, connector, config=FAST_VOICE) as gateway:  # type: ignore[arg-type]
        fake_discord.push_message(content="hear this", attachments=[("memo.mp3", mp3(30.0), "audio/mpeg")])
        await finished(gateway.store, 1)
        assert await media_rows(gateway.store) == 0
    assert fake_discord.requests_to("/memo.mp3") == [] and fake_aimlapi.speech.stt_requests() == []


async def test_a_slack_audio_file_from_an_allowed_sender_is_heard_and_answered_in_text(
    fake_aimlapi: FakeAimlapi, fake_slack: FakeSlack, slack_harness: Harness, home: Path
) -> None:
    memo = mp3(4.0, seed=6)
    file = fake_slack.add_file(memo, "audio/mpeg", "memo.mp3")  # an uploaded file, not a clip recorded in Slack
    config = "[channels.slack]\ndm_policy = 'allowlist'\nallow_from = ['U1']\n" + FAST_VOICE
    async with running_gateway(fake_aimlapi, home, slack_harness.connector, config=config) as gateway:  # type: ignore[arg-type]
        await slack_harness.event(dm("Summarize:", subtype="file_share", files=[file]))
        await finished(gateway.store, 1)
        assert await gateway.store.inbox.counts() == {"done": 1}
    assert len(fake_slack.downloads) == 1
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == memo and form["file"]["content_type"] == "audio/mpeg"
    assert fake_aimlapi.last_chat()["messages"][-1]["content"] == (
        f"Summarize:\n\n(Transcript of the attached audio:)\n{HEARD}"
    )
    [reply] = fake_slack.posted("D0DM")
    assert reply.endswith(f"(Transcript of the attached audio:)\n{HEARD}")
    # "mirror" speaks back to voice notes: a file is answered in text only.
    assert fake_aimlapi.speech.tts_requests() == [] and fake_slack.completed_uploads == []


async def test_a_discord_audio_attachment_from_an_allowed_sender_is_heard_and_answered_in_text(
    fake_aimlapi: FakeAimlapi, fake_discord: FakeDiscord, home: Path
) -> None:
    from agentbox.connectors.discord.connector import DiscordConnector
    from tests.test_discord_connector import discord_config

    memo = mp3(5.0, seed=8)
    connector = DiscordConnector(discord_config(fake_discord), fake_discord.token, guild_ready_timeout=0.05)
    config = f"[channels.discord]\ndm_policy = 'allowlist'\nallow_from = ['{fake_discord.user_id}']\n" + FAST_VOICE
    async with running_gateway(fake_aimlapi, home, connector, config=config) as gateway:  # type: ignore[arg-type]
        fake_discord.push_message(content="", attachments=[("memo.mp3", memo, "audio/mpeg")])
        await finished(gateway.store, 1)
        assert await gateway.store.inbox.counts() == {"done": 1}
    assert len(fake_discord.requests_to("/memo.mp3")) == 1
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == memo and form["file"]["content_type"] == "audio/mpeg"
    assert fake_aimlapi.last_chat()["messages"][-1]["content"] == HEARD
    [text] = fake_discord.messages  # the answer, and no spoken copy: an attachment is not a voice message
    assert text.content == f"_“{HEARD}”_\n\necho: {HEARD}" and not text.files
    assert fake_aimlapi.speech.tts_requests() == []
