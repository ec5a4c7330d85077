"""Schedules from chat, in a running gateway: the model's tools (over the fake AI/ML API), /reminders, /cancel, /timezone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agentbox.messages import Mention
from agentbox.schedules import book
from agentbox.schedules.book import Target, Wanted
from agentbox.schedules.describe import moment
from agentbox.schedules.service import gateway_service
from tests.fakes.aimlapi import FakeAimlapi, Reply, ToolCall
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until
from tests.skills_helpers import tool_outputs

PARIS = "[agents.main]\ntimezone = 'Europe/Paris'\n"
OPEN = "[channels.telegram]\ndm_policy = 'open'\ngroups = ['-100777']\n"
ALICE = Target("telegram", "42", "telegram:dm:42", sender_id="42")


def system_text(body: dict[str, Any]) -> str:
    return " ".join(str(m.get("content")) for m in body["messages"] if m.get("role") in ("system", "developer"))


async def test_the_schedule_tool_resolves_the_time_itself_and_the_reminder_fires_in_the_same_chat(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    tg = FakeConnector()
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("schedule", {"when": "1s", "message": "Time to stretch!"})]),
        Reply(text="I'll remind you."),
    )
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN + PARIS, services=[gateway_service]) as gw:
        await tg.push(inbound("remind me in a second to stretch", sender="42"))
        await wait_until(lambda: "Time to stretch!" in tg.texts("42"), timeout=15)
        [created] = await gw.store.schedules.list(statuses=("done",))
    assert tg.texts("42") == ["I'll remind you.", "Time to stretch!"]  # the confirmation, then the reminder as is
    first, second = fake_aimlapi.chat_requests()
    assert re.search(r"Their timezone: Europe/Paris, now \w{3} 20\d\d-\d\d-\d\d \d\d:\d\d\.$", system_text(first))
    [output] = tool_outputs(second)
    when = moment(created.anchor_at, "Europe/Paris", now=created.created_at)  # e.g. Mon 30 Nov at 14:03:17 Europe/Paris
    assert re.fullmatch(r"\w{3} \d{1,2} \w{3} at \d\d:\d\d:\d\d Europe/Paris", when)
    assert output.startswith(f"Scheduled #{created.id} (reminder): I will send this reminder on {when} (in 1 s). ")
    assert "Timezone: Europe/Paris ([agents.main] timezone)." in output and f"/cancel {created.id}" in output
    assert (created.channel, created.chat_id, created.sender_id, created.in_group) == ("telegram", "42", "42", False)


async def test_in_a_group_the_reminder_mentions_whoever_asked(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    tg = FakeConnector()
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("schedule", {"when": "1s", "message": "Deploy window is open"})]),
        Reply(text="Noted."),
    )
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN, services=[gateway_service]):
        asked = inbound(
            "@bot remind me in 1s", sender="42", direct=False, chat="-100777", mentioned=True, sender_name="Alice"
        )
        await tg.push(asked)
        await wait_until(lambda: "Deploy window is open" in tg.texts("-100777"), timeout=15)
    reminder = next(s for s in tg.sent if s.text == "Deploy window is open")
    assert reminder.outbound.mention == Mention("42", "Alice")
    assert reminder.address.chat_id == "-100777" and reminder.address.reply_to is None


async def test_people_see_and_cancel_only_their_own_schedules(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    tg = FakeConnector()
    alice = Target("telegram", "42", "telegram:dm:42", sender_id="42")
    bob = Target("telegram", "43", "telegram:dm:43", sender_id="43")
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN + PARIS, services=[gateway_service]) as gw:
        hers = await book.create(
            gw.store, gw.config, alice, Wanted("reminder", "Alice's secret", "2h"), created_by="chat"
        )
        his = await book.create(
            gw.store, gw.config, bob, Wanted("task", "Bob's report", "0 8 * * 1-5"), created_by="chat"
        )
        for text in (
            "/reminders",
            f"/cancel {hers.id}",
            f"/cancel {his.id}",
            "/reminders",
            "/timezone Asia/Tokyo",
            "/timezone",
        ):
            await tg.push(inbound(text, sender="43"))
        await wait_until(lambda: len(tg.texts("43")) == 6)
        assert (await gw.store.schedules.get(hers.id)).status == "active"
        assert (await gw.store.schedules.get(his.id)).status == "cancelled"
        assert await gw.store.schedules.timezone_of("telegram", "43") == "Asia/Tokyo"
    listing, refused, cancelled, empty, tz_set, tz_shown = tg.texts("43")
    assert listing.startswith("Your schedules:\n") and f"#{his.id} task, every weekday at 08:00" in listing
    assert "Alice" not in listing
    assert refused == f"Not cancelled: you have no active schedule #{hers.id} (/reminders lists yours)."
    assert cancelled == f"Cancelled #{his.id}: Bob's report"
    assert empty.startswith("You have no reminders")
    assert tz_set.startswith("Timezone set to Asia/Tokyo;")
    assert tz_shown.startswith("Your timezone for reminders: Asia/Tokyo (the person's own setting).")
    assert fake_aimlapi.chat_requests() == []  # commands: no model call


async def test_the_list_cancel_and_timezone_tools(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN + PARIS, services=[gateway_service]) as gw:
        other = Target("telegram", "43", "telegram:dm:43", sender_id="43")
        theirs = await book.create(gw.store, gw.config, other, Wanted("reminder", "not yours", "1h"), created_by="chat")
        fake_aimlapi.script(
            Reply(tool_calls=[ToolCall("set_timezone", {"timezone": "America/New_York"})]),
            Reply(
                tool_calls=[
                    ToolCall("schedule", {"when": "2099-01-05T09:00", "message": "Dentist", "repeat": "weekly"})
                ]
            ),
            Reply(tool_calls=[ToolCall("list_schedules", {})]),
            Reply(tool_calls=[ToolCall("cancel_schedule", {"id": theirs.id})]),
            Reply(tool_calls=[ToolCall("schedule", {"when": "yesterday at noon", "message": "x"})]),
            Reply(text="done"),
        )
        await tg.push(inbound("I'm in New York; remind me of the dentist every week", sender="42"))
        await wait_until(lambda: tg.texts("42") == ["done"])
        [mine] = [s for s in await gw.store.schedules.list() if s.sender_id == "42"]
        assert (await gw.store.schedules.get(theirs.id)).status == "active"
    outputs = tool_outputs(fake_aimlapi.last_chat())
    assert outputs[0].startswith("Timezone set to America/New_York;")
    assert outputs[1].startswith(
        f"Scheduled #{mine.id} (reminder): I will send this reminder on Mon 5 Jan 2099 at 09:00 America/New_York"
    )
    assert ", then every week. Timezone: America/New_York (the person's own setting)." in outputs[1]
    assert outputs[2] == f"#{mine.id} reminder, every week: next Mon 5 Jan 2099 at 09:00 America/New_York — Dentist"
    assert outputs[3] == f"Not cancelled: you have no active schedule #{theirs.id} (/reminders lists yours)."
    assert outputs[4].startswith("Not scheduled: when 'yesterday at noon' is neither an ISO 8601 time")
    assert mine.timezone == "America/New_York" and mine.rule == "1w"


async def test_the_owner_can_force_the_kind_or_turn_schedules_off(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    tg = FakeConnector()
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("schedule", {"when": "3h", "message": "Weather please", "kind": "task"})]),
        Reply(text="ok"),
    )
    forced = OPEN + "[schedules]\nkind = 'reminder'\n"
    async with running_gateway(fake_aimlapi, home, tg, config=forced, services=[gateway_service]) as gw:
        await tg.push(inbound("every morning send me the weather", sender="42"))
        await wait_until(lambda: tg.texts("42") == ["ok"])
        [made] = await gw.store.schedules.list()
    assert made.kind == "reminder"
    fake_aimlapi.reset()
    off = OPEN + "[schedules]\nenabled = false\n"
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=off, services=[gateway_service]):
        await tg.push(inbound("hello", sender="42"))
        await tg.push(inbound("/reminders", sender="42"))
        await wait_until(lambda: len(tg.texts("42")) == 2)
    tools = [tool["function"]["name"] for tool in fake_aimlapi.last_chat().get("tools", [])]
    assert "schedule" not in tools and "current_time" in tools
    assert tg.texts("42")[1] == "Reminders and scheduled tasks are turned off here."


async def test_the_cli_wakes_the_gateway_and_runs_a_schedule_now(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    import asyncio

    from agentbox.cli.gateway_client import call_gateway, wake_schedules

    def run_on_gateway(config: Any, schedule_id: int) -> Any:  # what `agentbox cron run ID` asks
        return call_gateway(config, f"/schedules/{schedule_id}/run", post=True)

    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN, services=[gateway_service]) as gw:
        soon = await book.create(
            gw.store, gw.config, ALICE, Wanted("reminder", "written by another process", "1s"), created_by="cli"
        )
        assert await asyncio.to_thread(wake_schedules, gw.config)  # like `cron add` after writing the row
        await wait_until(lambda: "written by another process" in tg.texts("42"), timeout=15)
        later = await book.create(gw.store, gw.config, ALICE, Wanted("reminder", "now, please", "5h"), created_by="cli")
        answer = await asyncio.to_thread(run_on_gateway, gw.config, later.id)
        await wait_until(lambda: "now, please" in tg.texts("42"), timeout=15)
        refused = await asyncio.to_thread(run_on_gateway, gw.config, soon.id)  # done: nothing left to run
        after = await gw.store.schedules.get(later.id)
    assert answer["ok"] and answer["schedule"]["id"] == later.id
    assert refused == {"ok": False, "error": f"no active or paused schedule #{soon.id}"}
    assert (after.status, after.next_run_at, after.runs) == ("active", later.next_run_at, 1)  # its own run is unchanged
    assert tg.texts("42") == ["written by another process", "now, please"]


async def test_from_the_terminal_a_schedule_goes_to_the_cli_session_and_says_no_gateway_runs(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    from agentbox.turn.runner import TurnRequest
    from tests.helpers import runtime_on

    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("schedule", {"when": "1h", "message": "Check the build", "kind": "task"})]),
        Reply(text="ok"),
    )
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest("cli:default", "in an hour check the build"))
        [made] = await rt.store.schedules.list()
    [output] = tool_outputs(fake_aimlapi.last_chat())
    assert output.endswith("no gateway is running right now; schedules fire only while `agentbox gateway run` runs.")
    assert (made.to, made.session_key, made.kind, made.created_by) == ("cli:default", "cli:default", "task", "cli")
