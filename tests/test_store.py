"""The SQLite store: WAL, foreign keys, migrations, private file, sessions and media."""

from __future__ import annotations

import stat
from pathlib import Path

import aiosqlite
import pytest

from agentbox.store import Store, TurnRecord
from agentbox.store.schema import SCHEMA_VERSION


async def test_open_applies_migrations_with_wal_and_foreign_keys(home: Path) -> None:
    path = home / "agentbox.db"
    async with await Store.open(path) as store:
        async with store.conn.execute("PRAGMA journal_mode") as cur:
            assert (await cur.fetchone())[0] == "wal"
        async with store.conn.execute("PRAGMA foreign_keys") as cur:
            assert (await cur.fetchone())[0] == 1
        async with store.conn.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == SCHEMA_VERSION
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with await Store.open(path) as again:  # reopening is a no-op migration
        assert await again.sessions.all() == []


async def test_newer_schema_is_refused(home: Path) -> None:
    import pytest

    from agentbox.store.db import SchemaTooNew

    path = home / "agentbox.db"
    async with aiosqlite.connect(path) as conn:
        await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        await conn.commit()
    with pytest.raises(SchemaTooNew, match="upgrade agentbox"):
        await Store.open(path)


async def test_reset_hides_history_but_keeps_transcript(store: Store) -> None:
    await store.sessions.ensure("s", channel="telegram", chat_id="42")
    await store.sessions.add_turn(TurnRecord("s", "m", "ok", user_text="a", messages=b"[]"))
    assert len(await store.sessions.history_turns("s")) == 1
    assert await store.sessions.reset("s")
    await store.sessions.add_turn(TurnRecord("s", "m", "ok", user_text="b", messages=b"[]"))
    assert len(await store.sessions.history_turns("s")) == 1
    assert [t["user_text"] for t in await store.sessions.transcript("s")] == ["a", "b"]
    info = await store.sessions.get("s")
    assert info is not None and (info.channel, info.chat_id, info.turns) == ("telegram", "42", 2)


async def test_media_deduplicated_by_content(store: Store) -> None:
    first = await store.media.put(b"abc", "image/png")
    second = await store.media.put(b"abc", "image/png")
    assert first == second and await store.media.get(first) == (b"abc", "image/png")
    async with store.conn.execute("SELECT COUNT(*) FROM media") as cur:
        assert (await cur.fetchone())[0] == 1


@pytest.mark.slow  # 36,000 writes from 100 tasks
async def test_concurrent_writes_never_misuse_the_connection(store: Store) -> None:
    """Cursors are closed on aiosqlite's thread: many tasks writing at once raise nothing."""
    import asyncio

    from agentbox.messages import Inbound

    ids = [
        await store.inbox.add(Inbound("telegram", "1", str(i), "42", f"m{i}", is_direct=True)) or 0 for i in range(50)
    ]

    async def worker(k: int) -> None:
        for j in range(120):
            batch = [ids[(k * 7 + j) % 50], ids[(k * 3 + j) % 50]]
            await store.inbox.mark_replied(batch)
            await store.inbox.finish(batch, "done")
            await store.sessions.set_model("s", None)

    await store.sessions.ensure("s")
    await asyncio.gather(*(worker(k) for k in range(100)))
    assert (await store.inbox.counts()).get("done") == 50
