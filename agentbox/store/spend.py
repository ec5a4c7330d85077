"""The `spend` table: money spent per kind of call (speech-to-text, text-to-speech, images, ...).

Turns record what their model run cost in `turns.usd`. This table adds two things that row cannot
say: what was spent outside any turn (transcribing a voice note before its turn, speaking an
answer after it), and which part of a turn's cost went to tools (an image, a spoken file). The
first kind of row (`turn_id` NULL) counts on top of the turns for usage and the spending caps;
the second (`turn_id` set) only breaks a turn's cost down by kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from agentbox.store.db import now, run_many

KINDS = ("chat", "stt", "tts", "image", "video", "other")


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """One priced call: its kind, who it was for, and its cost (reported by the API, or `estimated`)."""

    kind: str
    usd: float
    session_key: str | None = None
    channel: str = ""
    sender_id: str | None = None
    model: str = ""
    estimated: bool = False
    credits: float | None = None
    turn_id: int | None = None


class SpendRepo:
    """Writes `spend` rows; `agentbox.turn.usage` reads them with the turns."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def add(self, *records: SpendRecord) -> None:
        rows = [
            (
                r.kind,
                r.session_key,
                r.channel,
                r.sender_id,
                r.model,
                r.turn_id,
                r.usd,
                int(r.estimated),
                r.credits,
                now(),
            )
            for r in records
        ]
        if rows:
            await run_many(self._conn, _INSERT, rows)


_INSERT = (
    "INSERT INTO spend(kind, session_key, channel, sender_id, model, turn_id, usd, usd_estimated, credits,"
    " created_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
