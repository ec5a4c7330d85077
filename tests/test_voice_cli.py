"""Voice at the terminal and in a turn: `agentbox agent --audio/--speak`, the `speak` tool, the spend migration."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.store import Store
from agentbox.voice.audio import is_ogg_opus, sniff_audio_type
from tests.clirun import invoke_cli
from tests.fakes.aimlapi import FakeAimlapi, Reply, ToolCall
from tests.fakes.audio import mp3, ogg_opus
from tests.helpers import cli_env, database_before, write_config

HEARD = "What is the weather like in Lisbon this weekend?"
FAST_VOICE = "[voice]\nstt_poll_interval = 0.01\n"


def test_agent_audio_transcribes_answers_and_reports_the_transcript(
    fake_aimlapi: FakeAimlapi, home: Path, tmp_path: Path
) -> None:
    write_config(home, FAST_VOICE)
    memo = tmp_path / "memo.ogg"
    memo.write_bytes(ogg_opus(5.0, seed=4))
    done = invoke_cli("agent", "--audio", str(memo), "--json", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["transcript"] == HEARD and out["reply"] == f"echo: {HEARD}"
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == memo.read_bytes()
    shown = json.loads(invoke_cli("sessions", "show", "cli:default", "--json", env=cli_env(home)).stdout)
    assert shown["turns"][0]["user_text"] == HEARD  # the history keeps the transcript
    text = invoke_cli("agent", "-m", "Answer briefly.", "--audio", str(memo), env=cli_env(home, fake_aimlapi))
    assert text.returncode == 0 and text.stdout.startswith(f"(heard) {HEARD}\n")
    assert fake_aimlapi.last_chat()["messages"][-1]["content"] == f"Answer briefly.\n\n{HEARD}"


def test_agent_speak_writes_the_spoken_answer(fake_aimlapi: FakeAimlapi, home: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "answer.ogg"
    done = invoke_cli("agent", "-m", "Say hello.", "--speak", str(out_file), "--json", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["speech"] == str(out_file)
    assert is_ogg_opus(out_file.read_bytes())  # .ogg asked the API for opus
    [tts] = fake_aimlapi.speech.tts_requests()
    assert tts["text"] == "echo: Say hello." and tts["response_format"] == "opus"
    mp3_file = tmp_path / "answer.mp3"
    plain = invoke_cli("agent", "-m", "Again.", "--speak", str(mp3_file), env=cli_env(home, fake_aimlapi))
    assert plain.returncode == 0 and f"[spoken] {mp3_file}" in plain.stdout
    assert sniff_audio_type(mp3_file.read_bytes()) == "audio/mpeg"
    usage = json.loads(invoke_cli("usage", "--by", "kind", "--json", env=cli_env(home)).stdout)
    assert {row["kind"] for row in usage["rows"]} >= {"chat", "tts"}


def test_bad_audio_and_speak_arguments_fail_before_any_call(
    fake_aimlapi: FakeAimlapi, home: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all")
    env = cli_env(home, fake_aimlapi)
    not_audio = invoke_cli("agent", "--audio", str(notes), env=env)
    missing = invoke_cli("agent", "--audio", str(tmp_path / "gone.ogg"), env=env)
    bad_name = invoke_cli("agent", "-m", "hi", "--speak", str(tmp_path / "answer.docx"), env=env)
    long_one = tmp_path / "long.mp3"
    long_one.write_bytes(mp3(1.0))
    write_config(home, "[voice]\nmax_audio_bytes = 1024\n")
    too_big = invoke_cli("agent", "--audio", str(long_one), env=env)
    assert (not_audio.returncode, missing.returncode, bad_name.returncode, too_big.returncode) == (2, 2, 2, 2)
    assert "is not audio I can read" in not_audio.stderr and "no such file" in missing.stderr
    assert ".mp3" in bad_name.stderr and "max_audio_bytes" in too_big.stderr
    assert fake_aimlapi.requests == []


def test_a_failed_transcription_at_the_terminal_is_one_line(
    fake_aimlapi: FakeAimlapi, home: Path, tmp_path: Path
) -> None:
    from tests.fakes.aimlapi_speech import SttJob

    write_config(home, FAST_VOICE)
    fake_aimlapi.speech.script_stt(SttJob(states=["error"]))
    memo = tmp_path / "memo.ogg"
    memo.write_bytes(ogg_opus(2.0))
    done = invoke_cli("agent", "--audio", str(memo), env=cli_env(home, fake_aimlapi))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "agentbox: transcription failed: the speech-to-text service failed on it (The audio could not be transcribed.)"
    )
    assert fake_aimlapi.chat_requests() == []


def test_agent_audio_over_a_spending_cap_is_not_transcribed(
    fake_aimlapi: FakeAimlapi, home: Path, tmp_path: Path
) -> None:
    write_config(home, FAST_VOICE + "[limits]\nusd_per_day = 0.001\n")
    env = cli_env(home, fake_aimlapi)
    fake_aimlapi.script(Reply(text="Hello.", usd=0.002))
    assert invoke_cli("agent", "-m", "hi", "--json", env=env).returncode == 0  # spends over the day's cap
    memo = tmp_path / "memo.ogg"
    memo.write_bytes(ogg_opus(2.0))
    done = invoke_cli("agent", "--audio", str(memo), env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "agentbox: transcription failed: the audio was not sent: I've reached today's spending limit set by "
        "the owner; I'll be back after 00:00 UTC."
    )
    assert fake_aimlapi.speech.stt_requests() == [] and len(fake_aimlapi.chat_requests()) == 1  # nothing paid


def test_agent_speak_names_the_file_by_what_the_service_answered(
    fake_aimlapi: FakeAimlapi, home: Path, tmp_path: Path
) -> None:
    fake_aimlapi.speech.tts_honours_format = False  # asked for opus, the provider answers MP3
    asked = tmp_path / "answer.ogg"
    done = invoke_cli("agent", "-m", "Say hello.", "--speak", str(asked), "--json", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    written = tmp_path / "answer.mp3"
    assert json.loads(done.stdout)["speech"] == str(written)
    assert not asked.exists() and sniff_audio_type(written.read_bytes()) == "audio/mpeg"
    assert f"wrote {written} instead" in done.stderr and "audio/mpeg" in done.stderr


def test_the_speak_tool_returns_audio_like_generated_images(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    poem = "Roses are red, the sea is wide; read me this poem with the tide."
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("speak", {"text": poem})]), Reply(text="Here it is, read aloud."))
    done = invoke_cli("agent", "-m", "read this poem aloud", "--json", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["tool_calls"] == ["speak"] and out["reply"] == "Here it is, read aloud."
    [path] = out["attachments"]
    assert path.endswith(".mp3") and sniff_audio_type(Path(path).read_bytes()) == "audio/mpeg"
    [tts] = fake_aimlapi.speech.tts_requests()
    assert tts["text"] == poem and tts["response_format"] == "mp3"  # the terminal gets MP3
    tools = fake_aimlapi.chat_requests()[0]["tools"]
    assert "speak" in [tool["function"]["name"] for tool in tools]
    usage = json.loads(invoke_cli("usage", "--by", "kind", "--json", env=cli_env(home)).stdout)
    tts_usd = next(row["usd"] for row in usage["rows"] if row["kind"] == "tts")
    assert tts_usd == fake_aimlapi.speech.tts_credits / 2_000_000  # a part of the turn's cost, by kind
    assert usage["caps"]["spent_usd"] > tts_usd  # the turn's total includes it (and the chat)


def test_no_speak_tool_when_voice_is_off(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    write_config(home, "[voice]\nenabled = false\n")
    assert invoke_cli("agent", "-m", "hi", env=cli_env(home, fake_aimlapi)).returncode == 0
    tools = fake_aimlapi.last_chat().get("tools") or []
    assert "speak" not in [tool["function"]["name"] for tool in tools]


async def test_a_database_of_the_previous_release_gains_the_spend_table(home: Path) -> None:
    from agentbox.store.schema import SCHEMA_VERSION

    path = home / "agentbox.db"
    with database_before(path, "CREATE TABLE spend") as conn:
        conn.execute(
            "INSERT INTO sessions(key, channel, created_at, updated_at) VALUES ('telegram:dm:7', 'telegram', 1, 1)"
        )
        conn.execute(
            "INSERT INTO turns(session_key, epoch, started_at, status, model, sender_id, usd)"
            " VALUES ('telegram:dm:7', 0, 5, 'ok', 'gpt-4o-mini', '7', 0.25)"
        )
    async with await Store.open(path) as store:
        async with store.conn.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone())[0] == SCHEMA_VERSION  # type: ignore[index]
        from agentbox.turn.usage import spent_since, usage_by_kind

        assert await spent_since(store.conn, 0) == 0.25
        [chat] = await usage_by_kind(store.conn)
        assert (chat.kind, chat.usd) == ("chat", 0.25)


def test_a_tools_cost_priced_in_credits_only_counts_in_the_turn_and_by_kind(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    """The image API reports credits only, the chat USD: the turn's cost has both, and usage splits them."""
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a lighthouse at dusk"})], usd=0.001, credits=2_000),
        Reply(text="Here is your lighthouse.", usd=0.002, credits=4_000),
    )
    done = invoke_cli("agent", "-m", "draw a lighthouse", "--json", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    image_usd = fake_aimlapi.image_credits / 2_000_000
    assert json.loads(done.stdout)["usage"]["usd"] == 0.003 + image_usd
    usage = json.loads(invoke_cli("usage", "--by", "kind", "--json", env=cli_env(home)).stdout)
    assert {row["kind"]: row["usd"] for row in usage["rows"]} == {"chat": 0.003, "image": image_usd}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(min_size=1, max_size=20_000), seconds=st.floats(0.1, 600) | st.none())
async def test_a_spoken_answer_waiting_in_the_outbox_keeps_its_bytes_and_voice_flag(
    store: Store, payload: bytes, seconds: float | None
) -> None:
    from agentbox.messages import Address, Attachment, Outbound
    from agentbox.store.outbox import NewEntry

    voice = Attachment("audio", data=b"OggS" + payload, media_type="audio/ogg", voice=True, duration=seconds)
    entry_id = await store.outbox.add(NewEntry(Address("telegram", "7"), Outbound(attachments=(voice,))))
    entry = await store.outbox.get(entry_id)
    assert entry is not None
    [back] = entry.outbound.attachments
    assert (back.data, back.voice, back.duration, back.kind) == (voice.data, True, seconds, "audio")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(min_value=100_000, max_value=900_000), seed=st.integers(min_value=0, max_value=2**32 - 1))
async def test_minutes_of_spoken_answer_waiting_in_the_outbox_come_back_whole(
    store: Store, size: int, seed: int
) -> None:
    """What a restart replays from the outbox is a real voice note's size (hundreds of KB), not a sample."""
    import random

    from agentbox.messages import Address, Attachment, Outbound
    from agentbox.store.outbox import NewEntry

    data = b"OggS" + random.Random(seed).randbytes(size)
    voice = Attachment("audio", data=data, media_type="audio/ogg", filename="speech.ogg", voice=True)
    entry_id = await store.outbox.add(NewEntry(Address("telegram", "7"), Outbound(text="hi", attachments=(voice,))))
    entry = await store.outbox.get(entry_id)
    assert entry is not None
    [back] = entry.outbound.attachments
    assert back.data == data and (back.media_type, back.filename, back.voice) == ("audio/ogg", "speech.ogg", True)


async def test_speech_spend_counts_for_its_own_sender_only(store: Store) -> None:
    from agentbox.config import LimitsConfig
    from agentbox.messages import Address
    from agentbox.store import SpendRecord
    from agentbox.turn.caps import SpendingCaps
    from agentbox.turn.runner import TurnRequest

    await store.spend.add(
        SpendRecord("stt", 0.30, session_key="telegram:dm:7", channel="telegram", sender_id="7"),
        SpendRecord("tts", 0.25, session_key="telegram:dm:7", channel="telegram", sender_id="7"),
        SpendRecord("stt", 0.10, session_key="slack:dm:7", channel="slack", sender_id="7"),
    )
    caps = SpendingCaps(LimitsConfig(usd_per_sender_per_day=0.5), store)

    def asking(channel: str, sender: str) -> TurnRequest:
        return TurnRequest(f"{channel}:dm:{sender}", "hi", sender_id=sender, address=Address(channel, sender))

    assert await caps(asking("telegram", "7")) is not None  # $0.55 of speech: over the cap
    assert await caps(asking("telegram", "8")) is None  # another sender spent nothing
    assert await caps(asking("slack", "7")) is None  # the same id on another platform is another person
    senders = {(s["channel"], s["sender_id"]): s["usd"] for s in (await caps.status()).senders}
    assert senders == {("telegram", "7"): 0.55, ("slack", "7"): 0.1}


async def test_a_finished_video_costs_video_spend(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    """The video's price comes with its last poll, outside any turn: it counts as `video` for usage and caps."""
    from agentbox.gateway.jobs import JobRunner
    from agentbox.turn.usage import spent_since, usage_by_kind
    from tests.helpers import runtime_on
    from tests.test_jobs import FAST, Outbox, start_video, wait_status

    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, Outbox())
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        await wait_status(rt.store, job_id, "delivered")
        await runner.stop()
        kinds = {row.kind: row.usd for row in await usage_by_kind(rt.store.conn)}
        total = await spent_since(rt.store.conn, 0)
    video_usd = fake_aimlapi.video_credits / 2_000_000
    assert kinds["video"] == video_usd and total == kinds["chat"] + video_usd
