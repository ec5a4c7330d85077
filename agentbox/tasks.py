"""`TaskSet`: the one way agentbox runs background tasks and stops them.

Each component that keeps tasks running (the gateway's connector supervisors, the outbox,
session workers, video jobs, approval notices, retention) owns a `TaskSet`::

    self._tasks = TaskSet("jobs", log)
    self._tasks.spawn(self._watch(job_id), name=f"job-{job_id}")
    ...
    await self._tasks.aclose()          # cancel, then wait (bounded) for each task to end

What it adds to bare `asyncio.create_task`:
- a strong reference while a task runs (the event loop keeps only weak ones: an unreferenced
  fire-and-forget task can be garbage-collected mid-flight);
- names as keys: `get(name)` finds the running task, and `asyncio.all_tasks()`, logs and
  debuggers say what each task is for;
- an exception a task did not handle is logged once, with its traceback, by the owner's logger,
  instead of "Task exception was never retrieved" at garbage collection (or nothing);
- `aclose(grace=...)`: let tasks finish for `grace` seconds, cancel the rest, and wait at most
  `unwind` seconds for them to end, so one task that ignores cancellation cannot hang a shutdown.

Why not `asyncio.TaskGroup`: a TaskGroup cancels every sibling as soon as one task fails, then
raises an ExceptionGroup, and it ends only where its `async with` block ends. A gateway wants the
opposite: one broken video job or session is logged and the others carry on, and a component
stops its tasks from its own `stop()`, not from the scope that happened to start them.

`alongside(coro, name=...)` is the scoped form, for a helper task (a typing indicator) that runs
while a block runs and is cancelled, and awaited, when the block exits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

UNWIND_SECONDS = 5.0  # how long aclose() waits for cancelled tasks to end


class TaskSet:
    """Named background tasks of one component: spawn, log unhandled failures once, cancel and wait on close."""

    def __init__(self, owner: str, logger: logging.Logger | None = None) -> None:
        self.owner = owner
        self._log = logger or log
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._closing = False

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str, awaited: bool = False) -> asyncio.Task[T]:
        """Run `coro` as a task called `name`; ValueError if a task of that name still runs.

        `awaited`: the caller awaits the task and reports its failure itself, so the set does not
        log it a second time. RuntimeError while `aclose()` is under way: a task started then
        would escape it.
        """
        problem: Exception | None = None
        if self._closing:
            problem = RuntimeError(f"{self.owner} is stopping: task {name!r} not started")
        elif self.get(name) is not None:
            problem = ValueError(f"{self.owner} already runs a task named {name!r}")
        if problem is not None:
            coro.close()  # never awaited: close it so Python does not warn about it
            raise problem
        task = asyncio.create_task(coro, name=name)
        self._tasks[name] = task
        task.add_done_callback(partial(self._finished, report=not awaited))
        return task

    def get(self, name: str) -> asyncio.Task[Any] | None:
        """The running task called `name`, or None (never one that has finished)."""
        task = self._tasks.get(name)
        return task if task is not None and not task.done() else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __len__(self) -> int:
        return len(self._running())

    def names(self) -> list[str]:
        return [task.get_name() for task in self._running()]

    async def wait(self, seconds: float | None = None) -> bool:
        """Wait for the running tasks to end on their own, at most `seconds`; True if all did."""
        running = self._running()
        if not running:
            return True
        _, pending = await asyncio.wait(running, timeout=seconds)
        return not pending

    async def aclose(self, *, grace: float = 0.0, unwind: float = UNWIND_SECONDS) -> bool:
        """Let tasks finish for `grace` seconds, cancel the rest and wait up to `unwind` seconds for them.

        True if every task ended on its own (none had to be cancelled). No task can be spawned
        while this runs; afterwards the set is empty and may be used again (a restarted service).
        """
        self._closing = True
        try:
            finished = await self.wait(grace) if grace > 0 else not self._running()
            cancelled = self._running()
            for task in cancelled:
                task.cancel()
            if cancelled:
                _, stuck = await asyncio.wait(cancelled, timeout=unwind)
                for task in stuck:
                    self._log.warning("%s: task %r did not stop within %.0fs", self.owner, task.get_name(), unwind)
            return finished
        finally:
            self._closing = False

    def _running(self) -> list[asyncio.Task[Any]]:
        return [task for task in self._tasks.values() if not task.done()]

    def _finished(self, task: asyncio.Task[Any], *, report: bool) -> None:
        name = task.get_name()
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so asyncio does not report it again at garbage collection
        if exc is not None and report:
            self._log.error("%s: task %r failed", self.owner, name, exc_info=exc)


@asynccontextmanager
async def alongside(
    coro: Coroutine[Any, Any, Any], *, name: str, logger: logging.Logger | None = None
) -> AsyncIterator[asyncio.Task[Any]]:
    """Run `coro` as a task while the block runs; on exit cancel it and wait for it to end."""
    tasks = TaskSet("alongside", logger)
    task = tasks.spawn(coro, name=name)
    try:
        yield task
    finally:
        await tasks.aclose()
