"""One claimed run, delivered: a reminder's text as is, a task's answer after a turn, or a missed-run report.

`Firing.fire(id)` finds the schedule's claim and ends by clearing it (`ScheduleRepo.finish`), after
the platform took the message or the gateway's outbox holds it. Steps that must not repeat after a
crash are recorded first: a queued delivery is found in the outbox by its tag (so it is not
queued twice), and a task's finished turn is recorded on the claim (its reply is re-sent, the
model not asked again). The one window left is the outbox's own: the platform took the message
and the process died before SQLite heard of it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from agentbox.config import Config
from agentbox.gateway.replies import attachments_from_paths
from agentbox.messages import Address, Attachment, Mention, Outbound
from agentbox.schedules.describe import late_mark, moment
from agentbox.store import Store, TurnRecord
from agentbox.store.schedules import Schedule
from agentbox.turn.runner import TurnRequest, TurnRunner

log = logging.getLogger(__name__)

Outcome = Literal["sent", "queued", "rejected"]
Deliver = Callable[[Address, Outbound, str, str], Awaitable[Outcome]]
"""(address, outbound, session key, tag) → how it went; the tag names the run in the outbox."""
Clock = Callable[[], float]
LATE_AFTER = 60.0  # seconds after its due time a run is delivered "(late: due ...)"


def run_tag(schedule_id: int, due: float) -> str:
    """The run's name in the outbox (`message_id`): finds a delivery queued before a crash."""
    return f"schedule-{schedule_id}@{due:.3f}"


class Firing:
    """Delivers claimed runs: reminders without a model call, tasks as a turn in the schedule's session."""

    def __init__(self, store: Store, config: Config, runner: TurnRunner, deliver: Deliver, clock: Clock) -> None:
        self._store = store
        self._config = config
        self._runner = runner
        self._deliver = deliver
        self._clock = clock

    async def fire(self, schedule_id: int) -> None:
        """Deliver the claimed run of `schedule_id` (nothing if it has none) and clear the claim."""
        schedule = await self._store.schedules.get(schedule_id)
        if schedule is None or schedule.claim_due_at is None:
            return
        due = schedule.claim_due_at
        if schedule.address is not None and await self._store.outbox.has_message(run_tag(schedule.id, due)):
            await self._finish(schedule, "queued before a restart; the outbox delivers it", ok=True)
            return
        if schedule.status == "cancelled":
            await self._finish(schedule, "cancelled before delivery", ok=True)
            return
        kind = schedule.claim_kind
        if kind == "due" and self._clock() - due > self._config.schedules.catch_up:
            kind = "missed"  # claimed, then the gateway was down for longer than catch_up
        if kind == "missed":
            await self._report_missed(schedule)
        elif schedule.kind == "reminder":
            await self._remind(schedule)
        else:
            await self._run_task(schedule)

    # -- the three kinds of run ------------------------------------------------------------
    async def _remind(self, schedule: Schedule) -> None:
        outcome = await self._send(schedule, schedule.message + self._late(schedule))
        if outcome != "rejected":
            await self._remember(schedule, schedule.message)
        await self._finish(schedule, f"reminder {outcome}", ok=outcome != "rejected")

    async def _run_task(self, schedule: Schedule) -> None:
        assert schedule.claim_due_at is not None
        stored = await self._stored_answer(schedule)
        if stored is not None:
            reply, ok, attachments = stored
        else:
            result = await self._runner.run(self._task_request(schedule))
            if result.turn_id:
                await self._store.schedules.set_claim_turn(schedule.id, schedule.claim_due_at, result.turn_id)
            reply, ok, attachments = result.reply, result.ok, tuple(result.attachments)
        limit = self._config.schedules.pause_after_failures
        pausing = not ok and schedule.status == "active" and schedule.failures + 1 >= limit
        if not ok:
            reply = f"Scheduled task #{schedule.id} could not run: {reply}"
            if pausing:
                reply += (
                    f"\nIt failed {limit} times in a row, so I paused it. "
                    f"/cancel {schedule.id} removes it; the owner resumes it with `agentbox cron resume {schedule.id}`."
                )
        text = reply + self._late(schedule)
        outcome = await self._send(schedule, text, attachments) if schedule.address else "recorded"
        await self._finish(schedule, f"task {'ok' if ok else 'failed'}, {outcome}", ok=ok)

    async def _report_missed(self, schedule: Schedule) -> None:
        """Older than catch_up: one message saying what was missed, never a burst of late runs."""
        assert schedule.claim_due_at is not None
        now = self._clock()
        count = schedule.claim_missed + 1
        what = "your reminder" if schedule.kind == "reminder" else "the scheduled task"
        more = f" (and {count - 1} earlier run{'s' if count > 2 else ''})" if count > 1 else ""
        text = (
            f"While I was offline I missed {what} #{schedule.id}, due {moment(schedule.claim_due_at, schedule.timezone, now=now)}"
            f"{more}: “{schedule.message}”."
        )
        if schedule.kind == "task":
            text += " It did not run."
        if schedule.next_run_at is not None and schedule.status == "active":
            text += f" Next run: {moment(schedule.next_run_at, schedule.timezone, now=now)}."
        outcome = await self._send(schedule, text) if schedule.address else "recorded"
        if schedule.address is None:
            await self._remember(schedule, text)
        log.warning("schedule #%d: %d run(s) missed while the gateway was down; reported", schedule.id, count)
        await self._finish(schedule, f"missed {count}, reported ({outcome})", ok=True)

    # -- helpers ---------------------------------------------------------------------------
    def _late(self, schedule: Schedule) -> str:
        """The late mark (and earlier runs missed) to put under the text; "" for a run on time."""
        assert schedule.claim_due_at is not None
        if schedule.claim_kind == "manual":
            return ""
        now = self._clock()
        late = now - schedule.claim_due_at > LATE_AFTER
        mark = late_mark(schedule.claim_due_at, schedule.timezone, now=now, late=late, missed=schedule.claim_missed)
        return "\n" + mark if mark else ""

    async def _send(self, schedule: Schedule, text: str, attachments: tuple[Attachment, ...] = ()) -> str:
        address = schedule.address
        if address is None:
            return "recorded"
        assert schedule.claim_due_at is not None
        mention = (
            Mention(schedule.sender_id, schedule.sender_name) if schedule.in_group and schedule.sender_id else None
        )
        outcome = await self._deliver(
            address,
            Outbound(text, attachments, mention),
            schedule.session_key,
            run_tag(schedule.id, schedule.claim_due_at),
        )
        log.info(
            "schedule #%d (%s) %s to %s chat %s (due %s)",
            schedule.id,
            schedule.kind,
            outcome,
            address.channel,
            address.chat_id,
            moment(schedule.claim_due_at, schedule.timezone),
        )
        return outcome

    def _task_request(self, schedule: Schedule) -> TurnRequest:
        assert schedule.claim_due_at is not None
        asker = schedule.sender_name or ("the person" if schedule.sender_id else "the owner")
        preface = (
            f"[Scheduled task #{schedule.id}, set earlier by {asker}, due "
            f"{moment(schedule.claim_due_at, schedule.timezone)}. Do it now and reply with the result for them.]"
        )
        return TurnRequest(
            session_key=schedule.session_key,
            text=f"{preface}\n{schedule.message}",
            agent_id=schedule.agent,
            sender_id=schedule.sender_id or None,
            address=schedule.address,
            sender_name=schedule.sender_name,
        )

    async def _stored_answer(self, schedule: Schedule) -> tuple[str, bool, tuple[Attachment, ...]] | None:
        """The answer of a task turn that finished before a crash, with its media (sent again, not asked again)."""
        if schedule.claim_turn_id is None:
            return None
        stored = await self._store.inbox.stored_reply(schedule.claim_turn_id)
        if stored is None:
            return None
        return stored.reply, stored.status == "ok", attachments_from_paths(stored.attachments)

    async def _remember(self, schedule: Schedule, text: str) -> None:
        """Put a delivered reminder in the session's history, so a reply to it ("done!") makes sense to the model."""
        from pydantic_ai.messages import ModelResponse, TextPart

        from agentbox.turn.history import dump_messages

        sessions = self._store.sessions
        await sessions.ensure(
            schedule.session_key,
            channel=schedule.channel,
            chat_id=schedule.chat_id,
            thread_id=schedule.thread_id,
            agent=schedule.agent,
        )
        now = self._clock()
        await sessions.add_turn(
            TurnRecord(
                session_key=schedule.session_key,
                model="reminder",
                status="ok",
                reply=text,
                sender_id=schedule.sender_id or None,
                messages=await dump_messages(self._store, [ModelResponse(parts=[TextPart(text)])]),
                started_at=now,
                finished_at=now,
            )
        )

    async def _finish(self, schedule: Schedule, result: str, *, ok: bool) -> None:
        assert schedule.claim_due_at is not None
        limit = self._config.schedules.pause_after_failures
        after = await self._store.schedules.finish(
            schedule.id, schedule.claim_due_at, result=result, ok=ok, pause_after=limit
        )
        if after is not None and after.status == "paused" and schedule.status == "active":
            log.warning("schedule #%d paused after %d failed runs in a row (last: %s)", schedule.id, limit, result)
