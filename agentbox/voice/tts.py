"""Text to speech through the AI/ML API (API-NOTES §8): `POST /v1/tts`, answered at once.

The answer is either JSON `{"audio": "<url>", "meta": {...}}` (the audio is then downloaded from
that URL, without our API key) or the raw audio itself: we branch on the Content-Type. What
came back is checked by its magic bytes, not by what we asked for: Telegram needs OGG/Opus for
a voice note, and a provider may answer another format.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from agentbox.aimlapi import AimlapiClient, AimlapiError, normalize_model_id, parse_json, record_usage
from agentbox.config import VoiceConfig
from agentbox.errors import AgentboxError
from agentbox.voice.audio import extension_for, sniff_audio_type
from agentbox.voice.cost import Cost, reported_cost

log = logging.getLogger(__name__)

TTS_PATH = "/v1/tts"
MAX_TTS_CHARS = 4096  # the OpenAI TTS models' input limit
MAX_SPEECH_BYTES = 50 * 1024 * 1024


class SpeechFailed(AgentboxError):
    """The text-to-speech service produced no audio; the message says why."""


@dataclass(frozen=True, slots=True)
class Speech:
    """Spoken audio: its bytes, their media type (sniffed), the model, and the cost the API reported."""

    data: bytes
    media_type: str
    model: str
    cost: Cost

    @property
    def filename(self) -> str:
        return f"speech.{extension_for(self.media_type)}"


async def synthesize(client: AimlapiClient, text: str, voice: VoiceConfig, *, response_format: str) -> Speech:
    """Speak `text` (at most 4,096 characters) in `voice.voice`; raises SpeechFailed."""
    text = text.strip()[:MAX_TTS_CHARS]
    if not text:
        raise SpeechFailed("there is no text to speak")
    model = normalize_model_id(voice.tts_model)
    body: dict[str, Any] = {
        "model": model,
        "text": text,
        "voice": voice.voice,
        "response_format": response_format,
        "speed": voice.speed,
    }
    try:
        response = await client.request("POST", TTS_PATH, json=body)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        cost = Cost()
        if "json" in content_type:
            payload = parse_json(response)
            record_usage(payload, "tts")  # a turn's meter (the speak tool) counts it too
            cost = reported_cost(payload)
            data = await _fetch_audio(client, payload)
        else:
            data = response.content
    except AimlapiError as exc:
        log.warning("text-to-speech failed: %s", exc)
        raise SpeechFailed(f"the text-to-speech service failed ({exc.message})") from None
    media_type = sniff_audio_type(data)
    if media_type is None:
        raise SpeechFailed(f"the text-to-speech service sent something that is not audio ({content_type or 'no type'})")
    return Speech(data, media_type, model, cost)


async def _fetch_audio(client: AimlapiClient, payload: Any) -> bytes:
    audio = payload.get("audio") if isinstance(payload, dict) else None
    url = audio.get("url") if isinstance(audio, dict) else audio
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise AimlapiError(None, "the answer named no audio URL")
    data, _ = await client.download(url, max_bytes=MAX_SPEECH_BYTES)
    return data
