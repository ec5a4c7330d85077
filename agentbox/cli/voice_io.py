"""`agentbox agent --audio FILE` and `--speak OUT_FILE`: voice in and out at the terminal.

The audio file is checked (format by its bytes, size, length) before anything is sent; its
transcript is the message (after `--message`, when both are given) and is stored with the turn.
The spoken answer is written in the format the output file's extension names (.mp3, .ogg/.opus,
.wav, .flac, .aac); when the service answers another format, the file gets that format's extension
(and stderr says so). Both calls are priced like the gateway's, count for usage, and are not made
when a spending cap is reached.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from agentbox.config import VoiceConfig
from agentbox.messages import Attachment
from agentbox.vision import InputError
from agentbox.voice.audio import FORMAT_OF_EXTENSION, extension_for

if TYPE_CHECKING:
    from agentbox.runtime import Runtime
    from agentbox.turn.runner import TurnRequest, TurnResult


def load_audio(spec: str, voice: VoiceConfig) -> Attachment:
    """`--audio FILE` → an audio Attachment (bytes, sniffed type, duration), or InputError saying what is wrong."""
    from agentbox.voice.hearing import check_audio

    path = Path(spec).expanduser()
    if not path.is_file():
        raise InputError(f"{spec}: no such file")
    if path.stat().st_size > voice.max_audio_bytes:
        raise InputError(f"{spec} is larger than [voice] max_audio_bytes ({voice.max_audio_bytes:,} bytes)")
    data = path.read_bytes()
    media_type, seconds = check_audio(data, voice, name=spec, declared_seconds=None)
    return Attachment("audio", data=data, media_type=media_type, filename=path.name, duration=seconds)


def speech_path(spec: str) -> tuple[Path, str]:
    """`--speak OUT_FILE` → (path, TTS format from its extension), or InputError before any model call."""
    path = Path(spec).expanduser()
    fmt = FORMAT_OF_EXTENSION.get(path.suffix.lower().lstrip("."))
    if fmt is None:
        known = ", ".join(f".{ext}" for ext in FORMAT_OF_EXTENSION)
        raise InputError(f"{spec}: name the spoken answer's file with one of {known}")
    if not path.parent.is_dir():
        raise InputError(f"{spec}: the folder {path.parent} does not exist")
    return path, fmt


async def transcribe_file(rt: Runtime, audio: Attachment, session: str) -> tuple[str, str]:
    """(transcript, media hash of the stored audio); raises TranscriptionFailed, without sending the
    audio when a spending cap is reached (the gateway checks its caps before transcribing too)."""
    from agentbox.turn.runner import TurnRequest
    from agentbox.voice.hearing import hear
    from agentbox.voice.spending import Payer
    from agentbox.voice.stt import TranscriptionFailed

    for guard in rt.runner.guards:
        if refusal := await guard(TurnRequest(session, "")):
            raise TranscriptionFailed(f"the audio was not sent: {refusal}", transient=False)
    return await hear(
        rt.runner.aimlapi,
        rt.store,
        rt.config.voice,
        audio.data or b"",
        media_type=audio.media_type or "application/octet-stream",
        seconds=audio.duration,
        payer=Payer(session, "cli", None),
    )


async def speak_to_file(rt: Runtime, request: TurnRequest, result: TurnResult, path: Path, fmt: str) -> str | None:
    """Write the spoken answer to `path`; None (and a reason on stderr) when there is nothing to write."""
    import sys

    from agentbox.voice.replies import SpokenReplies

    spoken = await SpokenReplies(rt.config, rt.store, rt.runner).speak(
        request, result.reply, result.model, response_format=fmt
    )
    if spoken.audio is None or spoken.audio.data is None:
        sys.stderr.write((spoken.note or "agentbox: nothing was spoken (a spending cap is reached)") + "\n")
        return None
    written = path_for(path, spoken.audio.media_type)
    if written != path:  # a provider may answer another format than asked: never MP3 bytes in an .ogg
        sys.stderr.write(
            f"agentbox: the speech service answered {spoken.audio.media_type}, not what {path.name} names; "
            f"wrote {written} instead\n"
        )
    await asyncio.to_thread(written.write_bytes, spoken.audio.data)
    return str(written)


def path_for(path: Path, media_type: str | None) -> Path:
    """`path`, or the same name with the extension of `media_type` when its own names another format."""
    asked = FORMAT_OF_EXTENSION.get(path.suffix.lower().lstrip("."))
    got = extension_for(media_type)
    if asked is not None and asked == FORMAT_OF_EXTENSION.get(got):
        return path
    return path.with_suffix(f".{got}")
