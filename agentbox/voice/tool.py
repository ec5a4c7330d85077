"""The `speak` tool: the model sends the user audio ("read this poem aloud"), as image tools send images.

The speech is made with `[voice] tts_model` and `voice` and put in the turn's outbox, so it
goes out with the answer (a voice note on Telegram, an audio file elsewhere). Its cost lands
in the turn's usage, as a `tts` part.
"""

from __future__ import annotations

from pydantic_ai import RunContext
from pydantic_ai.toolsets import FunctionToolset

from agentbox.aimlapi import current_meter
from agentbox.channels import find_channel
from agentbox.config import Config
from agentbox.turn.deps import TurnDeps
from agentbox.voice.spending import tts_estimate
from agentbox.voice.spoken import speakable
from agentbox.voice.tts import MAX_TTS_CHARS, synthesize


def speech_format(channel: str) -> str:
    """The TTS format to ask for: what the channel declares as its voice notes' (`ChannelSpec.voice_format`:
    OGG/Opus for Telegram), MP3 for the others and where no channel is (the terminal, the API)."""
    spec = find_channel(channel)
    return spec.voice_format if spec is not None else "mp3"


def voice_toolsets(config: Config) -> list[FunctionToolset[TurnDeps]]:
    """The `speak` tool, unless `[voice] enabled = false`."""
    return [speak_toolset()] if config.voice.enabled else []


def speak_toolset() -> FunctionToolset[TurnDeps]:
    toolset: FunctionToolset[TurnDeps] = FunctionToolset()

    @toolset.tool
    async def speak(ctx: RunContext[TurnDeps], text: str) -> str:
        """Say `text` aloud: the user receives an audio recording of it along with your written answer.

        Use it when asked to read, say or pronounce something. Plain sentences, at most 4,096 characters.
        """
        spoken = speakable(text)
        if len(spoken) > MAX_TTS_CHARS:
            return f"Too long to speak ({len(spoken):,} characters; at most {MAX_TTS_CHARS:,}). Speak a shorter part."
        voice = ctx.deps.config.voice
        speech = await synthesize(
            ctx.deps.aimlapi, spoken, voice, response_format=speech_format(ctx.deps.session.channel)
        )
        meter = current_meter.get()
        if meter is not None and speech.cost.usd is None and speech.cost.credits is None:
            meter.add({"usd_spent": tts_estimate(voice, spoken)}, "tts")  # unpriced by the API: caps still count it
        ctx.deps.outbox.add(
            "audio", data=speech.data, media_type=speech.media_type, filename=speech.filename, voice=True
        )
        return f"The recording ({len(speech.data):,} bytes of {speech.media_type}) will be sent with your answer."

    return toolset
