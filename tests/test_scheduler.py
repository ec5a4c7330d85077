"""The scheduler on an injected clock and a real SQLite store: exactly once, catch-up, DST, limits, failures."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.function import AgentInfo

from agentbox.messages import Address, Outbound
from agentbox.schedules import book
from agentbox.schedules.book import Target, Wanted
from agentbox.schedules.firing import Outcome
from agentbox.schedules.service import MAX_SLEEP, Scheduler
from agentbox.schedules.timing import ScheduleError
from agentbox.store import Store
from agentbox.store.outbox import NewEntry
from tests.fakes.aimlapi import TINY_PNG, FakeAimlapi, Reply, ToolCall
from tests.gatewaykit import wait_until
from tests.helpers import runtime_on
from tests.modelkit import FunctionModels, conversation, last_prompt, reply

PARIS = ZoneInfo("Europe/Paris")
ALICE = Target("telegram", "835750362", "telegram:dm:835750362", sender_id="835750362", sender_name="Alice")
GROUP = Target(
    "telegram", "-100777", "telegram:group:-100777", sender_id="835750362", sender_name="Alice", in_group=True
)
BOB = Target("telegram", "4242", "telegram:dm:4242", sender_id="4242", sender_name="Bob")


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=PARIS).timestamp()


class Clock:
    """The scheduler's clock, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Delivered:
    address: Address
    outbound: Outbound
    session_key: str
    tag: str
    at: float


@dataclass
class Platform:
    """Stands in for the gateway's delivery: records each message with the clock time it went out."""

    clock: Clock
    sent: list[Delivered] = field(default_factory=list)
    outcome: Outcome = "sent"
    hold: asyncio.Event | None = None  # set: every send waits for it (a send in flight)

    async def __call__(self, address: Address, outbound: Outbound, session_key: str, tag: str) -> Outcome:
        if self.hold is not None:
            await self.hold.wait()
        self.sent.append(Delivered(address, outbound, session_key, tag, self.clock()))
        return self.outcome

    def texts(self) -> list[str]:
        return [item.outbound.text for item in self.sent]


@pytest.fixture
async def rt(fake_aimlapi: Any, home: Path) -> AsyncIterator[Any]:
    async with runtime_on(fake_aimlapi, home, "[schedules]\ncatch_up = 3600\n") as runtime:
        yield runtime


async def add(rt: Any, target: Target, when: str, message: str, now: float, **kwargs: Any) -> Any:
    kind = kwargs.pop("kind", "reminder")
    created_by = kwargs.pop("created_by", "chat")
    return await book.create(
        rt.store, rt.config, target, Wanted(kind, message, when, **kwargs), created_by=created_by, now=now
    )


async def settled(scheduler: Scheduler) -> None:
    """The started scheduler's first pass has run and what it started is delivered."""
    await wait_until(lambda: scheduler.passes > 0)
    await scheduler.wait_idle()


async def fire_at(scheduler: Scheduler, clock: Clock, when: float) -> None:
    clock.now = when
    await scheduler.run_due()
    await scheduler.wait_idle()


async def die_while_sending(scheduler: Scheduler, clock: Clock, when: float) -> None:
    """Claim the run due at `when` and stop while it is being sent: it stays claimed, as after kill -9."""
    clock.now = when
    await scheduler.run_due()
    await asyncio.sleep(0)
    await scheduler.stop()


async def test_a_due_reminder_is_claimed_once_however_many_schedulers_race(rt: Any, home: Path) -> None:
    clock = Clock(paris(2026, 12, 1, 8))
    created = await add(rt, ALICE, "09:00", "Call the bank", clock.now, timezone="Europe/Paris")
    platform = Platform(clock)
    others = [await Store.open(home / "agentbox.db") for _ in range(3)]  # other processes' connections
    schedulers = [Scheduler(store, rt.config, rt.runner, platform, clock=clock) for store in [rt.store, *others]]
    clock.now = created.next_run_at
    try:
        await asyncio.gather(*(scheduler.run_due() for scheduler in schedulers for _ in range(3)))
        for scheduler in schedulers:
            await scheduler.wait_idle()
    finally:
        for store in others:
            await store.close()
    assert platform.texts() == ["Call the bank"]  # as is: no model call, no prefix
    assert platform.sent[0].address == Address("telegram", "835750362")
    assert platform.sent[0].outbound.mention is None  # a direct chat needs no mention
    done = await rt.store.schedules.get(created.id)
    assert (done.status, done.runs, done.claim_due_at, done.next_run_at) == ("done", 1, None, None)


@pytest.mark.parametrize("when", ["0 9 * * *", "09:00"])
async def test_a_daily_nine_oclock_paris_reminder_fires_at_nine_local_across_the_dst_change(rt: Any, when: str) -> None:
    clock = Clock(paris(2026, 3, 27, 12))
    repeat = None if " " in when else "daily"
    created = await add(rt, ALICE, when, "Stand-up", clock.now, timezone="Europe/Paris", repeat=repeat)
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    for _ in range(4):  # 28, 29 (the change), 30, 31 March
        schedule = await rt.store.schedules.get(created.id)
        await fire_at(scheduler, clock, schedule.next_run_at)
    await scheduler.stop()
    local = [dt.datetime.fromtimestamp(item.at, PARIS) for item in platform.sent]
    assert [(d.day, d.hour, d.minute) for d in local] == [(28, 9, 0), (29, 9, 0), (30, 9, 0), (31, 9, 0)]
    assert [d.astimezone(dt.UTC).hour for d in local] == [8, 7, 7, 7]
    assert platform.texts() == ["Stand-up"] * 4  # on time: no late mark


async def test_a_group_reminder_mentions_who_asked_and_goes_to_the_same_thread(rt: Any) -> None:
    clock = Clock(paris(2026, 12, 1, 8))
    topic = replace(GROUP, thread_id="77", session_key="telegram:group:-100777:thread:77")
    created = await add(rt, topic, "30m", "Deploy window opens", clock.now)
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await fire_at(scheduler, clock, created.next_run_at)
    [sent] = platform.sent
    assert sent.address == Address("telegram", "-100777", "77")
    assert sent.outbound.mention is not None and sent.outbound.mention.user_id == "835750362"
    assert sent.outbound.mention.name == "Alice" and sent.session_key == "telegram:group:-100777:thread:77"


async def test_a_run_a_crash_interrupted_is_delivered_once_on_the_next_start(rt: Any) -> None:
    clock = Clock(paris(2026, 12, 1, 8))
    created = await add(rt, ALICE, "5m", "Stretch", clock.now)
    stuck = Platform(clock, hold=asyncio.Event())  # the platform never answers: the process dies mid-send
    first = Scheduler(rt.store, rt.config, rt.runner, stuck, clock=clock, grace=0)
    clock.now = created.next_run_at + 1
    await first.run_due()
    await asyncio.sleep(0)
    await first.stop()  # like kill -9: the claim stays, nothing was delivered
    assert stuck.sent == [] and (await rt.store.schedules.get(created.id)).claim_due_at == created.next_run_at
    clock.now += 20  # restarted 20 s later
    platform = Platform(clock)
    second = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await second.start()
    await settled(second)
    await second.stop()
    assert platform.texts() == ["Stretch"]  # once, and 21 s late is not "late"
    assert (await rt.store.schedules.get(created.id)).claim_due_at is None


async def test_a_reply_queued_in_the_outbox_before_a_crash_is_not_queued_again(rt: Any) -> None:
    clock = Clock(paris(2026, 12, 1, 8))
    created = await add(rt, ALICE, "5m", "Stretch", clock.now)

    queued = asyncio.Event()

    async def queue_then_die(address: Address, outbound: Outbound, session_key: str, tag: str) -> Outcome:
        await rt.store.outbox.add(NewEntry(address, outbound, session_key=session_key, message_id=tag))
        queued.set()
        await asyncio.Event().wait()  # the process dies before the claim is cleared
        raise AssertionError("unreachable")

    first = Scheduler(rt.store, rt.config, rt.runner, queue_then_die, clock=clock, grace=0)
    clock.now = created.next_run_at
    await first.run_due()
    await queued.wait()
    await first.stop()
    platform = Platform(clock)
    second = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await second.start()
    await settled(second)
    await second.stop()
    assert platform.sent == []  # the outbox delivers the queued one; nothing is sent twice
    assert [entry.outbound.text for entry in await rt.store.outbox.waiting()] == ["Stretch"]
    assert (await rt.store.schedules.get(created.id)).claim_due_at is None


async def test_runs_missed_while_down_come_once_late_marked_within_catch_up_and_reported_beyond(rt: Any) -> None:
    clock = Clock(paris(2026, 12, 1, 8))
    await add(rt, ALICE, "09:00", "Call the bank", clock.now, timezone="Europe/Paris")
    daily = await add(rt, ALICE, "09:00", "Vitamins", clock.now, timezone="Europe/Paris", repeat="daily")
    plants = await add(rt, BOB, "08:30", "Water the plants", clock.now, timezone="Europe/Paris")
    every = await add(rt, BOB, "08:10", "Drink water", clock.now, timezone="Europe/Paris", repeat="10m")
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await fire_at(scheduler, clock, paris(2026, 12, 1, 9, 45))  # the gateway was down from 08:00 to 09:45
    assert sorted(platform.texts()) == [
        "Call the bank\n(late: due 09:00)",
        "Drink water\n(late: due 09:40; 9 earlier runs missed while I was offline)",
        "Vitamins\n(late: due 09:00)",
        f"While I was offline I missed your reminder #{plants.id}, due Tue 1 Dec at 08:30 Europe/Paris: “Water the plants”.",
    ]
    assert (await rt.store.schedules.get(every.id)).next_run_at == paris(2026, 12, 1, 9, 50)
    platform.sent.clear()
    await fire_at(scheduler, clock, paris(2026, 12, 3, 14, 5))  # down again, for two days
    alice, bob = sorted(platform.sent, key=lambda item: item.address.chat_id != ALICE.chat_id)
    assert len(platform.sent) == 2  # one message each for the whole outage, no burst
    assert alice.outbound.text == (
        f"While I was offline I missed your reminder #{daily.id}, due Thu 3 Dec at 09:00 Europe/Paris (and 1 earlier run): "
        "“Vitamins”. Next run: Fri 4 Dec at 09:00 Europe/Paris."
    )
    assert bob.outbound.text == "Drink water\n(late: due 14:00; 313 earlier runs missed while I was offline)"


async def test_with_nothing_scheduled_the_timer_never_wakes(rt: Any) -> None:
    clock = Clock(paris(2026, 12, 1, 8))
    scheduler = Scheduler(rt.store, rt.config, rt.runner, Platform(clock), clock=clock)
    await scheduler.start()
    await wait_until(lambda: scheduler.passes > 0)
    for _ in range(20):
        await asyncio.sleep(0)
    assert scheduler.passes == 1 and scheduler.next_wake is None  # asleep until something changes
    created = await add(rt, ALICE, "3h", "Later", clock.now)
    assert await scheduler.changed()
    await wait_until(lambda: scheduler.passes == 2)
    assert scheduler.next_wake == pytest.approx(clock.now + MAX_SLEEP)  # far off: re-checked every 5 min only
    assert created.next_run_at > scheduler.next_wake
    await scheduler.stop()
    assert scheduler.passes == 2


async def test_a_repeating_schedule_keeps_firing_on_the_live_timer(rt: Any) -> None:
    rt.config.schedules.min_repeat_interval = 1
    clock = Clock(paris(2026, 12, 1, 8))
    created = await add(rt, ALICE, "1s", "Tick", clock.now, repeat="1s")
    sent: list[str] = []

    async def second_passes_per_send(address: Address, outbound: Outbound, session_key: str, tag: str) -> Outcome:
        sent.append(outbound.text)
        if len(sent) < 3:
            clock.now += 1  # the next run is due once this one is out; after the third, time stands still
        return "sent"

    clock.now = created.next_run_at
    scheduler = Scheduler(rt.store, rt.config, rt.runner, second_passes_per_send, clock=clock)
    await scheduler.start()
    try:
        await wait_until(lambda: len(sent) == 3)  # only the live timer fires them: nothing calls run_due here
        await scheduler.wait_idle()
        after = await rt.store.schedules.get(created.id)
        await wait_until(lambda: scheduler.next_wake == pytest.approx(after.next_run_at))  # set for the fourth
    finally:
        await scheduler.stop()
    assert sent == ["Tick"] * 3
    assert (after.status, after.runs, after.claim_due_at, after.next_run_at) == ("active", 3, None, clock.now + 1)


async def test_a_repeating_run_recovered_at_start_leaves_the_timer_set_for_the_next(rt: Any) -> None:
    rt.config.schedules.min_repeat_interval = 1
    clock = Clock(paris(2026, 12, 1, 8))
    created = await add(rt, ALICE, "08:30", "Vitamins", clock.now, timezone="Europe/Paris", repeat="1m")
    first = Scheduler(rt.store, rt.config, rt.runner, Platform(clock, hold=asyncio.Event()), clock=clock, grace=0)
    await die_while_sending(first, clock, created.next_run_at)  # the process dies mid-send
    platform = Platform(clock)
    second = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await second.start()
    try:
        await settled(second)
        await wait_until(lambda: second.next_wake == pytest.approx(paris(2026, 12, 1, 8, 31)))  # the next run
    finally:
        await second.stop()
    assert platform.texts() == ["Vitamins"]


async def test_limits_per_sender_and_on_how_often_something_repeats(rt: Any) -> None:
    now = paris(2026, 12, 1, 8)
    for number in range(20):
        await add(rt, ALICE, f"{number + 1}h", f"reminder {number}", now)
    with pytest.raises(ScheduleError, match="you already have 20 schedules"):
        await add(rt, ALICE, "30h", "one too many", now)
    await add(rt, BOB, "1h", "Bob is not limited by Alice's", now)
    await add(rt, ALICE, "1h", "the owner is not limited", now, created_by="cli")
    with pytest.raises(ScheduleError, match="repeat every 60 s; the shortest interval allowed is 300 s"):
        await add(rt, BOB, "09:00", "spam", now, repeat="1m")
    with pytest.raises(ScheduleError, match="repeat every 120 s"):
        await add(rt, BOB, "*/2 * * * *", "spam", now)


async def test_the_person_timezone_wins_over_the_agent_s(rt: Any) -> None:
    now = paris(2026, 12, 1, 8)
    await rt.store.schedules.set_timezone("telegram", ALICE.sender_id, "Asia/Tokyo")
    mine = await add(rt, ALICE, "2026-12-02T09:00", "Tokyo morning", now)
    bobs = await add(rt, BOB, "2026-12-02T09:00", "machine morning", now)
    assert mine.timezone == "Asia/Tokyo"
    assert mine.next_run_at == dt.datetime(2026, 12, 2, 9, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    assert bobs.timezone != "Asia/Tokyo"


async def test_in_a_shared_group_each_person_sees_and_cancels_only_their_own(rt: Any) -> None:
    now = paris(2026, 12, 1, 8)
    bob_in_group = Target(
        "telegram", "-100777", "telegram:group:-100777", sender_id="4242", sender_name="Bob", in_group=True
    )
    hers = await add(rt, GROUP, "2h", "Alice's group reminder", now)
    his = await add(rt, bob_in_group, "3h", "Bob's group reminder", now)
    group_itself = Target("telegram", "-100777", "telegram:group:-100777", in_group=True)  # `cron add --to` makes it
    owners = await add(rt, group_itself, "4h", "the owner's, for the whole group", now, created_by="cli")
    assert [s.id for s in await book.visible(rt.store, bob_in_group)] == [his.id]
    assert hers.id in [s.id for s in await book.visible(rt.store, GROUP)]
    assert his.id not in [s.id for s in await book.visible(rt.store, GROUP)]
    for theirs in (hers.id, owners.id):
        with pytest.raises(ScheduleError, match=f"you have no active schedule #{theirs}"):
            await book.mine(rt.store, bob_in_group, theirs)
    with pytest.raises(ScheduleError, match=f"you have no active schedule #{his.id}"):
        await book.mine(rt.store, GROUP, his.id)
    assert (await book.mine(rt.store, bob_in_group, his.id)).message == "Bob's group reminder"


async def test_in_a_group_a_person_sees_only_the_schedules_of_that_group_not_their_private_ones(rt: Any) -> None:
    now = paris(2026, 12, 1, 8)
    private = await add(rt, ALICE, "2h", "take my medication", now)  # asked for in her DM
    in_group = await add(rt, GROUP, "3h", "stand-up notes", now)
    assert [s.id for s in await book.visible(rt.store, GROUP)] == [in_group.id]  # /reminders posts to the group
    with pytest.raises(ScheduleError, match=f"you have no active schedule #{private.id}"):
        await book.mine(rt.store, GROUP, private.id)
    assert {s.id for s in await book.visible(rt.store, ALICE)} == {private.id, in_group.id}  # her DM: all of hers


def _task_model(answers: list[str]) -> FunctionModels:
    """A model that answers each task turn with the next text (and records what it was asked)."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        respond.asked.append(last_prompt(messages))  # type: ignore[attr-defined]
        respond.seen.append(conversation(messages))  # type: ignore[attr-defined]
        return reply(answers.pop(0))

    respond.asked = []  # type: ignore[attr-defined]
    respond.seen = []  # type: ignore[attr-defined]
    return FunctionModels(respond)


async def test_a_task_runs_a_turn_in_its_session_and_its_answer_is_delivered(rt: Any) -> None:
    models = _task_model(["Sunny, 21°C in Paris."])
    rt.runner.models = models
    clock = Clock(paris(2026, 12, 1, 7))
    created = await add(rt, GROUP, "0 8 * * 1-5", "Tell me the weather in Paris", clock.now, kind="task")
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await fire_at(scheduler, clock, created.next_run_at)
    assert platform.texts() == ["Sunny, 21°C in Paris."]
    assert platform.sent[0].outbound.mention is not None  # the group: who asked is pinged
    [asked] = models.function.asked  # type: ignore[attr-defined]
    assert asked.startswith(f"[Scheduled task #{created.id}, set earlier by Alice") and asked.endswith(
        "weather in Paris"
    )
    transcript = await rt.store.sessions.transcript("telegram:group:-100777")
    assert [turn["reply"] for turn in transcript] == ["Sunny, 21°C in Paris."]


def _draws_a_sunrise(fake_aimlapi: FakeAimlapi) -> None:
    """The task's turn: the model calls the image tool (the fake's image endpoint), then answers."""
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a sunrise"})]), Reply(text="Your sunrise.")
    )


def _the_sunrise(sent: Delivered) -> None:
    assert sent.outbound.text == "Your sunrise."
    [image] = sent.outbound.attachments
    assert image.kind == "image" and image.path is not None and Path(image.path).read_bytes() == TINY_PNG


async def test_a_task_answer_keeps_its_attachments(rt: Any, fake_aimlapi: FakeAimlapi) -> None:
    _draws_a_sunrise(fake_aimlapi)
    clock = Clock(paris(2026, 12, 1, 7))
    created = await add(rt, ALICE, "10m", "Draw me a sunrise", clock.now, kind="task")
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await fire_at(scheduler, clock, created.next_run_at)
    [sent] = platform.sent
    _the_sunrise(sent)


async def test_a_task_answered_before_a_crash_is_sent_without_a_new_model_call(
    rt: Any, fake_aimlapi: FakeAimlapi
) -> None:
    _draws_a_sunrise(fake_aimlapi)
    clock = Clock(paris(2026, 12, 1, 7))
    created = await add(rt, ALICE, "10m", "Draw me a sunrise", clock.now, kind="task")
    sending = asyncio.Event()

    async def send_then_die(address: Address, outbound: Outbound, session_key: str, tag: str) -> Outcome:
        sending.set()
        await asyncio.Event().wait()  # the process dies with the answer in hand, before the platform took it
        raise AssertionError("unreachable")

    first = Scheduler(rt.store, rt.config, rt.runner, send_then_die, clock=clock, grace=0)
    clock.now = created.next_run_at
    await first.run_due()
    await sending.wait()
    await first.stop()
    asked = len(fake_aimlapi.chat_requests())
    interrupted = await rt.store.schedules.get(created.id)
    assert interrupted.claim_due_at == created.next_run_at and interrupted.claim_turn_id is not None
    platform = Platform(clock)
    second = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await second.start()
    await settled(second)
    await second.stop()
    assert asked == 2 and len(fake_aimlapi.chat_requests()) == asked  # the turn (a tool call, its answer); no more
    [sent] = platform.sent
    _the_sunrise(sent)  # the stored answer, media included
    done = await rt.store.schedules.get(created.id)
    assert (done.status, done.runs, done.claim_due_at, done.last_result) == ("done", 1, None, "task ok, sent")
    assert len(await rt.store.sessions.transcript(ALICE.session_key)) == 1  # one turn in the history


async def test_a_reminder_is_in_the_history_so_a_reply_to_it_makes_sense(rt: Any) -> None:
    from agentbox.turn.runner import TurnRequest

    models = _task_model(["Great, well done."])
    rt.runner.models = models
    clock = Clock(paris(2026, 12, 1, 8))
    created = await add(rt, ALICE, "20m", "Did the build pass?", clock.now)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, Platform(clock), clock=clock)
    await fire_at(scheduler, clock, created.next_run_at)
    await rt.runner.run(TurnRequest(ALICE.session_key, "yes!", sender_id=ALICE.sender_id))
    [seen] = models.function.seen  # type: ignore[attr-defined]
    assert seen == ["Did the build pass?", "yes!"]


async def test_a_task_failing_three_times_in_a_row_is_paused_and_the_person_told(rt: Any) -> None:
    rt.config.limits.usd_per_day = 0.000001
    await rt.store.sessions.ensure("telegram:dm:835750362", channel="telegram", chat_id="835750362")
    from agentbox.store import TurnRecord

    await rt.store.sessions.add_turn(TurnRecord("telegram:dm:835750362", "gpt-4o-mini", "ok", usd=1.0))
    clock = Clock(paris(2026, 12, 1, 7, 0))
    created = await add(rt, ALICE, "07:30", "Summarize my inbox", clock.now, kind="task", repeat="1h")
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    for _ in range(3):
        schedule = await rt.store.schedules.get(created.id)
        await fire_at(scheduler, clock, schedule.next_run_at)
    first, second, third = platform.texts()
    assert first.startswith(f"Scheduled task #{created.id} could not run: ") and "limit" in first
    assert "paused" not in second
    assert third.endswith(
        f"I paused it. /cancel {created.id} removes it; the owner resumes it with `agentbox cron resume {created.id}`."
    )
    paused = await rt.store.schedules.get(created.id)
    assert (paused.status, paused.failures) == ("paused", 3)
    await fire_at(scheduler, clock, clock.now + 7200)
    assert len(platform.sent) == 3  # paused: nothing more
    assert rt.runner.models is not None and len(await rt.store.sessions.transcript(ALICE.session_key)) == 4


async def test_pause_resume_and_cancel_take_effect_at_the_next_due_time(rt: Any) -> None:
    clock = Clock(paris(2026, 12, 1, 8))
    created = await add(rt, ALICE, "08:30", "Tick", clock.now, timezone="Europe/Paris", repeat="1h")
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await book.pause(rt.store, created.id)
    await fire_at(scheduler, clock, paris(2026, 12, 1, 8, 30))
    assert platform.sent == []
    resumed = await book.resume(rt.store, created.id, now=clock.now)
    assert resumed.next_run_at == paris(2026, 12, 1, 9, 30)  # the run due while paused is skipped, not late
    await fire_at(scheduler, clock, paris(2026, 12, 1, 9, 30))
    assert platform.texts() == ["Tick"]
    await book.cancel(rt.store, created.id)
    await fire_at(scheduler, clock, paris(2026, 12, 1, 10, 30))
    assert platform.texts() == ["Tick"]
    with pytest.raises(ScheduleError, match="no active or paused schedule"):
        await book.cancel(rt.store, created.id)


async def test_a_database_of_the_previous_release_migrates_and_its_outbox_still_reads(home: Path) -> None:
    import sqlite3

    from agentbox.store.schema import MIGRATIONS

    mine = next(i for i, script in enumerate(MIGRATIONS) if "CREATE TABLE schedules" in script)
    path = home / "agentbox.db"
    with sqlite3.connect(path) as conn:
        for number, script in enumerate(MIGRATIONS[:mine]):
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute(
            "INSERT INTO outbox(channel, chat_id, address, text, next_try_at, created_at)"
            " VALUES ('telegram', '42', '{\"channel\": \"telegram\", \"chat_id\": \"42\"}', 'queued before', 1.0, 1.0)"
        )
    async with await Store.open(path) as store:
        [entry] = await store.outbox.waiting()
        assert entry.outbound == Outbound("queued before")
        assert await store.schedules.list() == []
        assert await store.schedules.next_due_at() is None


async def test_a_task_for_a_terminal_session_runs_into_its_history(rt: Any) -> None:
    models = _task_model(["Build is green."])
    rt.runner.models = models
    clock = Clock(paris(2026, 12, 1, 8))
    terminal = Target("cli", "default", "cli:default")
    created = await add(rt, terminal, "10m", "Check the build", clock.now, kind="task", created_by="cli")
    platform = Platform(clock)
    scheduler = Scheduler(rt.store, rt.config, rt.runner, platform, clock=clock)
    await fire_at(scheduler, clock, created.next_run_at)
    assert platform.sent == []  # no chat: the answer lives in the session
    [turn] = await rt.store.sessions.transcript("cli:default")
    assert turn["reply"] == "Build is green." and "Check the build" in turn["user_text"]
    done = await rt.store.schedules.get(created.id)
    assert (done.status, done.last_result) == ("done", "task ok, recorded")


async def test_a_mention_waits_in_the_outbox_with_its_reply(store: Store) -> None:
    from agentbox.messages import Mention

    address = Address("telegram", "-100777", "77")
    await store.outbox.add(NewEntry(address, Outbound("Deploy now", mention=Mention("835750362", "Alice"))))
    await store.outbox.add(NewEntry(address, Outbound("no one")))
    first, second = await store.outbox.waiting()
    assert first.outbound == Outbound("Deploy now", mention=Mention("835750362", "Alice"))
    assert second.outbound.mention is None
