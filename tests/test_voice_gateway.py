"""Voice notes through a real gateway and the real Telegram connector, against the fake Telegram and AI/ML API.

A voice note is downloaded only after the access check, transcribed (STT create + polls), the
transcript is what the model answers, and the answer comes back as text (quoting what was heard)
plus a real voice note (sendVoice with OGG/Opus). A failed transcription is told in one sentence
and the message stays pending to be tried again; nothing of a stranger's is ever fetched.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from agentbox.store import Store
from agentbox.voice.audio import is_ogg_opus
from tests.fakes.aimlapi import FakeAimlapi, Reply
from tests.fakes.aimlapi_speech import SttJob
from tests.fakes.audio import ogg_opus
from tests.fakes.telegram import FakeTelegram
from tests.gatewaykit import running_gateway, wait_until
from tests.test_media_access import FRIEND, STRANGER, finished, media_rows, telegram_connector

HEARD = "What is the weather like in Lisbon this weekend?"
FAST_VOICE = "[voice]\nstt_poll_interval = 0.01\n"
ALLOW = f"[channels.telegram]\ndm_policy = 'allowlist'\nallow_from = ['{FRIEND}']\n" + FAST_VOICE


def telegram_gateway(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path, config: str = ALLOW
) -> AbstractAsyncContextManager[Any]:
    """A gateway with the real Telegram connector on the fakes (a new one each time: restarts)."""
    return running_gateway(fake_aimlapi, home, telegram_connector(fake_telegram, tmp_path), config=config)  # type: ignore[arg-type]


async def inbox_statuses(store: Store) -> dict[str, int]:
    return await store.inbox.counts()


async def spend_kinds(store: Store) -> dict[str, float]:
    async with store.conn.execute("SELECT kind, SUM(usd) FROM spend GROUP BY kind") as cursor:
        return {str(r[0]): float(r[1]) for r in await cursor.fetchall()}


async def test_a_voice_note_is_transcribed_answered_and_spoken_back(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    voice = ogg_opus(4.0, seed=3)
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        fake_telegram.push_voice(FRIEND, voice, duration=4)
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
        [turn] = await gateway.store.sessions.transcript(f"telegram:dm:{FRIEND}")
        async with gateway.store.conn.execute("SELECT messages FROM turns") as cursor:
            [(blob,)] = await cursor.fetchall()
        await gateway.store.retention.collect_media(grace=0.0)  # the turn refers to the audio: it stays
        stored = await gateway.store.media.get(hashlib.sha256(voice).hexdigest())
        kinds = await spend_kinds(gateway.store)
    # The model was asked the transcript, and the history keeps it with a reference to the audio.
    assert fake_aimlapi.last_chat()["messages"][-1]["content"] == HEARD
    assert turn["user_text"] == HEARD
    assert f"agentbox-media:{hashlib.sha256(voice).hexdigest()}".encode() in bytes(blob)
    assert stored == (voice, "audio/ogg") and len(bytes(blob)) < 4000  # referenced, not inlined
    # The text answer quotes what was heard, in italics, then the answer.
    [text, spoken] = fake_telegram.sent(FRIEND)
    assert text.text == f"“{HEARD}”\n\necho: {HEARD}" and f"<i>“{HEARD}”</i>" in text.raw
    # ... and the same answer comes as a real voice note, replying to the user's message.
    assert spoken.method == "sendVoice" and spoken.media and is_ogg_opus(spoken.media["data"])
    [tts] = fake_aimlapi.speech.tts_requests()
    assert tts["text"] == f"echo: {HEARD}" and tts["response_format"] == "opus"
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == voice and form["model"] == "openai/gpt-4o-mini-transcribe"
    # The Telegram file URL (it holds the bot token) never left the process: the API got bytes.
    assert all(fake_telegram.token not in r.text for r in fake_aimlapi.requests)
    assert set(kinds) == {"stt", "tts"} and kinds["stt"] > 0 and kinds["tts"] > 0


async def test_an_unpaired_senders_voice_note_is_never_downloaded(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, FAST_VOICE) as gateway:
        fake_telegram.push_voice(STRANGER, ogg_opus(30.0), duration=30, from_id=STRANGER, username="stranger")
        fake_telegram.push_voice(STRANGER, ogg_opus(5.0, seed=2), duration=5, from_id=STRANGER, username="stranger")
        await finished(gateway.store, 2)
        assert await media_rows(gateway.store) == 0
    assert fake_telegram.calls_to("getFile") == []
    assert fake_telegram.requests_to(".oga") == []  # no file download either
    assert fake_aimlapi.speech.stt_requests() == [] and fake_aimlapi.speech.tts_requests() == []
    [reply] = fake_telegram.sent_messages(STRANGER)
    assert "pairing" in reply.lower() or "code" in reply.lower()


async def test_a_failed_transcription_is_told_and_the_message_is_answered_after_a_restart(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    fake_aimlapi.speech.script_stt(
        SttJob(states=["queued", "error"], error={"name": "UpstreamError", "message": "provider overloaded"})
    )
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        gateway.dispatcher.transcribe_retry_delay = 3600.0  # not within this test: the restart retries it
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await wait_until(lambda: fake_telegram.sent_messages(FRIEND))
        assert await inbox_statuses(gateway.store) == {"pending": 1}  # kept, to be tried again
    [told] = fake_telegram.sent_messages(FRIEND)
    assert told == (
        "Sorry, I couldn't transcribe your voice message (the speech-to-text service failed on it "
        "(provider overloaded)); I'll try again in a minute."
    )
    assert fake_aimlapi.chat_requests() == []
    # The next start picks the pending message up; the service works again and it is answered.
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
        assert await inbox_statuses(gateway.store) == {"done": 1}
    assert fake_aimlapi.last_chat()["messages"][-1]["content"] == HEARD


async def test_a_transient_failure_is_retried_in_place(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    fake_aimlapi.speech.script_stt(SttJob(states=["error"]), SttJob(states=["generating", "error"]))
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        gateway.dispatcher.transcribe_retry_delay = 0.01
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
    texts = fake_telegram.sent_messages(FRIEND)
    assert len(texts) == 3 and "I'll try again" in texts[0]  # told once, not at every attempt
    assert texts[1] == f"“{HEARD}”\n\necho: {HEARD}"
    assert len(fake_aimlapi.speech.stt_requests()) == 3 and len(fake_aimlapi.chat_requests()) == 1


async def test_audio_the_service_refuses_is_failed_with_one_sentence(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    from tests.fakes.aimlapi import Fail

    fake_aimlapi.speech.script_stt(Fail(400, "Body validation error! The audio file is corrupted"))
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await finished(gateway.store, 1)
        assert await inbox_statuses(gateway.store) == {"failed": 1}
    assert fake_telegram.sent_messages(FRIEND) == [
        "Sorry, I couldn't transcribe your voice message (the speech-to-text service could not read this audio); "
        "please send it again or type it."
    ]


async def test_too_long_a_voice_note_is_refused_before_any_download(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    config = ALLOW + "max_duration_seconds = 60\n"
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, config) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=900)  # the declared length decides
        await finished(gateway.store, 1)
    assert fake_telegram.sent_messages(FRIEND) == [
        "Sorry, I can't use that voice message: it is 15.0 minutes long; the limit is 60 seconds."
    ]
    assert fake_telegram.calls_to("getFile") == [] and fake_aimlapi.speech.stt_requests() == []


async def test_voice_replies_follow_the_channel_setting(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    off = ALLOW.replace("[voice]", "voice_replies = 'off'\n[voice]")
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, off) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        fake_telegram.push_text(FRIEND, "and in Porto?")
        await finished(gateway.store, 2)
    assert fake_aimlapi.speech.tts_requests() == [] and fake_telegram.calls_to("sendVoice") == []
    always = ALLOW.replace("[voice]", "voice_replies = 'always'\n[voice]")
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, always) as gateway:
        fake_telegram.push_text(FRIEND, "and in Faro?")
        await finished(gateway.store, 3)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
    [tts] = fake_aimlapi.speech.tts_requests()
    assert tts["text"].startswith("echo: ") and "Faro" in tts["text"]


async def test_speech_that_is_not_opus_goes_as_an_audio_file(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    fake_aimlapi.speech.tts_honours_format = False  # asked for opus, the provider answers MP3
    fake_aimlapi.speech.tts_shape = "raw"
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendAudio"))
        kinds = await spend_kinds(gateway.store)
    [spoken] = [m for m in fake_telegram.sent(FRIEND) if m.method == "sendAudio"]
    assert spoken.media and spoken.media["data"][:3] == b"ID3" and spoken.media["filename"] == "speech.mp3"
    assert fake_telegram.calls_to("sendVoice") == []
    assert kinds["tts"] > 0  # no cost reported with raw audio: estimated from the text, still counted


async def test_long_answers_speak_their_first_part_and_send_all_the_text(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    answer = " ".join(f"Sentence number {n} says something about the weather." for n in range(60))
    fake_aimlapi.script(Reply(text=answer))
    config = ALLOW + "max_spoken_chars = 400\necho_transcript = false\n"
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, config) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
    assert "".join(m.text for m in fake_telegram.sent(FRIEND) if m.method == "sendMessage") == answer
    [tts] = fake_aimlapi.speech.tts_requests()
    assert len(tts["text"]) <= 400 and tts["text"].endswith("about the weather. The rest is in my written answer.")


async def test_spending_caps_count_speech_and_stop_it(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    fake_aimlapi.speech.stt_credits = 2_000  # $0.001 to transcribe
    fake_aimlapi.script(Reply(text="Sunny all weekend."))  # the turn (streamed: priced from its tokens)
    config = ALLOW + "[limits]\nusd_per_day = 0.0011\n"
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, config) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)  # under the cap: heard and answered
        await finished(gateway.store, 1)
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0, seed=9), duration=2)  # over it now
        await finished(gateway.store, 2)
    answered, refused = fake_telegram.sent_messages(FRIEND)
    assert answered.endswith("Sunny all weekend.") and "spending limit" in refused
    assert len(fake_aimlapi.speech.stt_requests()) == 1  # the second was refused before any paid call
    assert fake_aimlapi.speech.tts_requests() == []  # nor was the first answer spoken: the cap was reached


async def test_long_answers_can_be_spoken_as_a_summary(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    answer = " ".join(f"Day {n} brings sun, light wind and warm evenings by the river." for n in range(40))
    fake_aimlapi.script(Reply(text=answer), Reply(text="**Sunny** every day, with light wind.", usd=0.0002))
    config = ALLOW + "max_spoken_chars = 300\nlong_replies = 'summary'\n"
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, config) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
        kinds = await spend_kinds(gateway.store)
    [tts] = fake_aimlapi.speech.tts_requests()
    assert tts["text"] == "Sunny every day, with light wind."  # spoken: no Markdown marks
    summary_request = fake_aimlapi.chat_requests()[-1]
    assert answer in summary_request["messages"][-1]["content"]
    assert kinds["chat"] == 0.0002  # the summary's cost, spent outside the turn


async def test_voice_turned_off_downloads_nothing(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    config = ALLOW + "enabled = false\n"
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, config) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await finished(gateway.store, 1)
    assert fake_telegram.sent_messages(FRIEND) == [
        "Sorry, I don't take voice messages or audio here; please send text."
    ]
    assert fake_telegram.calls_to("getFile") == [] and fake_aimlapi.requests == []


def test_usage_shows_spend_per_kind(home: Path) -> None:
    """`agentbox usage --by kind`: chat from turns (less their tools' parts), stt/tts spent outside turns."""
    import asyncio

    from agentbox.store import SpendRecord, TurnRecord
    from tests.clirun import invoke_cli
    from tests.helpers import cli_env

    async def seed() -> None:
        async with await Store.open(home / "agentbox.db") as store:
            await store.sessions.ensure("telegram:7", channel="telegram", chat_id="7")
            turn = await store.sessions.add_turn(
                TurnRecord(session_key="telegram:7", model="gpt-4o-mini", status="ok", sender_id="7", usd=0.010)
            )
            await store.spend.add(
                SpendRecord("image", 0.004, session_key="telegram:7", channel="telegram", sender_id="7", turn_id=turn),
                SpendRecord("stt", 0.002, session_key="telegram:7", channel="telegram", sender_id="7"),
                SpendRecord("tts", 0.003, session_key="telegram:7", channel="telegram", sender_id="7", estimated=True),
            )

    asyncio.run(seed())
    env = cli_env(home)
    out = json.loads(invoke_cli("usage", "--by", "kind", "--json", env=env).stdout)
    kinds = {row["kind"]: row["usd"] for row in out["rows"]}
    assert kinds == {"chat": 0.006, "image": 0.004, "tts": 0.003, "stt": 0.002}
    assert out["caps"]["spent_usd"] == 0.015  # the turn's $0.010 plus $0.005 spent outside it
    table = invoke_cli("usage", "--by", "kind", env=env).stdout
    assert "stt" in table and "~0.0030" in table and "0.0150" in table
    by_day = invoke_cli("usage", env=env).stdout
    assert "By kind: chat $0.0060, image $0.0040, tts ~$0.0030, stt $0.0020" in by_day


async def test_a_failed_spoken_answer_is_said_in_one_sentence(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    from tests.fakes.aimlapi import Fail

    fake_aimlapi.speech.script_tts(Fail(400, "Body validation error! text: too long"))
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await finished(gateway.store, 1)
        await wait_until(lambda: len(fake_telegram.sent(FRIEND)) == 2)
    answer, note = fake_telegram.sent_messages(FRIEND)
    assert answer.endswith(f"echo: {HEARD}")
    assert note == (
        "Sorry, I couldn't turn this answer into speech (the text-to-speech service failed "
        "(Body validation error! text: too long)); the text above is all of it."
    )


async def test_a_restart_after_three_failed_transcriptions_still_retries_or_tells(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    """A failed transcription is handled, not a crash: it must not count toward the restart's give-up limit."""
    fake_aimlapi.speech.script_stt(*[SttJob(states=["error"]) for _ in range(3)])
    fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
    for run in range(1, 4):  # three starts, each transcribing once and failing (its retry is far off)
        async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
            gateway.dispatcher.transcribe_retry_delay = 3600.0
            await wait_until(lambda run=run: len(fake_aimlapi.speech.stt_requests()) == run)
            await wait_until(lambda run=run: len(fake_telegram.sent_messages(FRIEND)) == run)
            async with gateway.store.conn.execute("SELECT status, attempts FROM inbox") as cursor:
                assert [tuple(row) for row in await cursor.fetchall()] == [("pending", 0)]
    # The fourth start transcribes it again (the service works now) and answers.
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
        assert await inbox_statuses(gateway.store) == {"done": 1}
    told = [m.text for m in fake_telegram.sent(FRIEND) if m.method == "sendMessage"]
    assert len(told) == 4 and all("I'll try again" in text for text in told[:3])  # told at each start
    assert told[3] == f"“{HEARD}”\n\necho: {HEARD}"
    assert len(fake_aimlapi.speech.stt_requests()) == 4


async def test_stopping_the_gateway_cancels_a_pending_transcription_retry(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    import asyncio

    fake_aimlapi.speech.script_stt(SttJob(states=["error"]))
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        gateway.dispatcher.transcribe_retry_delay = 0.5
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)
        await wait_until(lambda: fake_telegram.sent_messages(FRIEND))
        # The retry waits as a task the dispatcher owns (and so can stop), not as a bare loop callback.
        [retry] = [task for task in asyncio.all_tasks() if task.get_name().startswith("transcription retry")]
        assert await inbox_statuses(gateway.store) == {"pending": 1}
    assert retry.cancelled()
    await asyncio.sleep(0.6)  # past the retry's moment: nothing is asked of the service after the stop
    assert len(fake_aimlapi.speech.stt_requests()) == 1 and fake_aimlapi.chat_requests() == []


async def test_audio_files_are_heard_but_only_voice_notes_are_answered_aloud(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    """`voice_replies = "mirror"` mirrors voice notes; a song or an audio document is heard and answered in text."""
    from tests.fakes.audio import mp3

    song, memo = mp3(3.0, seed=2), mp3(2.0, seed=3)
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        fake_telegram.push_audio(FRIEND, song, duration=3, file_name="song.mp3")
        await finished(gateway.store, 1)
        fake_telegram.push_document(FRIEND, memo, mime_type="audio/mpeg", file_name="memo.mp3", caption="Summarize:")
        await finished(gateway.store, 2)
        assert await inbox_statuses(gateway.store) == {"done": 2}
    assert [form["file"]["data"] for form in fake_aimlapi.speech.stt_requests()] == [song, memo]
    asked = [request["messages"][-1]["content"] for request in fake_aimlapi.chat_requests()]
    assert asked == [HEARD, f"Summarize:\n\n(Transcript of the attached audio:)\n{HEARD}"]
    assert [m.method for m in fake_telegram.sent(FRIEND)] == ["sendMessage", "sendMessage"]
    assert fake_aimlapi.speech.tts_requests() == []  # neither was a voice note: nothing spoken back


async def test_the_speak_tool_sends_a_voice_note_and_the_answer_is_not_spoken_again(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    from tests.fakes.aimlapi import ToolCall

    poem = "Roses are red, the sea is wide."
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("speak", {"text": poem})]), Reply(text="Here it is, read aloud."))
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, ALLOW) as gateway:
        fake_telegram.push_voice(FRIEND, ogg_opus(2.0), duration=2)  # a voice note: "mirror" would speak the answer
        await finished(gateway.store, 1)
        await wait_until(lambda: fake_telegram.calls_to("sendVoice"))
    [tts] = fake_aimlapi.speech.tts_requests()  # the tool's recording only
    assert tts["text"] == poem and tts["response_format"] == "opus"
    [spoken] = [m for m in fake_telegram.sent(FRIEND) if m.method == "sendVoice"]
    assert spoken.media and is_ogg_opus(spoken.media["data"])
    assert fake_telegram.sent_messages(FRIEND)[0].endswith("Here it is, read aloud.")


async def test_two_peoples_voice_notes_stay_each_in_their_own_chat_history_and_spend(
    fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, home: Path, tmp_path: Path
) -> None:
    """Alice's words, audio, spoken answer and cost never reach Bob's chat, history or spend, nor his hers."""
    bob = 835750363
    config = f"[channels.telegram]\ndm_policy = 'allowlist'\nallow_from = ['{FRIEND}', '{bob}']\n" + FAST_VOICE
    hers, his = ogg_opus(3.0, seed=11), ogg_opus(4.0, seed=12)
    fake_aimlapi.speech.script_stt(SttJob(text="Alice asks about her doctor"), SttJob(text="Bob asks about his bank"))
    async with telegram_gateway(fake_aimlapi, fake_telegram, home, tmp_path, config) as gateway:
        fake_telegram.push_voice(FRIEND, hers, duration=3)
        await finished(gateway.store, 1)
        await wait_until(lambda: len(fake_telegram.calls_to("sendVoice")) == 1)
        fake_telegram.push_voice(bob, his, duration=4, from_id=bob, username="bob", first_name="Bob")
        await finished(gateway.store, 2)
        await wait_until(lambda: len(fake_telegram.calls_to("sendVoice")) == 2)
        blobs = {}
        for person in (FRIEND, bob):
            async with gateway.store.conn.execute(
                "SELECT messages FROM turns WHERE session_key = ?", (f"telegram:dm:{person}",)
            ) as cursor:
                [(blob,)] = await cursor.fetchall()
            blobs[person] = bytes(blob)
        async with gateway.store.conn.execute("SELECT sender_id, kind FROM spend ORDER BY sender_id, kind") as cursor:
            spend = [tuple(row) for row in await cursor.fetchall()]
    alice_says, bob_says = "Alice asks about her doctor", "Bob asks about his bank"
    to_alice, to_bob = fake_telegram.sent(FRIEND), fake_telegram.sent(bob)
    assert [m.method for m in to_alice] == [m.method for m in to_bob] == ["sendMessage", "sendVoice"]
    assert alice_says in to_alice[0].text and bob_says not in to_alice[0].text
    assert bob_says in to_bob[0].text and alice_says not in to_bob[0].text
    assert [form["file"]["data"] for form in fake_aimlapi.speech.stt_requests()] == [hers, his]
    assert [tts["text"] for tts in fake_aimlapi.speech.tts_requests()] == [f"echo: {alice_says}", f"echo: {bob_says}"]
    bobs_model_call = json.dumps(fake_aimlapi.chat_requests()[-1])
    assert bob_says in bobs_model_call and alice_says not in bobs_model_call  # her turn is not his history
    her_ref, his_ref = (f"agentbox-media:{hashlib.sha256(a).hexdigest()}".encode() for a in (hers, his))
    assert her_ref in blobs[FRIEND] and his_ref not in blobs[FRIEND]
    assert his_ref in blobs[bob] and her_ref not in blobs[bob]
    assert spend == [(str(FRIEND), "stt"), (str(FRIEND), "tts"), (str(bob), "stt"), (str(bob), "tts")]
