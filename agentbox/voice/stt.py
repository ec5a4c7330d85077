"""Speech to text through the AI/ML API (API-NOTES §8): `POST /v1/stt/create`, then poll `GET /v1/stt/{id}`.

The audio goes up as a file (multipart: `file` for the gpt-4o transcribe family, `audio` for the
others), never as a URL: a Telegram file URL holds the bot token and must not leave the process.
The job is polled until it leaves `queued`/`generating`; it ends `completed` with a `result`
(or `output`) holding the text, or `error`. Both calls go through `AimlapiClient` (bounded
retries); the cost comes from `meta.usage` when the API reports it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from agentbox.aimlapi import AimlapiClient, AimlapiError, normalize_model_id
from agentbox.config import VoiceConfig
from agentbox.errors import AgentboxError
from agentbox.voice.audio import extension_for
from agentbox.voice.cost import Cost, reported_cost

log = logging.getLogger(__name__)

CREATE_PATH = "/v1/stt/create"
RUNNING = frozenset({"queued", "generating", "waiting", "active", "processing"})
FAILED = frozenset({"error", "failed"})
_NOT_RETRYABLE = frozenset({400, 413, 415, 422})  # the audio is the problem, not the moment


class TranscriptionFailed(AgentboxError):
    """The speech-to-text service gave no transcript. `reason` is phrased for the user; `transient`
    means asking again later may work (an outage, a failed job), otherwise the audio itself was refused."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(f"transcription failed: {reason}")
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Transcript:
    """What was heard, by which model, and what the API said it cost (None: it did not say)."""

    text: str
    model: str
    cost: Cost


async def transcribe(client: AimlapiClient, audio: bytes, media_type: str, voice: VoiceConfig) -> Transcript:
    """The transcript of `audio`, or TranscriptionFailed saying why in words for the user."""
    model = normalize_model_id(voice.stt_model)
    form = {"model": model} | ({"language": voice.language} if voice.language else {})
    field = "file" if "gpt-4o" in model else "audio"
    upload = {field: (f"voice.{extension_for(media_type)}", audio, media_type)}
    try:
        created = await client.request_json("POST", CREATE_PATH, data=form, files=upload)
        generation_id = (created.get("generation_id") or created.get("id")) if isinstance(created, dict) else None
        if not generation_id:
            raise TranscriptionFailed("the speech-to-text service answered without a job id", transient=True)
        done = await _wait(client, str(generation_id), voice)
    except AimlapiError as exc:
        raise _failure(exc, model) from None
    text = transcript_text(done.get("result") or done.get("output"))
    if text is None:
        raise TranscriptionFailed("the speech-to-text service sent no text", transient=True)
    return Transcript(text.strip(), model, reported_cost(created) + reported_cost(done))


async def _wait(client: AimlapiClient, generation_id: str, voice: VoiceConfig) -> dict[str, Any]:
    interval = voice.stt_poll_interval
    deadline = time.monotonic() + voice.stt_timeout
    while True:
        payload = await client.request_json("GET", f"/v1/stt/{generation_id}")
        status = str(payload.get("status") or "") if isinstance(payload, dict) else ""
        if status in FAILED:
            raise TranscriptionFailed(_job_error(payload), transient=True)
        if status not in RUNNING and isinstance(payload, dict):
            return payload  # completed (or a legacy status with the result already in it)
        if time.monotonic() + interval > deadline:
            raise TranscriptionFailed(
                f"no transcript after {voice.stt_timeout:.0f} seconds (the job was still {status})", transient=True
            )
        await asyncio.sleep(interval)


def transcript_text(result: Any) -> str | None:
    """The text of a finished job's `result`: OpenAI and AssemblyAI `text`, Deepgram's first alternative."""
    if isinstance(result, str):
        return result
    if not isinstance(result, dict):
        return None
    if isinstance(result.get("text"), str):
        return str(result["text"])
    channels = (result.get("results") or {}).get("channels")
    first = channels[0] if isinstance(channels, list) and channels else channels
    alternatives = first.get("alternatives") if isinstance(first, dict) else None
    if isinstance(alternatives, list) and alternatives and isinstance(alternatives[0], dict):
        text = alternatives[0].get("transcript")
        return text if isinstance(text, str) else None
    return None


def _job_error(payload: dict[str, Any]) -> str:
    error = payload.get("error")
    message = error.get("message") or error.get("name") if isinstance(error, dict) else error
    detail = str(message or "no reason given")[:160]
    return f"the speech-to-text service failed on it ({detail})"


def _failure(exc: AimlapiError, model: str) -> TranscriptionFailed:
    log.warning("speech-to-text failed: %s", exc)
    if exc.status == 404:  # a model id the API does not know (or no longer serves): the owner's to fix
        return TranscriptionFailed(f"the speech-to-text model {model} is not available", transient=False)
    if exc.status == 401:
        return TranscriptionFailed("the AI/ML API key was rejected", transient=True)
    if exc.status == 403:
        return TranscriptionFailed("the AI/ML API refused the request (out of credits or a key limit)", transient=True)
    if exc.status in _NOT_RETRYABLE:
        return TranscriptionFailed("the speech-to-text service could not read this audio", transient=False)
    return TranscriptionFailed("the speech-to-text service is not answering right now", transient=True)
