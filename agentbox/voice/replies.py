"""Spoken answers: an answer made speakable, fitted to a length, spoken, and its cost recorded.

The speech is made with `[voice] tts_model` and `voice`: OGG/Opus for Telegram (sent as a real
voice note when that is what came back; as an audio file otherwise), MP3 for the others (or what
`agentbox agent --speak FILE` asks for). Long answers speak their first part (cut at a sentence)
or, with `long_replies = "summary"`, a short summary; the full text always goes as text. Spending
caps are checked first, and the cost is recorded as `tts` spend (a summary's as `chat`). When to
speak in a chat is the gateway's call (`agentbox.gateway.voice.speaks_back`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic_ai import Agent

from agentbox.aimlapi import UsageMeter, current_meter
from agentbox.config import Config
from agentbox.messages import Attachment
from agentbox.store import Store
from agentbox.turn.pricing import turn_cost
from agentbox.turn.runner import TurnRequest, TurnRunner
from agentbox.voice.cost import Cost
from agentbox.voice.spending import Payer, record_spend, tts_estimate
from agentbox.voice.spoken import first_part, speakable
from agentbox.voice.tool import speech_format
from agentbox.voice.tts import SpeechFailed, synthesize

log = logging.getLogger(__name__)

NOT_SPOKEN = "Sorry, I couldn't turn this answer into speech ({reason}); the text above is all of it."
SUMMARY_INSTRUCTIONS = (
    "Say the gist of this answer aloud in at most {limit} characters: plain spoken sentences, "
    "no lists, no Markdown, no URLs, no code. Keep what matters most; say that details are in the written answer."
)


@dataclass(frozen=True, slots=True)
class Spoken:
    """The outcome of speaking an answer: the audio to send, or a sentence saying why there is none."""

    audio: Attachment | None = None
    note: str | None = None


class SpokenReplies:
    """Speaks answers for the turns of one runner (the gateway's dispatcher, `agentbox agent --speak`)."""

    def __init__(self, config: Config, store: Store, runner: TurnRunner) -> None:
        self._config = config
        self._store = store
        self._runner = runner

    async def speak(
        self, request: TurnRequest, reply: str, model_id: str, *, response_format: str | None = None
    ) -> Spoken:
        """The answer as speech (`Spoken.audio`); nothing when caps refuse, a `note` when speaking failed."""
        for guard in self._runner.guards:
            if await guard(request):
                log.info("not speaking the answer: a spending cap is reached", extra={"session": request.session_key})
                return Spoken()
        text = speakable(reply)
        if not text:
            return Spoken()
        payer = Payer(request.session_key, request.channel, request.sender_id)
        text = await self._fit(text, model_id, payer)
        voice = self._config.voice
        try:
            fmt = response_format or speech_format(request.channel)
            speech = await synthesize(self._runner.aimlapi, text, voice, response_format=fmt)
        except SpeechFailed as exc:
            log.warning("speaking the answer failed: %s", exc, extra={"session": request.session_key})
            return Spoken(note=NOT_SPOKEN.format(reason=str(exc)))
        await record_spend(self._store, "tts", speech.model, speech.cost, tts_estimate(voice, text), payer)
        audio = Attachment(
            "audio", data=speech.data, media_type=speech.media_type, filename=speech.filename, voice=True
        )
        return Spoken(audio)

    async def _fit(self, text: str, model_id: str, payer: Payer) -> str:
        """`text` within `max_spoken_chars`: its first part, or (long_replies = "summary") a summary."""
        limit = self._config.voice.max_spoken_chars
        if len(text) <= limit or self._config.voice.long_replies == "truncate":
            return first_part(text, limit)
        try:
            summary = await self._summary(text, model_id, limit, payer)
        except Exception as exc:  # the summary is a nicety: the first part still says something true
            log.warning("summarizing the answer for speech failed (%s); speaking its first part", exc)
            return first_part(text, limit)
        return first_part(speakable(summary), limit)

    async def _summary(self, text: str, model_id: str, limit: int, payer: Payer) -> str:
        agent: Agent[None, str] = Agent(output_type=str, instructions=SUMMARY_INSTRUCTIONS.format(limit=limit))
        meter = UsageMeter()
        token = current_meter.set(meter)
        try:
            result = await agent.run(
                text, model=self._runner.models.model(model_id), model_settings={"max_tokens": max(200, limit // 2)}
            )
        finally:
            current_meter.reset(token)
        usage = result.usage
        estimate, _ = turn_cost(
            self._config.limits,
            model_id,
            input_tokens=int(usage.input_tokens or 0),
            output_tokens=int(usage.output_tokens or 0),
            reported_usd=None,
            reported_credits=None,
        )
        await record_spend(self._store, "chat", model_id, Cost(meter.reported), estimate, payer)
        return result.output
