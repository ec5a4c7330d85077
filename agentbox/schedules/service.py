"""The gateway's scheduler: one timer for the next due run, claims, catch-up after downtime, and its HTTP actions.

No polling: the timer sleeps until the earliest `next_run_at` (re-checked at least every
`MAX_SLEEP` seconds, so a suspended laptop or a changed clock cannot delay a run by more), and
with no active schedule it does not wake at all. `changed()` — called by the tools in this process,
and by `POST /schedules/wake`, which the CLI calls after each change — re-reads the table at once;
so does the end of each delivery (a run in flight is not waited for, and its end brings the
schedule's next run back into view).

Each due run is claimed in one statement (`ScheduleRepo.claim`) and handed to `Firing` in its own
task, so a long task turn never delays another schedule. After downtime, a schedule whose runs fell
due while the gateway was down delivers its latest run if it is at most `[schedules] catch_up`
old, marked late (with the number of earlier runs missed), and otherwise one report of what was
missed; runs are never replayed in a burst. On start, runs claimed but not delivered by the last
process (a crash, kill -9) are delivered first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentbox.config import Config
from agentbox.messages import Address, Outbound
from agentbox.retry import Backoff
from agentbox.schedules.describe import as_json, rule_of
from agentbox.schedules.firing import Clock, Deliver, Firing, Outcome
from agentbox.schedules.timing import MAX_WALK, ScheduleError, zone
from agentbox.store import Store
from agentbox.store.schedules import Schedule
from agentbox.tasks import TaskSet
from agentbox.turn.runner import TurnRunner

if TYPE_CHECKING:
    from agentbox.gateway.control import Authenticator, Route
    from agentbox.gateway.lifecycle import Gateway

log = logging.getLogger(__name__)

MAX_SLEEP = 300.0  # the timer re-reads the table at least this often while something is scheduled
STUCK_PAUSE = 1.0  # a due schedule that could not be claimed is looked at again after this
_TIMER = "timer"
FIRE_ATTEMPTS = 5  # tries to deliver one claimed run in this process (a failing store, a bug)
FIRE_RETRY_INITIAL, FIRE_RETRY_MAX = 2.0, 60.0


class Scheduler:
    """Fires schedules on time, exactly once, in the gateway (a `Service` with HTTP actions, a `WebFeature`).

    `start()` delivers runs the last process claimed and did not finish, then runs the timer;
    `stop()` lets deliveries in flight finish for `grace` seconds (what is cut short stays claimed
    and is delivered on the next start). `clock` (epoch seconds) is injectable for tests, which
    drive `run_due()` directly.
    """

    name = "schedules"

    def __init__(
        self,
        store: Store,
        config: Config,
        runner: TurnRunner,
        deliver: Deliver,
        *,
        clock: Clock = time.time,
        grace: float = 10.0,
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._firing = Firing(store, config, runner, deliver, clock)
        self._tasks = TaskSet("schedules", log)
        self._wake = asyncio.Event()
        self._stopping = False
        self.grace = grace
        self.next_wake: float | None = None  # when the timer is set for (None: asleep until a change)
        self.passes = 0  # how often the table was read for due runs

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        if interrupted := await self._store.schedules.claimed():
            log.warning(
                "schedules: %d run(s) the last run claimed were not delivered; delivering them now", len(interrupted)
            )
        for schedule in interrupted:  # one gateway per home (homelock): no other process is delivering them
            self._spawn(schedule.id)
        self._tasks.spawn(self._timer(), name=_TIMER)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await self._tasks.aclose(grace=self.grace)

    async def changed(self) -> bool:
        """Schedules changed (added, paused, resumed, cancelled): re-read them now."""
        self._wake.set()
        return True

    async def wait_idle(self) -> None:
        """Wait until no run is being delivered (for tests)."""
        while running := self._delivering():
            await asyncio.wait(running)

    def _delivering(self) -> list[asyncio.Task[Any]]:
        """The runs being delivered now (each its own task)."""
        return [task for name in self._tasks.names() if name != _TIMER and (task := self._tasks.get(name))]

    # -- the timer -------------------------------------------------------------------------
    async def _timer(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                due_at, claimed = await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken pass must not stop the timer; nothing is half-claimed
                log.exception("schedules: reading due runs failed; trying again in %.0f s", MAX_SLEEP)
                due_at, claimed = self._clock() + MAX_SLEEP, 0
            delay = self._delay(due_at, claimed)
            self.next_wake = None if delay is None else self._clock() + delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _delay(self, due_at: float | None, claimed: int) -> float | None:
        if due_at is None:
            # A run in flight is left out of `due_at`; its end wakes the timer (`_fire`), this is a safety net.
            return MAX_SLEEP if self._delivering() else None  # else nothing scheduled: sleep until a change
        delay = due_at - self._clock()
        if delay <= 0 and not claimed:
            return STUCK_PAUSE  # due but not claimable (claimed elsewhere, just changed): no busy loop
        return min(max(0.0, delay), MAX_SLEEP)

    async def run_due(self) -> tuple[float | None, int]:
        """Claim and start every run due now; (when the next one is due, how many were claimed)."""
        self.passes += 1
        now = self._clock()
        claimed = 0
        for schedule in await self._store.schedules.due(now):
            try:
                claimed += await self._claim(schedule, now)
            except Exception as exc:  # e.g. a timezone this machine no longer knows: park it, tell the log
                log.error("schedule #%d cannot be computed (%s); pausing it", schedule.id, exc)
                await self._store.schedules.set_status(schedule.id, "paused")
        return await self._store.schedules.next_due_at(), claimed

    async def _claim(self, schedule: Schedule, now: float) -> bool:
        """Claim the latest run due by `now` (earlier ones count as missed) and move the schedule on."""
        assert schedule.next_run_at is not None
        tz, rule = zone(schedule.timezone), rule_of(schedule)
        end = schedule.until_at
        latest, missed = schedule.next_run_at, 0
        upcoming = rule.next_after(latest, tz)
        while upcoming is not None and upcoming <= now and (end is None or upcoming <= end) and missed < MAX_WALK:
            latest, upcoming, missed = upcoming, rule.next_after(upcoming, tz), missed + 1
        if upcoming is not None and upcoming <= now:
            upcoming = rule.next_after(now, tz)  # more missed runs than worth counting: skip to the future
        if upcoming is not None and end is not None and upcoming > end:
            upcoming = None
        kind = "due" if now - latest <= self._config.schedules.catch_up else "missed"
        won = await self._store.schedules.claim(
            schedule.id, expected=schedule.next_run_at, due=latest, kind=kind, missed=missed, next_run=upcoming
        )
        if won:
            self._spawn(schedule.id)
        return won

    def _spawn(self, schedule_id: int) -> None:
        name = f"schedule {schedule_id}"
        if self._stopping or name in self._tasks:
            return  # stopping: it stays claimed for the next start
        self._tasks.spawn(self._fire(schedule_id), name=name)

    async def _fire(self, schedule_id: int) -> None:
        """Deliver a claimed run; a failure (the store, a bug) is retried with backoff, then left for the next start."""
        try:
            await self._fire_with_retries(schedule_id)
        finally:
            # The claim is cleared (or given up): a repeating schedule's next run counts again, so re-read
            # the table; without this, a lone repeating schedule would fire once and the timer sleep for good.
            self._wake.set()

    async def _fire_with_retries(self, schedule_id: int) -> None:
        backoff = Backoff(FIRE_RETRY_INITIAL, FIRE_RETRY_MAX)
        for attempt in range(1, FIRE_ATTEMPTS + 1):
            try:
                await self._firing.fire(schedule_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                last = attempt == FIRE_ATTEMPTS
                log.exception(
                    "schedule #%d: delivering its run failed (attempt %d)%s",
                    schedule_id,
                    attempt,
                    "; it stays claimed and is delivered on the next start" if last else "",
                )
                if not last:
                    await asyncio.sleep(backoff.next())

    # -- actions ---------------------------------------------------------------------------
    async def run_now(self, schedule_id: int) -> Schedule:
        """`agentbox cron run ID`: an extra run now, delivered like any other."""
        if not await self._store.schedules.claim_now(schedule_id, self._clock()):
            schedule = await self._store.schedules.get(schedule_id)
            if schedule is None or schedule.status not in ("active", "paused"):
                raise ScheduleError(f"no active or paused schedule #{schedule_id}")
            raise ScheduleError(f"schedule #{schedule_id} is being delivered right now; try again in a moment")
        self._spawn(schedule_id)
        schedule = await self._store.schedules.get(schedule_id)
        assert schedule is not None
        return schedule

    def routes(self) -> Sequence[Route]:
        from agentbox.gateway.control import Route

        return [
            Route("POST", "/schedules/wake", self._wake_route),
            Route("POST", "/schedules/{id}/run", self._run_route),
        ]

    def authenticators(self) -> Sequence[Authenticator]:
        return []

    async def _wake_route(self, _: Any) -> Any:
        from aiohttp import web

        return web.json_response({"ok": await self.changed()})

    async def _run_route(self, request: Any) -> Any:
        from aiohttp import web

        try:
            schedule = await self.run_now(int(request.match_info["id"]))
        except ValueError as exc:  # ScheduleError is one; so is an id that is not a number
            return web.json_response({"ok": False, "error": str(exc)})  # 200: the CLI shows the reason
        return web.json_response({"ok": True, "schedule": as_json(schedule)})


def gateway_service(gateway: Gateway) -> Scheduler:
    """`GATEWAY_SERVICES` factory: a Scheduler delivering through the gateway's outbox, turns on its runner."""

    async def deliver(address: Address, outbound: Outbound, session_key: str, tag: str) -> Outcome:
        if address.channel not in gateway.slots:
            log.error(
                "schedule run for %s chat %s: the %s connector is not enabled",
                address.channel,
                address.chat_id,
                address.channel,
            )
            return "rejected"
        return await gateway.delivery.send(address, outbound, session_key=session_key, message_id=tag)

    scheduler = Scheduler(
        gateway.store, gateway.config, gateway.runner, deliver, grace=min(gateway.config.gateway.grace_period, 10.0)
    )
    gateway.runner.schedules = scheduler  # tools find it as ctx.deps.schedules
    return scheduler
