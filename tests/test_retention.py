"""Retention and media garbage collection on a real SQLite store; `agentbox sessions prune` through the CLI."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from pydantic_ai.messages import BinaryContent, ModelRequest, UserPromptPart

from agentbox.store import Store, TurnRecord
from agentbox.store.db import run
from agentbox.turn.history import dump_messages
from tests.clirun import invoke_cli
from tests.gatewaykit import image, inbound
from tests.helpers import cli_env

DAY = 86_400.0


def photo(seed: int, size: int = 40_000) -> bytes:
    return b"\xff\xd8\xff\xe0" + random.Random(seed).randbytes(size)


async def add_turn(store: Store, key: str, text: str, picture: bytes, *, days_ago: float) -> None:
    await store.sessions.ensure(key, channel="telegram", chat_id=key)
    blob = await dump_messages(
        store, [ModelRequest(parts=[UserPromptPart(content=[text, BinaryContent(picture, media_type="image/jpeg")])])]
    )
    started = time.time() - days_ago * DAY
    await store.sessions.add_turn(TurnRecord(key, "m", "ok", user_text=text, messages=blob, started_at=started))
    await run(store.conn, "UPDATE sessions SET updated_at = ? WHERE key = ?", (started, key))


async def media_sizes(store: Store) -> list[int]:
    async with store.conn.execute("SELECT size FROM media ORDER BY size") as cursor:
        return [int(row[0]) for row in await cursor.fetchall()]


async def seed(store: Store) -> None:
    """Two chats a year old (one still active today), a pending message with media, an old answered one."""
    await add_turn(store, "old", "from last year", photo(1, 41_000), days_ago=365)
    await add_turn(store, "mixed", "also last year", photo(2, 42_000), days_ago=300)
    await add_turn(store, "mixed", "today", photo(3, 43_000), days_ago=0)
    await add_turn(store, "mixed", "same photo again today", photo(1, 41_000), days_ago=0)
    pending = await store.inbox.add(inbound("not answered yet", attachments=(image(photo(4, 44_000), "image/jpeg"),)))
    answered = await store.inbox.add(inbound("answered long ago"))
    await store.inbox.mark_replied([answered or 0])
    await run(store.conn, "UPDATE inbox SET received_at = ? WHERE id = ?", (time.time() - 200 * DAY, answered))
    assert pending is not None


async def test_prune_removes_old_history_and_the_media_only_it_used(store: Store) -> None:
    await seed(store)
    report = await store.retention.prune(time.time() - 90 * DAY)
    assert (report.turns, report.sessions, report.inbox_rows) == (2, 1, 1)
    assert (report.media, report.media_bytes) == (1, 42_004)  # photo 2: only last year's turn showed it
    assert await media_sizes(store) == [41_004, 43_004, 44_004]  # photo 1 is in today's turn too; 4 is pending
    assert [s.key for s in await store.sessions.all()] == ["mixed"]
    assert [t["user_text"] for t in await store.sessions.transcript("mixed")] == ["today", "same photo again today"]
    assert await store.inbox.counts() == {"pending": 1}


async def test_a_dry_run_reports_the_same_and_deletes_nothing(home: Path) -> None:
    path = home / "agentbox.db"
    async with await Store.open(path) as store:
        await seed(store)
        before = await media_sizes(store)
        dry = await store.retention.prune(time.time() - 90 * DAY, dry_run=True)
        assert await media_sizes(store) == before and len(await store.sessions.all()) == 2
        real = await store.retention.prune(time.time() - 90 * DAY)
    assert dry == real


async def test_collecting_media_spares_what_is_referenced_or_still_being_written(store: Store) -> None:
    await add_turn(store, "s", "kept", photo(5), days_ago=0)
    orphan = await store.media.put(photo(6), "image/jpeg")  # e.g. a turn whose write failed halfway
    assert await store.retention.collect_media() == (0, 0)  # too young: a running turn may be about to use it
    await run(store.conn, "UPDATE media SET created_at = created_at - 7200")
    assert await store.retention.collect_media() == (1, 40_004)
    assert await store.media.get(orphan) is None and len(await media_sizes(store)) == 1


async def test_storing_a_media_again_makes_it_young_again(store: Store) -> None:
    digest = await store.media.put(photo(7), "image/jpeg")
    await run(store.conn, "UPDATE media SET created_at = created_at - 7200")
    await store.media.put(photo(7), "image/jpeg")  # a new turn shows the same picture
    assert await store.retention.collect_media() == (0, 0)
    assert await store.media.get(digest) is not None


async def test_the_gateway_service_prunes_by_storage_retention_days(home: Path) -> None:
    from agentbox.config import parse_config
    from agentbox.gateway.retention import RetentionService

    media_dir = home / "media"
    media_dir.mkdir()
    old_file, new_file = media_dir / "old.png", media_dir / "new.png"
    for path in (old_file, new_file):
        path.write_bytes(photo(8, 1000))
    os.utime(old_file, (time.time() - 400 * DAY, time.time() - 400 * DAY))
    config = parse_config("[storage]\nretention_days = 90\n", source=home / "config.toml")
    async with await Store.open(home / "agentbox.db") as store:
        await seed(store)
        await RetentionService(config, store).run_once()
        assert [s.key for s in await store.sessions.all()] == ["mixed"]
    assert not old_file.exists() and new_file.exists()


async def _seeded(home: Path) -> None:
    async with await Store.open(home / "agentbox.db") as store:
        await seed(store)


def test_sessions_prune_cli_dry_run_then_real(home: Path) -> None:
    import asyncio

    asyncio.run(_seeded(home))
    env = cli_env(home)
    dry = invoke_cli("sessions", "prune", "--older-than", "90d", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would remove 2 turns, 1 sessions") and "1 media files (0.0 MB)" in dry.stdout
    done = invoke_cli("sessions", "prune", "--older-than", "90d", "--json", env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["turns"], report["media"], report["media_bytes"], report["dry_run"]) == (2, 1, 42_004, False)
    again = invoke_cli("sessions", "prune", "--older-than", "90d", env=env)
    assert again.stdout.startswith("Removed 0 turns")


def test_sessions_prune_rejects_an_unclear_age(home: Path) -> None:
    done = invoke_cli("sessions", "prune", "--older-than", "90", env=cli_env(home))
    assert done.returncode == 2 and "e.g. 90d, 12h or 2w" in done.stderr


async def test_a_reply_waiting_in_the_outbox_keeps_its_media_and_its_row(store: Store) -> None:
    """A video only the media table holds must survive until its reply is delivered, however old."""
    from agentbox.messages import Address, Attachment, Outbound
    from agentbox.store.outbox import NewEntry

    video = photo(8, 60_000)
    waiting = await store.outbox.add(
        NewEntry(
            Address("telegram", "42"), Outbound("here", (Attachment("video", data=video, media_type="video/mp4"),))
        )
    )
    delivered = await store.outbox.add(NewEntry(Address("telegram", "43"), Outbound("old news")))
    await store.outbox.mark_delivered(delivered)
    await run(store.conn, "UPDATE media SET created_at = created_at - 7200")
    await run(store.conn, "UPDATE outbox SET created_at = created_at - 200 * ?", (DAY,))
    assert await store.retention.collect_media() == (0, 0)
    report = await store.retention.prune(time.time() - 90 * DAY)
    assert report.media == 0 and await store.outbox.get(waiting) is not None
    assert await store.outbox.get(delivered) is None  # finished replies go with the rest of the old history
    entry = await store.outbox.get(waiting)
    assert entry is not None and entry.outbound.attachments[0].data == video
