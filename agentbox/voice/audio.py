"""Audio bytes: what format they are (read from magic bytes, never from a name) and how long they last.

The speech-to-text API takes FLAC, MP3, MP4/M4A, OGG, WAV and WebM; Telegram shows a voice note
only for OGG/Opus. Durations come from the platform when it declares one; for OGG (Opus or
Vorbis) and WAV they are read from the file itself, for other formats only the size limit applies.
"""

from __future__ import annotations

import struct

OGG_OPUS = "audio/ogg"

_EXTENSIONS = {
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/aac": "aac",
    "audio/wav": "wav",
    "audio/flac": "flac",
    "audio/mp4": "m4a",
    "audio/webm": "webm",
}
# TTS `response_format` for an output file's extension (`agentbox agent --speak answer.ogg`).
FORMAT_OF_EXTENSION = {
    "ogg": "opus",
    "opus": "opus",
    "oga": "opus",
    "mp3": "mp3",
    "aac": "aac",
    "flac": "flac",
    "wav": "wav",
}


def sniff_audio_type(data: bytes) -> str | None:
    """The media type of audio bytes from their first bytes; None when they are no audio we know."""
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"fLaC"):
        return "audio/flac"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[4:8] == b"ftyp":
        return "audio/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if data.startswith(b"ID3"):
        return "audio/mpeg"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        # An MPEG frame sync: layer bits 00 mean ADTS (AAC), anything else MP3.
        return "audio/aac" if data[1] & 0x06 == 0 else "audio/mpeg"
    return None


def is_ogg_opus(data: bytes) -> bool:
    """OGG with an Opus stream: what Telegram's sendVoice shows as a voice note."""
    return data.startswith(b"OggS") and b"OpusHead" in data[:200]


def extension_for(media_type: str | None) -> str:
    return _EXTENSIONS.get((media_type or "").split(";")[0], "bin")


def duration_seconds(data: bytes) -> float | None:
    """How long the audio lasts, for OGG (Opus, Vorbis) and WAV; None for other formats or damaged files."""
    try:
        if data.startswith(b"OggS"):
            return _ogg_duration(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            return _wav_duration(data)
    except (struct.error, ValueError, ZeroDivisionError):
        return None
    return None


def _ogg_duration(data: bytes) -> float | None:
    # The last page's granule position counts samples: 48 kHz for Opus (less the pre-skip).
    last = data.rfind(b"OggS")
    granule = struct.unpack_from("<q", data, last + 6)[0]
    if granule < 0:
        return None
    head = data.find(b"OpusHead", 0, 200)
    if head >= 0:
        pre_skip = struct.unpack_from("<H", data, head + 10)[0]
        return max(0, granule - pre_skip) / 48_000
    vorbis = data.find(b"\x01vorbis", 0, 200)
    if vorbis >= 0:
        rate = struct.unpack_from("<I", data, vorbis + 12)[0]
        return granule / rate
    return None


def _wav_duration(data: bytes) -> float | None:
    position = 12
    byte_rate = None
    while position + 8 <= len(data):
        chunk_id, size = data[position : position + 4], struct.unpack_from("<I", data, position + 4)[0]
        if chunk_id == b"fmt ":
            byte_rate = struct.unpack_from("<I", data, position + 16)[0]
        elif chunk_id == b"data" and byte_rate:
            return min(size, len(data) - position - 8) / byte_rate
        position += 8 + size + (size & 1)
    return None
