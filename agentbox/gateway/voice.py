"""The gateway's side of voice: voice notes in (`VoiceNotes`), and when answers are spoken (`speaks_back`).

The dispatcher calls `VoiceNotes.hear` once the sender is allowed in (nothing of a stranger's is
ever downloaded). Declared sizes and durations are checked before any download, the bytes' format
and (where readable) length after it; then `[voice] stt_model` transcribes them and the transcript
becomes the message the turn answers. The audio is stored once (by hash) in the `media` table and
referenced from the turn's history; the call's cost is recorded as `stt` spend.

Problems with the audio itself come back as `Heard.polite` (one sentence for the sender); a
failed transcription as `Heard.failure`, which the dispatcher retries (the message stays pending).
`[channels.X] voice_replies` says when an answer is also spoken: "off", "mirror" (to voice
notes, the default; not to audio files) or "always".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from agentbox.config import Config
from agentbox.gateway.inbound_media import fetch_reference
from agentbox.gateway.routing import channel_config
from agentbox.messages import Attachment, Connector, Inbound
from agentbox.store import Store
from agentbox.turn.runner import TurnRequest, TurnRunner
from agentbox.vision import InputError
from agentbox.voice.hearing import check_audio, check_duration, hear
from agentbox.voice.spending import Payer
from agentbox.voice.stt import TranscriptionFailed

log = logging.getLogger(__name__)

VOICE_OFF = "Sorry, I don't take voice messages or audio here; please send text."
NOTHING_HEARD = "Sorry, I couldn't make out any words in your voice message. Please try again or type it."


@dataclass(frozen=True, slots=True)
class Heard:
    """What a message's audio said: the transcript and the stored audio's media hashes; or why not."""

    transcript: str = ""
    audio: tuple[str, ...] = ()
    polite: str | None = None  # the sender's audio cannot be used: this sentence answers instead
    failure: TranscriptionFailed | None = None  # the service failed: tell the sender, retry later
    voice_note: bool = False  # some of it was a recorded voice note (not a song or a file): "mirror" speaks back

    def applied_to(self, inbound: Inbound) -> Inbound:
        """The message as the turn answers it: the transcript, after any caption typed with the audio."""
        if not self.audio:
            return inbound
        if not inbound.text.strip():
            return replace(inbound, text=self.transcript)
        return replace(inbound, text=f"{inbound.text}\n\n(Transcript of the attached audio:)\n{self.transcript}")


NOTHING = Heard()


class VoiceNotes:
    """Turns the audio of an allowed sender's message into text: fetch (after the access check), check,
    transcribe, store the audio by hash, record the cost. One per dispatcher."""

    def __init__(
        self,
        config: Config,
        store: Store,
        runner: TurnRunner,
        connector_for: Callable[[str], Awaitable[Connector]],
        *,
        retry_delay: float = 1.0,
    ) -> None:
        self._config = config
        self._store = store
        self._runner = runner
        self._connector_for = connector_for
        self._retry_delay = retry_delay

    async def hear(self, inbound: Inbound, session_key: str) -> Heard:
        """The transcript of the message's audio (NOTHING when it has none); never raises for the audio's faults."""
        items = [item for item in inbound.attachments if item.kind == "audio"]
        if not items:
            return NOTHING
        if not self._config.voice.enabled:
            return Heard(polite=VOICE_OFF)
        if refusal := await self._refusal(inbound, session_key):
            return Heard(polite=refusal)  # over a spending cap: not even the transcription is paid for
        payer = Payer(session_key, inbound.channel, inbound.sender_id)
        voice = self._config.voice
        texts: list[str] = []
        digests: list[str] = []
        try:
            for item in items:
                data, media_type, seconds = await self._audio(inbound.channel, item)
                text, digest = await hear(
                    self._runner.aimlapi, self._store, voice, data, media_type=media_type, seconds=seconds, payer=payer
                )
                texts.append(text)
                digests.append(digest)
        except InputError as exc:
            return Heard(polite=f"Sorry, I can't use that voice message: {exc}.")
        except TranscriptionFailed as exc:
            return Heard(failure=exc)
        transcript = "\n\n".join(text for text in texts if text)
        if not transcript:
            return Heard(polite=NOTHING_HEARD)
        log.info("heard %d audio file(s): %d characters", len(digests), len(transcript), extra={"session": session_key})
        return Heard(transcript, tuple(digests), voice_note=any(item.voice for item in items))

    async def _refusal(self, inbound: Inbound, session_key: str) -> str | None:
        request = TurnRequest(session_key, "", sender_id=inbound.sender_id, address=inbound.address)
        for guard in self._runner.guards:
            if refusal := await guard(request):
                return refusal
        return None

    async def _audio(self, channel: str, item: Attachment) -> tuple[bytes, str, float | None]:
        """The checked bytes of one audio attachment, their media type and duration (when known)."""
        voice = self._config.voice
        check_duration(item.duration, voice, name="it")  # the platform's word: refused before any download
        if item.data is None and item.ref is not None:
            connector = await self._connector_for(channel)
            item = await fetch_reference(
                connector, item, voice.max_audio_bytes, self._retry_delay, what="the voice message"
            )
        data = item.data or b""
        media_type, seconds = check_audio(data, voice, name=item.filename or "it", declared_seconds=item.duration)
        return data, media_type, seconds


def speaks_back(config: Config, channel: str, connector: Connector, *, heard: bool) -> bool:
    """Is this answer also spoken? `heard`: the message was a voice note (what "mirror" answers; an audio file is not)."""
    if not config.voice.enabled or "audio" not in connector.limits.media_kinds:
        return False
    setting = channel_config(config, channel).voice_replies
    return setting == "always" or (setting == "mirror" and heard)
