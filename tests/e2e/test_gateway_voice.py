"""End to end: a voice note to a real `agentbox gateway run` process, over the fake Telegram Bot API,
transcribed and spoken by the fake AI/ML API. Nothing is mocked in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.gatewayproc import GatewayProcess, start_gateway, wait_for
from tests.fakes.audio import ogg_opus
from tests.test_voice_gateway import HEARD

ALICE = 835750362
VOICE = "dm_policy = 'open'\n[voice]\nstt_poll_interval = 0.05\n"


def test_a_voice_note_is_answered_with_text_and_a_voice_note(
    processes: list[GatewayProcess], home: Path, fake_aimlapi: Any, fake_telegram: Any
) -> None:
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, VOICE)
    processes.append(gateway)
    gateway.wait_ready()
    recording = ogg_opus(6.0, seed=21)
    fake_telegram.push_voice(ALICE, recording, duration=6)
    wait_for(lambda: fake_telegram.calls_to("sendVoice"), what="the spoken answer")
    text, voice = fake_telegram.sent(ALICE)
    assert text.text == f"“{HEARD}”\n\necho: {HEARD}" and text.method == "sendMessage"
    assert voice.method == "sendVoice" and voice.media and voice.media["data"].startswith(b"OggS")
    [form] = fake_aimlapi.speech.stt_requests()
    assert form["file"]["data"] == recording
    assert gateway.terminate() == 0
