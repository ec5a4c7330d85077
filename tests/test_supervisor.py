"""The supervisor reads connector state from the `Connector` contract and reacts to its change signal."""

from __future__ import annotations

import asyncio

from agentbox.gateway.supervisor import ConnectorSlot
from agentbox.messages import ConnectorState, ConnectorStatus, Inbound
from tests.gatewaykit import FakeConnector, wait_until


async def _deliver(inbound: Inbound) -> None:
    pass


async def _no_hook(slot: ConnectorSlot) -> None:
    pass


async def _loop_turns(count: int) -> None:
    """Let the event loop run `count` rounds: enough for a waiter woken by an event, far too few for a timer."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_status_signals_every_change_to_waiters_and_listeners() -> None:
    status = ConnectorStatus()
    heard: list[str] = []
    status.add_listener(lambda s: heard.append(str(s)))
    waiter = asyncio.ensure_future(status.wait_for(ConnectorState.FAILED))
    assert status.set(ConnectorState.READY) and not status.set(ConnectorState.READY)  # no change, no signal
    status.set(ConnectorState.DEGRADED, "Socket Mode disconnected, reconnecting")
    await _loop_turns(3)
    assert not waiter.done()
    status.set(ConnectorState.FAILED, "token revoked")
    assert await waiter is ConnectorState.FAILED
    assert heard == ["ready", "degraded: Socket Mode disconnected, reconnecting", "failed: token revoked"]
    assert await status.wait_for(ConnectorState.FAILED) is ConnectorState.FAILED  # already there: at once


async def test_a_failed_connector_is_restarted_on_the_signal_not_on_a_timer() -> None:
    connectors: list[FakeConnector] = []

    def factory() -> FakeConnector:
        connectors.append(FakeConnector())
        return connectors[-1]

    slot = ConnectorSlot("telegram", factory)
    slot.initial_backoff = 0.0  # restart at once: only the wake-up is measured
    task = asyncio.create_task(slot.run(_deliver, _no_hook))
    try:
        await wait_until(lambda: slot.ready.is_set())
        assert slot.state == "ready" and slot.status is connectors[0].status
        connectors[0].status.set(ConnectorState.FAILED, "token revoked")
        await _loop_turns(100)  # a supervisor polling on a timer (even every 10 ms) would not have looked yet
        assert slot.restarts == 1 and len(connectors) == 2 and connectors[1].starts == 1
        assert str(connectors[0].status) == "stopped" and slot.state == "ready"
    finally:
        await slot.stop()
        await asyncio.wait_for(task, 5)
    assert slot.state == "stopped"


async def test_a_fatal_start_failure_stays_failed_after_stop() -> None:
    slot = ConnectorSlot("telegram", lambda: FakeConnector(fail_starts=1, fatal=True))
    await slot.run(_deliver, _no_hook)  # returns: a rejected token cannot be retried
    assert slot.status.state is ConnectorState.FAILED and slot.state == "failed: token rejected"
    await slot.stop()
    assert slot.state == "failed: token rejected"
