"""The inbox repository: idempotent on (channel, chat, message id), media by reference, recovery state."""

from __future__ import annotations

from agentbox.store import Store, TurnRecord
from tests.gatewaykit import image, inbound
from tests.helpers import png_bytes

PNG = png_bytes()


async def test_redelivered_message_is_stored_once(store: Store) -> None:
    message = inbound("hi", message_id="m1")
    first = await store.inbox.add(message)
    assert first is not None
    assert await store.inbox.add(message) is None
    assert await store.inbox.add(inbound("hi", message_id="m1", chat="other")) is not None  # other chat
    assert await store.inbox.counts() == {"pending": 2}


async def test_payload_round_trips_with_media_by_reference(store: Store) -> None:
    message = inbound("look", thread_id="3", attachments=(image(PNG),), sender_name="Alice")
    row_id = await store.inbox.add(message)
    async with store.conn.execute("SELECT payload FROM inbox WHERE id = ?", (row_id,)) as cursor:
        payload = (await cursor.fetchone())[0]
    assert "sha256" in payload and PNG.hex()[:32] not in payload  # bytes live in media, not the row
    row = await store.inbox.get(row_id or 0)
    assert row is not None and row.inbound == message


async def test_referenced_media_round_trips_without_bytes(store: Store) -> None:
    from agentbox.messages import Attachment

    ref = Attachment("image", ref="AgACBAADfile", size=15_728_640, media_type="image/jpeg", filename="IMG_1.jpg")
    row_id = await store.inbox.add(inbound("look", attachments=(ref,)))
    row = await store.inbox.get(row_id or 0)
    assert row is not None and row.inbound.attachments == (ref,)
    async with store.conn.execute("SELECT COUNT(*) FROM media") as cursor:
        assert (await cursor.fetchone())[0] == 0


async def test_unfinished_and_turn_markers(store: Store) -> None:
    ids = [await store.inbox.add(inbound(str(i))) for i in range(3)]
    a, b, c = (i or 0 for i in ids)
    await store.inbox.finish([a], "ignored", "pairing")
    await store.sessions.ensure("k")
    turn_id = await store.sessions.add_turn(TurnRecord(session_key="k", model="m", status="ok", reply="answer"))
    await store.inbox.set_turn([b], turn_id)
    rows = await store.inbox.unfinished(upto_id=b)
    assert [(r.id, r.turn_id) for r in rows] == [(b, turn_id)]
    stored = await store.inbox.stored_reply(turn_id)
    assert stored is not None and stored.reply == "answer"
    await store.inbox.mark_replied([b, c])
    assert await store.inbox.unfinished() == []
    assert await store.inbox.counts() == {"ignored": 1, "done": 2}
    assert await store.inbox.max_id() == c


async def test_lone_surrogates_are_replaced_not_fatal(store: Store) -> None:
    """Platform JSON may carry "\\udcff"; SQLite and every API downstream reject lone surrogates."""
    bad = "caf\udcc3 \udcff"
    row_id = await store.inbox.add(inbound(bad, attachments=(image(PNG),), sender_name=bad))
    row = await store.inbox.get(row_id or 0)
    assert row is not None and row.inbound.text == "caf\ufffd \ufffd" and row.inbound.sender_name == row.inbound.text
