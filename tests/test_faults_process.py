"""Fault suite, process and storage: a config edited into an invalid state, and a database held by
another process (a long reader, a writer holding the lock). Kill -9 mid-turn, two gateways on one
home and Telegram failures are covered end to end in tests/e2e/test_gateway_telegram.py."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.clirun import invoke_cli
from tests.e2e.gatewayproc import gateway_config, gateway_env, start_gateway, wait_for
from tests.fakes.aimlapi import FakeAimlapi
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until
from tests.helpers import write_config

ALICE = 835750362
OPEN = "[channels.telegram]\ndm_policy = 'open'\n"


def test_invalid_config_refuses_to_start_and_says_why(home: Path, fake_aimlapi, fake_telegram) -> None:  # type: ignore[no-untyped-def]
    write_config(home, gateway_config(fake_telegram) + "[aimlapi]\ntimeout = 'soon'\n")
    done = invoke_cli("gateway", "run", env=gateway_env(home, fake_aimlapi, fake_telegram))
    assert done.returncode != 0
    assert "config.toml" in done.stderr and "aimlapi.timeout" in done.stderr
    assert fake_telegram.requests == [] and fake_aimlapi.requests == []  # nothing started


@pytest.mark.e2e
def test_running_gateway_survives_config_edited_invalid(processes, home: Path, fake_aimlapi, fake_telegram) -> None:  # type: ignore[no-untyped-def]
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, "dm_policy = 'open'")
    processes.append(gateway)
    gateway.wait_ready()
    (home / "config.toml").write_text("[channels.telegram\nthis is = not toml")  # the owner's editor mid-save
    fake_telegram.push_text(ALICE, "still answering?")
    wait_for(
        lambda: any("echo: still answering?" in t for t in fake_telegram.sent_messages(ALICE)),
        timeout=20,
        what=f"an answer after the config broke; log:\n{gateway.log}",
    )
    assert gateway.proc.poll() is None
    assert gateway.terminate() == 0


def _hold(db: Path, sql: str, seconds: float, held: threading.Event) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        conn.execute(sql)
        conn.execute("SELECT COUNT(*) FROM turns").fetchone()  # a read inside the transaction pins a snapshot
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.mark.parametrize("sql", ["BEGIN", "BEGIN IMMEDIATE"], ids=["long reader", "writer holding the lock"])
async def test_database_held_by_another_process(fake_aimlapi: FakeAimlapi, home: Path, sql: str) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        held = threading.Event()
        holder = threading.Thread(target=_hold, args=(gw.store.path, sql, 1.5, held))
        holder.start()
        await asyncio.to_thread(held.wait, 10)
        started = time.monotonic()
        await tg.push(inbound("during the lock", message_id="L1"))
        await tg.push(inbound("and another", message_id="L2", sender="43"))
        await wait_until(lambda: len(tg.sent) == 2, timeout=30)
        waited = time.monotonic() - started
        await asyncio.to_thread(holder.join, 10)
        await wait_until(lambda: gw.dispatcher.active_sessions == 0, timeout=10)
        counts = await gw.store.inbox.counts()
    assert sorted(tg.texts()) == ["echo: and another", "echo: during the lock"]
    assert counts == {"done": 2}
    if sql == "BEGIN IMMEDIATE":
        assert waited >= 1.0  # it waited out the writer (busy_timeout) instead of failing
