"""Real-looking audio bytes for tests and fakes: the containers' true headers around random payloads.

`ogg_opus` builds proper Ogg pages (capture pattern, granule positions, CRC) holding an Opus
stream (`OpusHead`, `OpusTags`, then packets of random bytes), so sniffers, duration readers and
Telegram's voice-note check see what a phone records. `mp3` is an ID3 tag and MPEG frames,
`wav` a RIFF/WAVE header and PCM samples, `webm` an EBML header (Slack's audio clips).
"""

from __future__ import annotations

import random
import struct

OPUS_PRE_SKIP = 312
_SAMPLES_PER_PACKET = 960  # 20 ms at 48 kHz
_PACKETS_PER_PAGE = 50  # one second per page


def _ogg_crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC = _ogg_crc_table()


def ogg_crc(data: bytes) -> int:
    """The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, no reflection)."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def ogg_page(packets: list[bytes], *, granule: int, serial: int, sequence: int, header_type: int = 0) -> bytes:
    lacing = b""
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, header_type, granule, serial, sequence, 0, len(lacing))
    page = header + lacing + b"".join(packets)
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


def ogg_opus(seconds: float = 3.0, seed: int = 1, *, packet_bytes: int = 80) -> bytes:
    """An OGG/Opus voice recording of `seconds` (32 kbit/s of random packets), with valid pages."""
    rng = random.Random(seed)
    serial = rng.getrandbits(32)
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, OPUS_PRE_SKIP, 48_000, 0, 0)
    vendor = b"agentbox tests"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    pages = [ogg_page([head], granule=0, serial=serial, sequence=0, header_type=2)]
    pages.append(ogg_page([tags], granule=0, serial=serial, sequence=1))
    total = max(1, round(seconds * 48_000 / _SAMPLES_PER_PACKET))
    sent = 0
    while sent < total:
        count = min(_PACKETS_PER_PAGE, total - sent)
        sent += count
        packets = [rng.randbytes(packet_bytes) for _ in range(count)]
        last = sent == total
        granule = OPUS_PRE_SKIP + sent * _SAMPLES_PER_PACKET
        pages.append(ogg_page(packets, granule=granule, serial=serial, sequence=len(pages), header_type=4 * last))
    return b"".join(pages)


def mp3(seconds: float = 3.0, seed: int = 1) -> bytes:
    """An ID3v2 tag and 128 kbit/s MPEG-1 Layer III frames of random bytes (about 38 frames a second)."""
    rng = random.Random(seed)
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x00"
    frame_header = b"\xff\xfb\x90\x64"
    frames = [frame_header + rng.randbytes(413) for _ in range(max(1, round(seconds * 38.28)))]
    return tag + b"".join(frames)


def wav(seconds: float = 1.0, seed: int = 1, *, rate: int = 24_000) -> bytes:
    """A RIFF/WAVE file: 16-bit mono PCM of random samples."""
    data = random.Random(seed).randbytes(int(seconds * rate) * 2)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webm(size: int = 20_000, seed: int = 1) -> bytes:
    """An EBML (WebM) header and random bytes: the container of an audio clip recorded in Slack."""
    return b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\x42\x82\x84webm" + random.Random(seed).randbytes(size)


def audio_for(response_format: str, seconds: float, seed: int = 1) -> tuple[bytes, str]:
    """What a TTS service answers for `response_format`: (bytes, media type)."""
    if response_format == "opus":
        return ogg_opus(seconds, seed), "audio/ogg"
    if response_format == "wav":
        return wav(min(seconds, 5.0), seed), "audio/wav"
    return mp3(seconds, seed), "audio/mpeg"
