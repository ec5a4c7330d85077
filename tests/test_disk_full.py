"""A full disk: one clear line for the owner, the message kept and retried, the other chats still served.

The error is injected at the store seam (what SQLite raises when the disk is full), not by filling a disk.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from agentbox.gateway.diskfull import is_disk_full
from agentbox.gateway.dispatch import EMPTY
from tests.fakes.aimlapi import FakeAimlapi, Hang
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until

OPEN = "[channels.telegram]\ndm_policy = 'open'\n"
FULL = "database or disk is full"


def full_disk_error() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(FULL)
    error.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    return error


def fail_first(times: int, real: Any) -> Any:
    calls = {"left": times}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if calls["left"] > 0:
            calls["left"] -= 1
            raise full_disk_error()
        return await real(*args, **kwargs)

    return flaky


def disk_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and "disk full" in r.getMessage()]


async def test_a_turn_that_cannot_be_recorded_is_kept_and_retried(
    fake_aimlapi: FakeAimlapi, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gateway:
        gateway.dispatcher.disk_full_delay = 0.2
        gateway.store.sessions.add_turn = fail_first(2, gateway.store.sessions.add_turn)
        await tg.push(inbound("remember this", sender="1"))
        await wait_until(lambda: gateway.dispatcher.disk_full.count >= 1)
        counts = await gateway.store.inbox.counts()
        await tg.push(inbound("hello from another chat", sender="2"))  # served while the first waits
        await wait_until(lambda: len(tg.sent) == 2, timeout=15)
        final = await gateway.store.inbox.counts()
        rows = await gateway.store.inbox.unfinished()
    assert counts.get("failed") is None and counts.get("pending") == 1  # kept, not given up on
    assert sorted(tg.texts()) == ["echo: hello from another chat", "echo: remember this"]
    assert final == {"done": 2} and rows == []
    lines = disk_lines(caplog)
    assert len(lines) == 1  # one line for the owner, not one per failure
    assert str(home) in lines[0] and "agentbox sessions prune --older-than 90d" in lines[0]


async def test_a_message_that_cannot_be_stored_is_left_with_the_platform(
    fake_aimlapi: FakeAimlapi, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gateway:
        gateway.store.inbox.add = fail_first(1, gateway.store.inbox.add)
        message = inbound("first try fails", sender="3")
        with pytest.raises(sqlite3.OperationalError):
            await tg.push(message)  # the connector does not acknowledge: the platform delivers it again
        await tg.push(message)
        await wait_until(lambda: tg.sent)
    assert tg.texts() == ["echo: first try fails"]
    assert len(disk_lines(caplog)) == 1


def test_disk_full_is_recognized_however_it_arrives() -> None:
    assert is_disk_full(full_disk_error())
    assert is_disk_full(sqlite3.OperationalError(FULL))
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    try:
        try:
            raise full_disk_error()
        except sqlite3.OperationalError as inner:
            raise RuntimeError("could not record the turn") from inner
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped)
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))


def test_doctor_names_a_nearly_full_disk_and_what_to_do(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentbox.config import Config
    from agentbox.ops import doctor

    monkeypatch.setattr(doctor, "MIN_FREE_BYTES", 1 << 62)  # any real disk is "nearly full" against this
    check = doctor.check_disk(Config())
    assert check.status == "fail" and "cannot record messages" in check.detail
    assert check.fix is not None and "agentbox sessions prune --older-than 90d" in check.fix


async def test_a_message_answered_inside_a_batch_is_not_answered_again_when_the_disk_fills(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    """Queued behind a busy turn, an empty message is answered at once while the batch forms; a full disk
    while the batch's turn is recorded retries the batch, not the message already answered."""
    fake_aimlapi.script(Hang(0.6))
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gateway:
        gateway.dispatcher.disk_full_delay = 0.2
        real_add_turn = gateway.store.sessions.add_turn
        calls = {"n": 0}

        async def second_fails(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise full_disk_error()
            return await real_add_turn(*args, **kwargs)

        gateway.store.sessions.add_turn = second_fails  # type: ignore[method-assign]
        await tg.push(inbound("one"))
        await wait_until(lambda: gateway.runner.lanes.busy_count == 1)
        await tg.push(inbound("two"))
        await tg.push(inbound("   "))  # empty: answered without a model while the batch after "two" forms
        await wait_until(lambda: gateway.dispatcher.disk_full.count >= 1)
        await wait_until(lambda: "echo: two" in tg.texts(), timeout=15)
        await asyncio.sleep(0.5)  # a retry scheduled with the batch (after 0.1-0.2 s) has run by now
        await wait_until(lambda: gateway.dispatcher.active_sessions == 0 and gateway.dispatcher.queued == 0)
        counts = await gateway.store.inbox.counts()
    assert tg.texts() == ["echo: one", EMPTY, "echo: two"]  # the empty message was answered once
    assert counts == {"done": 3}
