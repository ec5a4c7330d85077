"""`TaskSet`: named background tasks, a failure logged once without stopping the others, bounded close."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings

import pytest

from agentbox.tasks import TaskSet, alongside

log = logging.getLogger("tests.tasks")


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_failing_task_is_logged_once_and_the_others_carry_on(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet("jobs", log)
    release = asyncio.Event()

    async def broken() -> None:
        raise ValueError("the CDN sent HTML")

    async def healthy() -> str:
        await release.wait()
        return "delivered"

    survivor = tasks.spawn(healthy(), name="job-2")
    failed = tasks.spawn(broken(), name="job-1")
    await asyncio.wait({failed})
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert not survivor.done() and tasks.names() == ["job-2"]
    release.set()
    assert await survivor == "delivered"
    del failed
    gc.collect()  # a second report would come from asyncio's "exception was never retrieved"
    [record] = failures(caplog)
    assert record.name == "tests.tasks" and record.getMessage() == "jobs: task 'job-1' failed"
    assert record.exc_info is not None and "the CDN sent HTML" in str(record.exc_info[1])


async def test_a_task_its_caller_awaits_is_reported_by_the_caller_only(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet("approval notices", log)

    async def notice() -> bool:
        raise OSError("database is locked")

    task = tasks.spawn(notice(), name="approval notice telegram:42", awaited=True)
    [result] = await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert isinstance(result, OSError)
    assert failures(caplog) == []


async def test_names_are_visible_and_unique_while_running() -> None:
    tasks = TaskSet("sessions")
    gate = asyncio.Event()
    first = tasks.spawn(gate.wait(), name="session telegram:42")
    assert "session telegram:42" in {task.get_name() for task in asyncio.all_tasks()}
    assert tasks.get("session telegram:42") is first and "session telegram:42" in tasks and len(tasks) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="already runs a task named 'session telegram:42'"):
            tasks.spawn(gate.wait(), name="session telegram:42")
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]  # the refused coroutine was closed
    gate.set()
    await first
    assert tasks.get("session telegram:42") is None  # finished: the name is free again
    again = tasks.spawn(asyncio.sleep(0), name="session telegram:42")
    await again


async def test_aclose_cancels_and_waits_for_cleanup() -> None:
    tasks = TaskSet("outbox")
    cleaned: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits: aclose must wait for it
            cleaned.append(name)

    started = [tasks.spawn(worker(name), name=name) for name in ("a", "b")]
    await asyncio.sleep(0)
    assert await tasks.aclose() is False  # they had to be cancelled
    assert sorted(cleaned) == ["a", "b"] and all(task.cancelled() for task in started)
    assert len(tasks) == 0


async def test_aclose_grace_lets_quick_tasks_finish() -> None:
    tasks = TaskSet("delivery")
    finishing = asyncio.Event()

    async def last_attempt() -> str:
        await finishing.wait()
        return "sent"

    task = tasks.spawn(last_attempt(), name="outbox delivery")
    closing = asyncio.create_task(tasks.aclose(grace=60))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="delivery is stopping"):
        tasks.spawn(asyncio.sleep(0), name="late")  # would escape the close
    finishing.set()
    assert await closing is True
    assert task.result() == "sent"
    reused = tasks.spawn(asyncio.sleep(0, "again"), name="outbox delivery")  # a restarted service reuses the set
    assert await reused == "again"


async def test_aclose_does_not_hang_on_a_task_that_ignores_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet("connectors", log)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # a badly behaved SDK call swallowing the cancel

    task = tasks.spawn(stubborn(), name="connector slack")
    await asyncio.sleep(0)
    assert await tasks.aclose(unwind=0.01) is False
    assert "connectors: task 'connector slack' did not stop within 0s" in caplog.text
    release.set()
    await task


async def test_alongside_runs_while_the_block_runs_then_stops() -> None:
    ticks: list[int] = []
    stopped = asyncio.Event()

    three = asyncio.Event()

    async def typing() -> None:
        try:
            while True:
                ticks.append(len(ticks))
                if len(ticks) == 3:
                    three.set()
                await asyncio.sleep(0)
        finally:
            stopped.set()

    async with alongside(typing(), name="typing telegram:42") as task:
        await three.wait()
        assert task.get_name() in {t.get_name() for t in asyncio.all_tasks()}
    assert task.cancelled() and stopped.is_set()
    count = len(ticks)
    await asyncio.sleep(0)
    assert len(ticks) == count  # nothing runs after the block
