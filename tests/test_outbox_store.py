"""The outbox repository: migration from the previous schema, references not bytes, claims, backlog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.messages import Address, Attachment, Outbound
from agentbox.store import Store
from agentbox.store.outbox import NewEntry
from agentbox.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.gatewaykit import inbound

DM = Address("telegram", "42", None, "103")


def _previous_release_db(path: Path) -> None:
    """A database as the release before the outbox left it, with one answered-but-unsent message."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2]):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number + 1}")
    conn.execute(
        "INSERT INTO inbox(channel, chat_id, message_id, sender_id, payload, received_at, turn_id)"
        " VALUES ('telegram', '42', '103', '42', ?, 1.0, 7)",
        ('{"channel": "telegram", "chat_id": "42", "message_id": "103", "sender_id": "42", "text": "hi"}',),
    )
    conn.close()


async def test_a_database_of_the_previous_release_migrates_and_keeps_its_inbox(home: Path) -> None:
    path = home / "agentbox.db"
    _previous_release_db(path)
    async with await Store.open(path) as store:
        async with store.conn.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone())[0] == SCHEMA_VERSION
        [row] = await store.inbox.unfinished()
        assert (row.inbound.message_id, row.turn_id, row.status) == ("103", 7, "pending")
        entry_id = await store.outbox.add(NewEntry(DM, Outbound("stored answer"), inbox_ids=(row.id,)))
        await store.inbox.await_delivery([row.id], entry_id)
        assert await store.inbox.unfinished() == []  # its reply waits in the outbox: not answered again
        assert await store.inbox.counts() == {"outbox": 1}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=5000), data=st.binary(min_size=1, max_size=300_000))
async def test_entries_round_trip_with_media_by_reference(store: Store, tmp_path: Path, text: str, data: bytes) -> None:
    on_disk = tmp_path / "render.png"
    on_disk.write_bytes(data)
    outbound = Outbound(
        text,
        (
            Attachment("image", data=data, path=str(on_disk), media_type="image/png", caption=text[:50]),
            Attachment("video", data=data, media_type="video/mp4", filename="video.mp4"),
            Attachment("video", url="https://cdn.example/v.mp4", media_type="video/mp4"),
        ),
    )
    entry_id = await store.outbox.add(NewEntry(DM, outbound, session_key="telegram:dm:42", message_id="103"))
    entry = await store.outbox.get(entry_id)
    assert entry is not None and entry.outbound.text == text and entry.address == DM
    from_disk, from_media, linked = entry.outbound.attachments
    assert from_disk.path == str(on_disk) and from_disk.data is None  # a file on disk is referenced, not copied
    assert from_media.data == data and from_media.filename == "video.mp4"
    assert linked.url == "https://cdn.example/v.mp4" and linked.data is None
    async with store.conn.execute("SELECT attachments FROM outbox WHERE id = ?", (entry_id,)) as cursor:
        assert len((await cursor.fetchone())[0]) < 2000  # the row holds references, never the bytes


async def test_claims_and_backlog(store: Store) -> None:
    other = Address("slack", "D0BOB")
    first = await store.outbox.add(NewEntry(DM, Outbound("one")))
    await store.outbox.add(NewEntry(DM, Outbound("two")))
    await store.outbox.add(NewEntry(other, Outbound("three")))
    assert await store.outbox.has_waiting("telegram", "42") and not await store.outbox.has_waiting("telegram", "43")
    assert await store.outbox.claim(first) and not await store.outbox.claim(first)  # one attempt at a time
    backlog = await store.outbox.backlog()
    assert backlog.count == 3 and backlog.by_channel == {"telegram": 2, "slack": 1}
    assert await store.outbox.release_claims() == 1  # a crash mid-attempt: pending again
    await store.outbox.mark_delivered(first)
    assert [e.outbound.text for e in await store.outbox.waiting()] == ["two", "three"]


async def test_rows_a_crash_left_between_two_writes_are_found(store: Store) -> None:
    row_id = await store.inbox.add(inbound("hi")) or 0
    entry_id = await store.outbox.add(NewEntry(DM, Outbound("answer"), inbox_ids=(row_id,), settle="done"))
    await store.inbox.await_delivery([row_id], entry_id)
    await store.outbox.mark_delivered(entry_id)  # ...and the process died before settling the row
    [(found_row, entry)] = await store.outbox.unsettled()
    assert found_row == row_id and entry.status == "delivered" and entry.settle == "done"
