"""Hearing a piece of audio, wherever it came from (a chat's voice note, `agentbox agent --audio`):
check it, transcribe it, record what that cost, and store the audio once by hash for the history."""

from __future__ import annotations

from agentbox.aimlapi import AimlapiClient
from agentbox.config import VoiceConfig
from agentbox.store import Store
from agentbox.vision import InputError, too_large
from agentbox.voice.audio import duration_seconds, sniff_audio_type
from agentbox.voice.spending import Payer, record_spend, stt_estimate
from agentbox.voice.stt import transcribe

FORMATS = "OGG, MP3, M4A, WAV, FLAC or WebM"


def check_audio(
    data: bytes, voice: VoiceConfig, *, name: str, declared_seconds: float | None
) -> tuple[str, float | None]:
    """(media type, duration when known) of audio bytes; InputError, phrased for the user, when unusable."""
    media_type = sniff_audio_type(data)
    if media_type is None:
        raise InputError(f"{name} is not audio I can read ({FORMATS})")
    if len(data) > voice.max_audio_bytes:
        raise too_large(name, len(data), voice.max_audio_bytes)
    seconds = declared_seconds if declared_seconds is not None else duration_seconds(data)
    check_duration(seconds, voice, name=name)
    return media_type, seconds


def check_duration(seconds: float | None, voice: VoiceConfig, *, name: str) -> None:
    limit = voice.max_duration_seconds
    if seconds is not None and seconds > limit:
        raise InputError(f"{name} is {_length(seconds)} long; the limit is {_length(limit)}")


async def hear(
    client: AimlapiClient,
    store: Store,
    voice: VoiceConfig,
    data: bytes,
    *,
    media_type: str,
    seconds: float | None,
    payer: Payer,
) -> tuple[str, str]:
    """(transcript, media hash of the stored audio); raises TranscriptionFailed."""
    transcript = await transcribe(client, data, media_type, voice)
    await record_spend(store, "stt", transcript.model, transcript.cost, stt_estimate(voice, seconds, len(data)), payer)
    return transcript.text, await store.media.put(data, media_type)


def _length(seconds: float) -> str:
    return f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.1f} minutes"
