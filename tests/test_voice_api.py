"""The speech endpoints: the fake AI/ML API's STT and TTS (API-NOTES §8), and agentbox's client for them.

The fake speaks the documented wire format (create → poll with queued/generating/completed or
error; JSON-with-URL or raw-audio TTS); agentbox's `transcribe`/`synthesize` go through the
real `AimlapiClient` (retrying transport) against it. Bytes cross the multipart boundary
unchanged whatever they are (hypothesis).
"""

from __future__ import annotations

import hashlib
import random

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.aimlapi import AimlapiClient, UsageMeter, current_meter
from agentbox.config import Config, VoiceConfig
from agentbox.store import Store
from agentbox.voice.audio import duration_seconds, is_ogg_opus, sniff_audio_type
from agentbox.voice.hearing import hear
from agentbox.voice.spending import Payer
from agentbox.voice.stt import TranscriptionFailed, transcribe, transcript_text
from agentbox.voice.tts import SpeechFailed, synthesize
from tests.fakes.aimlapi import Fail, FakeAimlapi
from tests.fakes.aimlapi_speech import SttJob
from tests.fakes.audio import audio_for, mp3, ogg_opus, wav
from tests.helpers import API_KEY

FAST = VoiceConfig(stt_poll_interval=0.01, stt_timeout=5)
# A phone's voice note of half a minute to a few minutes: hundreds of KB (hypothesis's own binaries stay small).
REALISTIC_SIZE = st.integers(min_value=100_000, max_value=900_000)
SEED = st.integers(min_value=0, max_value=2**32 - 1)


def client_for(fake: FakeAimlapi) -> AimlapiClient:
    config = Config.model_validate(
        {"aimlapi": {"api_key": API_KEY, "base_url": fake.url + "/v1", "retry": {"initial_delay": 0.01}}}
    )
    return AimlapiClient(config)


# -- the fake, on the wire -------------------------------------------------------------------


async def test_fake_stt_job_goes_queued_generating_completed(fake_aimlapi: FakeAimlapi) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=fake_aimlapi.url, headers=headers) as http:
        created = await http.post(
            "/v1/stt/create",
            data={"model": "openai/gpt-4o-mini-transcribe"},
            files={"file": ("voice.ogg", ogg_opus(2.0), "audio/ogg")},
        )
        assert created.status_code == 201 and created.json()["status"] == "queued"
        job = created.json()["generation_id"]
        polls = [(await http.get(f"/v1/stt/{job}")).json() for _ in range(4)]
        wrong_field = await http.post(
            "/v1/stt/create", data={"model": "#g1_whisper-large"}, files={"file": ("v.ogg", b"OggS", "audio/ogg")}
        )
    assert [p["status"] for p in polls] == ["queued", "generating", "completed", "completed"]
    assert polls[2]["result"]["text"] == fake_aimlapi.speech.stt_text
    assert polls[2]["meta"]["usage"]["credits_used"] == fake_aimlapi.speech.stt_credits
    assert wrong_field.status_code == 400  # whisper/Deepgram models take the upload as `audio`
    [form, _] = fake_aimlapi.speech.stt_requests()
    assert form["model"] == "openai/gpt-4o-mini-transcribe" and form["file"]["data"] == ogg_opus(2.0)


async def test_fake_tts_answers_json_with_a_url_or_raw_audio(fake_aimlapi: FakeAimlapi) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    body = {"model": "openai/gpt-4o-mini-tts", "text": "Hello there.", "voice": "alloy", "response_format": "opus"}
    async with httpx.AsyncClient(base_url=fake_aimlapi.url, headers=headers) as http:
        as_json = (await http.post("/v1/tts", json=body)).json()
        served = await http.get(as_json["audio"])
        fake_aimlapi.speech.tts_shape = "raw"
        raw = await http.post("/v1/tts", json=body)
        empty = await http.post("/v1/tts", json={**body, "text": ""})
    assert as_json["meta"]["usage"]["credits_used"] == fake_aimlapi.speech.tts_credits
    assert is_ogg_opus(served.content) and raw.headers["content-type"] == "audio/ogg" and is_ogg_opus(raw.content)
    assert empty.status_code == 400
    assert [r["text"] for r in fake_aimlapi.speech.tts_requests()] == ["Hello there.", "Hello there.", ""]


# -- speech to text ----------------------------------------------------------------------------


async def test_transcribe_uploads_the_audio_polls_and_reports_the_cost(fake_aimlapi: FakeAimlapi) -> None:
    voice = ogg_opus(4.0, seed=7)
    client = client_for(fake_aimlapi)
    try:
        heard = await transcribe(client, voice, "audio/ogg", VoiceConfig(stt_poll_interval=0.01, language="pt"))
    finally:
        await client.aclose()
    assert heard.text == fake_aimlapi.speech.stt_text and heard.model == "openai/gpt-4o-mini-transcribe"
    assert heard.cost.credits == fake_aimlapi.speech.stt_credits
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["language"] == "pt" and form["file"]["data"] == voice and form["file"]["content_type"] == "audio/ogg"
    assert len(fake_aimlapi.speech.stt_polls()) == 3  # queued, generating, completed
    auth = {r.headers.get("Authorization") for r in fake_aimlapi.requests}
    assert auth == {f"Bearer {API_KEY}"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(min_size=1, max_size=40_000))
async def test_any_bytes_reach_the_api_unchanged(fake_aimlapi: FakeAimlapi, payload: bytes) -> None:
    fake_aimlapi.reset()
    client = client_for(fake_aimlapi)
    try:
        await transcribe(client, b"OggS" + payload, "audio/ogg", FAST)
    finally:
        await client.aclose()
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == b"OggS" + payload


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=REALISTIC_SIZE, seed=SEED)
async def test_hundreds_of_kb_of_audio_are_uploaded_and_stored_by_hash_unchanged(
    fake_aimlapi: FakeAimlapi, store: Store, size: int, seed: int
) -> None:
    """Heard audio crosses two boundaries: the multipart upload, and the `media` table it is kept in by hash."""
    fake_aimlapi.reset()
    audio = b"OggS" + random.Random(seed).randbytes(size)
    client = client_for(fake_aimlapi)
    try:
        text, digest = await hear(
            client, store, FAST, audio, media_type="audio/ogg", seconds=None, payer=Payer("cli:x", "cli", None)
        )
    finally:
        await client.aclose()
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == audio and form["file"]["content_type"] == "audio/ogg"
    assert text == fake_aimlapi.speech.stt_text
    assert digest == hashlib.sha256(audio).hexdigest()
    assert await store.media.get(digest) == (audio, "audio/ogg")


async def test_a_failed_job_and_an_outage_are_transient_a_refused_upload_is_not(fake_aimlapi: FakeAimlapi) -> None:
    fake_aimlapi.speech.script_stt(
        SttJob(states=["queued", "error"], error={"name": "UpstreamError", "message": "provider unavailable"}),
        Fail(503, times=4),  # every attempt the retrying transport makes
        Fail(400),
        Fail(404, "Model is deprecated"),
    )
    client = client_for(fake_aimlapi)
    try:
        with pytest.raises(TranscriptionFailed) as failed_job:
            await transcribe(client, ogg_opus(1.0), "audio/ogg", FAST)
        with pytest.raises(TranscriptionFailed) as outage:  # retried by the transport, then given up
            await transcribe(client, ogg_opus(1.0), "audio/ogg", FAST)
        with pytest.raises(TranscriptionFailed) as refused:
            await transcribe(client, ogg_opus(1.0), "audio/ogg", FAST)
        with pytest.raises(TranscriptionFailed) as unknown_model:
            await transcribe(client, ogg_opus(1.0), "audio/ogg", FAST)
    finally:
        await client.aclose()
    assert failed_job.value.transient and "provider unavailable" in failed_job.value.reason
    assert outage.value.transient and "not answering" in outage.value.reason
    assert not refused.value.transient and "could not read this audio" in refused.value.reason
    assert not unknown_model.value.transient
    assert unknown_model.value.reason == "the speech-to-text model openai/gpt-4o-mini-transcribe is not available"


async def test_a_job_that_never_finishes_times_out(fake_aimlapi: FakeAimlapi) -> None:
    fake_aimlapi.speech.script_stt(SttJob(states=["queued", "generating"]))
    client = client_for(fake_aimlapi)
    try:
        with pytest.raises(TranscriptionFailed, match="no transcript after"):
            await transcribe(client, ogg_opus(1.0), "audio/ogg", VoiceConfig(stt_poll_interval=0.01, stt_timeout=0.2))
    finally:
        await client.aclose()


async def test_the_newer_output_key_and_deepgram_results_are_read(fake_aimlapi: FakeAimlapi) -> None:
    fake_aimlapi.speech.stt_result_key = "output"
    client = client_for(fake_aimlapi)
    try:
        heard = await transcribe(client, mp3(1.0), "audio/mpeg", FAST)
    finally:
        await client.aclose()
    assert heard.text == fake_aimlapi.speech.stt_text
    deepgram = {"metadata": {}, "results": {"channels": [{"alternatives": [{"transcript": "hola", "confidence": 1}]}]}}
    assert transcript_text(deepgram) == "hola" and transcript_text({"id": "x", "status": "completed"}) is None


# -- text to speech ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["json", "raw"])
async def test_synthesize_both_answer_shapes_and_checks_what_came_back(fake_aimlapi: FakeAimlapi, shape: str) -> None:
    fake_aimlapi.speech.tts_shape = shape  # type: ignore[assignment]
    client = client_for(fake_aimlapi)
    meter = UsageMeter()
    token = current_meter.set(meter)  # as inside a turn (the speak tool)
    try:
        speech = await synthesize(client, "Here is the forecast.", VoiceConfig(voice="nova"), response_format="opus")
        fake_aimlapi.speech.tts_honours_format = False
        other = await synthesize(client, "Here is the forecast.", VoiceConfig(), response_format="opus")
    finally:
        current_meter.reset(token)
        await client.aclose()
    assert is_ogg_opus(speech.data) and speech.media_type == "audio/ogg" and speech.filename == "speech.ogg"
    assert other.media_type == "audio/mpeg" and not is_ogg_opus(other.data)  # asked opus, got MP3: we know it
    [first, _] = fake_aimlapi.speech.tts_requests()
    assert (
        first["voice"] == "nova" and first["response_format"] == "opus" and first["model"] == "openai/gpt-4o-mini-tts"
    )
    if shape == "json":
        assert speech.cost.credits == fake_aimlapi.speech.tts_credits and meter.kinds["tts"] > 0
        downloads = [r for r in fake_aimlapi.requests if r.path.startswith("/files/")]
        assert downloads and all("Authorization" not in r.headers for r in downloads)  # no key to a CDN
    else:
        assert speech.cost.usd is None and speech.cost.credits is None and meter.kinds == {}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chars=st.integers(min_value=1_500, max_value=4_096), shape=st.sampled_from(["json", "raw"]))
async def test_long_speech_of_hundreds_of_kb_comes_back_byte_for_byte(
    fake_aimlapi: FakeAimlapi, chars: int, shape: str
) -> None:
    """A long answer spoken (minutes of OGG/Opus, hundreds of KB), raw or downloaded from the URL, arrives whole."""
    fake_aimlapi.reset()
    fake_aimlapi.speech.tts_shape = shape  # type: ignore[assignment]
    text = ("Lisbon is sunny this weekend. " * 200)[:chars].strip()
    client = client_for(fake_aimlapi)
    try:
        speech = await synthesize(client, text, VoiceConfig(), response_format="opus")
    finally:
        await client.aclose()
    [request] = fake_aimlapi.speech.tts_requests()
    served, _ = audio_for("opus", seconds=max(1.0, len(request["text"]) / 15), seed=len(request["text"]))
    assert len(served) > 100_000 and speech.data == served and speech.media_type == "audio/ogg"


async def test_tts_failures_are_speech_failed(fake_aimlapi: FakeAimlapi) -> None:
    fake_aimlapi.speech.script_tts(Fail(400, "Body validation error! voice: Invalid enum value"))
    client = client_for(fake_aimlapi)
    try:
        with pytest.raises(SpeechFailed, match="Invalid enum value"):
            await synthesize(client, "hi", VoiceConfig(), response_format="mp3")
        with pytest.raises(SpeechFailed, match="no text"):
            await synthesize(client, "   ", VoiceConfig(), response_format="mp3")
    finally:
        await client.aclose()


# -- audio bytes -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seconds=st.floats(min_value=0.5, max_value=90), seed=st.integers(0, 2**16))
def test_ogg_opus_duration_is_read_from_the_pages(seconds: float, seed: int) -> None:
    data = ogg_opus(seconds, seed)
    assert sniff_audio_type(data) == "audio/ogg" and is_ogg_opus(data)
    assert duration_seconds(data) == pytest.approx(round(seconds / 0.02) * 0.02, abs=0.021)


@given(noise=st.binary(max_size=64))
def test_random_bytes_are_not_mistaken_for_ogg_opus(noise: bytes) -> None:
    assert not is_ogg_opus(noise) or noise.startswith(b"OggS")
    assert duration_seconds(b"OggS" + noise) is None or duration_seconds(b"OggS" + noise) >= 0


def test_formats_are_told_apart_by_their_bytes() -> None:
    assert sniff_audio_type(mp3(1.0)) == "audio/mpeg" and sniff_audio_type(wav(1.0)) == "audio/wav"
    assert duration_seconds(wav(2.0)) == pytest.approx(2.0) and duration_seconds(mp3(1.0)) is None
    assert sniff_audio_type(b"\x89PNG\r\n\x1a\n") is None and sniff_audio_type(b"") is None


def test_audio_over_the_size_limit_is_refused_saying_both_sizes() -> None:
    from agentbox.vision import InputError
    from agentbox.voice.hearing import check_audio

    voice = VoiceConfig(max_audio_bytes=1_048_576)
    assert check_audio(ogg_opus(2.0), voice, name="memo.ogg", declared_seconds=None)[0] == "audio/ogg"
    with pytest.raises(InputError, match=r"^memo\.ogg is 1\.5 MB; the limit is 1\.0 MB$"):
        check_audio(b"OggS" + bytes(1_572_860), voice, name="memo.ogg", declared_seconds=None)
