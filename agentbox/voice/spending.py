"""Speech calls made outside a turn (a voice note transcribed before it, an answer spoken after it):
priced and recorded in the `spend` table, which `agentbox usage` and the spending caps read.

The API's own `meta.usage` is used when it reports one; otherwise the cost is estimated from
`[voice] stt_usd_per_minute` (by duration) or `tts_usd_per_million_chars` (by text length), and
recorded as an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentbox.config import VoiceConfig
from agentbox.store import SpendRecord, Store
from agentbox.voice.cost import Cost

BYTES_PER_SECOND = 4_000  # a 32 kbit/s voice recording: the length guess when nothing says how long it is


@dataclass(frozen=True, slots=True)
class Payer:
    """Whose spend a call is: the session, channel and sender it was made for (the caps count per sender)."""

    session_key: str | None
    channel: str
    sender_id: str | None


def stt_estimate(voice: VoiceConfig, seconds: float | None, size: int) -> float:
    minutes = (seconds if seconds is not None else size / BYTES_PER_SECOND) / 60
    return minutes * voice.stt_usd_per_minute


def tts_estimate(voice: VoiceConfig, text: str) -> float:
    return len(text) * voice.tts_usd_per_million_chars / 1_000_000


async def record_spend(store: Store, kind: str, model: str, cost: Cost, estimate: float, payer: Payer) -> float:
    """Write one `spend` row (reported cost, else `estimate`); the USD recorded."""
    usd, estimated = cost.priced(estimate)
    await store.spend.add(
        SpendRecord(
            kind,
            usd,
            session_key=payer.session_key,
            channel=payer.channel,
            sender_id=payer.sender_id,
            model=model,
            estimated=estimated,
            credits=cost.credits,
        )
    )
    return usd
