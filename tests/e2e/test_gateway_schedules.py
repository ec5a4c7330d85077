"""End to end: reminders and scheduled tasks in a real `agentbox gateway run` with the real Telegram client.

A reminder set by the model's `schedule` tool fires into the same chat; `agentbox cron add` and
`agentbox cron run` work while the gateway runs and deliver once, also when the gateway is killed
(-9) while sending; a task runs a model turn and delivers its answer; a group reminder mentions
who asked; pause, resume and remove take effect on the running gateway without a restart, and a
resumed repeating schedule keeps firing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import invoke_cli
from tests.e2e.gatewayproc import GatewayProcess, start_gateway, wait_for
from tests.e2e.platforms import user_text
from tests.fakes.aimlapi import FakeAimlapi, Reply, ToolCall
from tests.fakes.telegram import FakeTelegram
from tests.helpers import run_cli

pytestmark = pytest.mark.slow  # each waits for schedules seconds ahead

ALICE = 835750362
GROUP = -100777
OPEN = "dm_policy = 'open'\nstreaming = 'off'"


def sent(fake_telegram: FakeTelegram, chat: int, text: str) -> list[str]:
    return [message for message in fake_telegram.sent_messages(chat) if text in message]


def running(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram, extra: str = OPEN
) -> GatewayProcess:
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, extra)
    processes.append(gateway)
    return gateway.wait_ready()


def cron(gateway: GatewayProcess, *args: str) -> dict[str, Any]:
    """`agentbox cron ...` against the gateway's home (in-process: the CLI's own process is not under test here)."""
    result = invoke_cli("cron", *args, env=gateway.env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in args else {}


def test_a_reminder_set_by_the_schedule_tool_fires_into_the_same_chat(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = running(processes, home, fake_aimlapi, fake_telegram)
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("schedule", {"when": "2s", "message": "Time to stretch!"})]),
        Reply(text="I'll remind you in 2 seconds."),
    )
    fake_telegram.push_text(ALICE, "remind me in 2 seconds to stretch")
    wait_for(
        lambda: sent(fake_telegram, ALICE, "Time to stretch!"), timeout=30, what=f"the reminder; log:\n{gateway.log}"
    )
    assert gateway.terminate() == 0
    assert fake_telegram.sent_messages(ALICE) == ["I'll remind you in 2 seconds.", "Time to stretch!"]
    assert len(fake_aimlapi.chat_requests()) == 2  # the turn that set it; the reminder itself calls no model


def test_cron_add_and_cron_run_deliver_once_while_the_gateway_runs(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = running(processes, home, fake_aimlapi, fake_telegram)
    added = run_cli(
        "cron",
        "add",
        "--in",
        "3s",
        "--to",
        f"telegram:{ALICE}",
        "--message",
        "Call the bank",
        "--json",
        env=gateway.env,
    )
    assert added.returncode == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["to"] == f"telegram:{ALICE}" and added.stderr == ""  # the gateway was told
    wait_for(lambda: sent(fake_telegram, ALICE, "Call the bank"), timeout=30, what=f"the reminder; log:\n{gateway.log}")
    later = cron(gateway, "add", "--in", "1h", "--to", f"telegram:{ALICE}", "-m", "Pay the rent", "--json")
    ran = invoke_cli("cron", "run", str(later["id"]), env=gateway.env)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, f"Running #{later['id']} now on the gateway.\n", "")
    wait_for(lambda: sent(fake_telegram, ALICE, "Pay the rent"), timeout=30, what=f"the run; log:\n{gateway.log}")
    assert gateway.terminate() == 0  # a clean stop: every delivery under way has ended
    assert fake_telegram.sent_messages(ALICE) == ["Call the bank", "Pay the rent"]  # each exactly once
    assert fake_aimlapi.chat_requests() == []
    rows = {row["id"]: row for row in json.loads(run_cli("cron", "list", "--json", "--all", env=gateway.env).stdout)}
    assert (rows[made["id"]]["status"], rows[made["id"]]["runs"]) == ("done", 1)
    assert rows[made["id"]]["last_result"] == "reminder sent"
    ran_once = rows[later["id"]]
    assert (ran_once["status"], ran_once["runs"], ran_once["next_run"]) == ("active", 1, later["next_run"])  # kept


def test_a_gateway_killed_while_sending_a_reminder_delivers_it_once_after_restart(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = running(processes, home, fake_aimlapi, fake_telegram)
    fake_telegram.hold("sendMessage")  # Telegram does not answer: the run is claimed and its send in flight
    cron(gateway, "add", "--in", "2s", "--to", f"telegram:{ALICE}", "--message", "Call the bank", "--json")
    wait_for(lambda: fake_telegram.calls_to("sendMessage"), timeout=30, what=f"the send; log:\n{gateway.log}")
    gateway.kill()  # kill -9 between the claim and the delivery
    fake_telegram.release()  # that send never completes: its client is gone
    restarted = GatewayProcess(home, gateway.env)
    processes.append(restarted)
    wait_for(
        lambda: sent(fake_telegram, ALICE, "Call the bank"), timeout=30, what=f"the reminder; log:\n{restarted.log}"
    )
    assert restarted.terminate() == 0
    assert fake_telegram.sent_messages(ALICE) == ["Call the bank"]  # exactly once
    assert "run(s) the last run claimed were not delivered; delivering them now" in restarted.log


def test_a_scheduled_task_runs_a_model_turn_and_delivers_its_answer(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = running(processes, home, fake_aimlapi, fake_telegram)
    fake_aimlapi.script(Reply(text="Your summary: two meetings, one deadline."))
    made = cron(gateway, "add", "--in", "2s", "--to", f"telegram:{ALICE}", "--task", "-m", "Summarize my day", "--json")
    wait_for(lambda: sent(fake_telegram, ALICE, "Your summary"), timeout=30, what=f"the answer; log:\n{gateway.log}")
    assert gateway.terminate() == 0
    [request] = fake_aimlapi.chat_requests()
    asked = user_text(request)
    assert asked.startswith(f"[Scheduled task #{made['id']}, set earlier by the person, due ") and asked.endswith(
        "Summarize my day"
    )
    assert fake_telegram.sent_messages(ALICE) == ["Your summary: two meetings, one deadline."]


def test_a_reminder_asked_for_in_a_group_mentions_who_asked(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = running(processes, home, fake_aimlapi, fake_telegram, f"{OPEN}\ngroups = ['{GROUP}']")
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("schedule", {"when": "2s", "message": "The deploy window is open"})]),
        Reply(text="Noted."),
    )
    bot = fake_telegram.bot_username
    fake_telegram.push_text(GROUP, f"@{bot} remind me in 2s", chat_type="supergroup", from_id=ALICE, first_name="Alice")
    wait_for(lambda: sent(fake_telegram, GROUP, "deploy window"), timeout=30, what=f"the reminder; log:\n{gateway.log}")
    assert gateway.terminate() == 0
    reminder = next(m for m in fake_telegram.sent(GROUP) if "deploy window" in m.text)
    # A text mention: it notifies Alice; labelled with the name Telegram gave (her username).
    assert reminder.raw == f'<a href="tg://user?id={ALICE}">alice</a> The deploy window is open'
    assert reminder.text == "alice The deploy window is open"


def test_pause_resume_and_remove_take_effect_on_a_running_gateway(
    processes: list[Any], home: Path, fake_aimlapi: FakeAimlapi, fake_telegram: FakeTelegram
) -> None:
    gateway = running(processes, home, fake_aimlapi, fake_telegram, f"{OPEN}\n[schedules]\nmin_repeat_interval = 1")
    to = f"telegram:{ALICE}"
    # Each change is one in-process CLI call, well under the 5 s before the changed schedule falls due.
    ticking = cron(gateway, "add", "--every", "5s", "--to", to, "-m", "tick", "--json")
    cron(gateway, "pause", str(ticking["id"]))
    removed = cron(gateway, "add", "--in", "5s", "--to", to, "-m", "never sent", "--json")
    cron(gateway, "remove", str(removed["id"]))
    cron(gateway, "add", "--in", "7s", "--to", to, "-m", "marker", "--json")  # due after the two others
    wait_for(lambda: sent(fake_telegram, ALICE, "marker"), timeout=40, what=f"the marker; log:\n{gateway.log}")
    assert fake_telegram.sent_messages(ALICE) == ["marker"]  # the paused and the removed one stayed quiet
    cron(gateway, "resume", str(ticking["id"]))
    # Two ticks: the first run re-sets the timer for the next (alone, it used to sleep after one run).
    wait_for(
        lambda: len(sent(fake_telegram, ALICE, "tick")) >= 2,
        timeout=40,
        what=f"two runs of the resumed schedule; log:\n{gateway.log}",
    )
    assert gateway.terminate() == 0
    assert "never sent" not in fake_telegram.sent_messages(ALICE)
