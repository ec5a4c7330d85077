"""Faults while handling messages: nothing is lost, and a session's queue never stalls.

A database another process holds longer than SQLite's busy timeout: writes wait, and the answer
to messages queued meanwhile follows as soon as the lock is released. The busy timeout is
lowered on the gateway's connection (30 s in production) so the lock can outlast it within a
short test. A batch whose turn fails has every one of its messages marked failed, and the
session goes on with the next.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.fakes.aimlapi import FakeAimlapi, Hang
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until

OPEN = "[channels.telegram]\ndm_policy = 'open'\n"
BUSY_TIMEOUT_MS = 200


class Holder:
    """Another process's connection holding the write lock until `release()`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.held, self._release = threading.Event(), threading.Event()
        self.released_at = 0.0
        self._thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self.held.set()
            self._release.wait(30)
            conn.execute("COMMIT")
            self.released_at = time.monotonic()
        finally:
            conn.close()

    async def __aenter__(self) -> Holder:
        self._thread.start()
        await asyncio.to_thread(self.held.wait, 10)
        return self

    async def release(self) -> None:
        self._release.set()
        await asyncio.to_thread(self._thread.join, 10)

    async def __aexit__(self, *exc: object) -> None:
        await self.release()


async def test_messages_queued_behind_a_turn_during_a_long_lock_are_answered_after_it(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    fake_aimlapi.script(Hang(0.5))
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await gw.store.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await tg.push(inbound("first"))
        await wait_until(lambda: gw.runner.lanes.busy_count == 1)
        await tg.push(inbound("second"))
        await tg.push(inbound("third"))
        async with Holder(gw.store.path) as lock:
            # The model answers (after 0.5 s) while the lock is held, many busy timeouts long: the
            # turn must store itself before its reply goes out.
            await asyncio.sleep(10 * BUSY_TIMEOUT_MS / 1000)
            sent_during_lock = len(tg.sent)
            asked_during_lock = len(fake_aimlapi.chat_requests())
            await lock.release()
            await wait_until(lambda: len(tg.sent) == 2, timeout=20)
            answered_at = time.monotonic()
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        counts = await gw.store.inbox.counts()
        transcript = await gw.store.sessions.transcript("telegram:dm:42")
    assert sent_during_lock == 0 and asked_during_lock == 1  # held up by the lock, not failed
    assert tg.texts() == ["echo: first", "echo: second\n\nthird"]  # nothing lost, the queue batched
    assert counts == {"done": 3} and len(transcript) == 2
    assert answered_at >= lock.released_at


async def test_a_failing_batch_marks_all_its_messages_and_the_session_goes_on(
    fake_aimlapi: FakeAimlapi, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake_aimlapi.script(Hang(0.5))
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        real_run = gw.runner.run

        async def broken_for_the_batch(request, **kwargs):  # type: ignore[no-untyped-def]
            if "second" in request.text:
                raise RuntimeError("a bug in a skill loader")
            return await real_run(request, **kwargs)

        gw.runner.run = broken_for_the_batch  # type: ignore[method-assign]
        await tg.push(inbound("first"))
        await wait_until(lambda: gw.runner.lanes.busy_count == 1)
        await tg.push(inbound("second"))
        await tg.push(inbound("third"))
        await tg.push(inbound("/help"))  # ends the batch; handled after it
        await wait_until(lambda: len(tg.sent) == 2)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0)
        counts = await gw.store.inbox.counts()
    assert tg.texts()[0] == "echo: first" and "/model" in tg.texts()[1]
    assert counts == {"done": 2, "failed": 2}  # second and third were one batch: both failed, none left pending
    assert any("message(s) " in r.getMessage() and r.exc_info for r in caplog.records)
