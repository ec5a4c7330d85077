"""`agentbox cron ...` in-process: the flags, the JSON shape, the errors, and the gateway told about each change."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from agentbox.store import Store
from tests.clirun import invoke
from tests.helpers import write_config


def added(home: Path, *args: str) -> dict[str, Any]:
    result = invoke(home, "cron", "add", *args, "--json")
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_add_prints_the_schedule_in_the_list_shape_and_list_json_shows_them(home: Path) -> None:
    write_config(home, "[agents.main]\ntimezone = 'Europe/Paris'\n")
    reminder = added(home, "--in", "3s", "--to", "telegram:835750362", "--message", "Call the bank")
    task = added(home, "--cron", "0 8 * * 1-5", "--to", "slack:C0TEAM:1700000000.0001", "-m", "Weather", "--task")
    every = added(home, "--every", "2h", "--to", "cli:default", "-m", "Stretch", "--until", "2099-01-01")
    at = added(home, "--at", "2099-06-01T09:30", "--to", "telegram:-100777", "-m", "Party", "--agent", "main")
    assert {"id", "kind", "schedule", "next_run", "to", "status"} <= set(reminder)
    assert (reminder["kind"], reminder["to"], reminder["status"]) == ("reminder", "telegram:835750362", "active")
    assert reminder["session"] == "telegram:dm:835750362" and reminder["sender"] == "835750362"
    assert dt.datetime.fromisoformat(reminder["next_run"]).utcoffset() is not None  # ISO 8601 with an offset
    assert (task["kind"], task["schedule"], task["to"]) == ("task", "cron 0 8 * * 1-5", "slack:C0TEAM:1700000000.0001")
    assert task["session"] == "slack:group:C0TEAM:thread:1700000000.0001"
    assert dt.datetime.fromisoformat(task["next_run"]).strftime("%H:%M") == "08:00"
    assert every["schedule"].startswith("every 2h from ") and every["session"] == "cli:default"
    assert every["until"].startswith("2099-01-01T23:59:59")
    assert at["next_run"] == "2099-06-01T09:30:00+02:00" and at["session"] == "telegram:group:-100777"
    listed = invoke(home, "cron", "list", "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [row["id"] for row in rows] == [reminder["id"], every["id"], task["id"], at["id"]]  # next run first
    assert rows[0] == reminder
    table = invoke(home, "cron", "list")
    assert "Call the bank" in table.stdout and "every weekday at 08:00" in table.stdout
    assert "No gateway is running" in invoke(home, "cron", "add", "--in", "1h", "--to", "cli:x", "-m", "y").stdout


def test_without_tz_a_direct_chat_uses_the_person_s_own_timezone_and_the_help_says_so(home: Path) -> None:
    write_config(home, "[agents.main]\ntimezone = 'Europe/Paris'\n")

    async def alice_lives_in_tokyo() -> None:
        async with await Store.open(home / "agentbox.db") as store:
            await store.schedules.set_timezone("telegram", "835750362", "Asia/Tokyo")

    asyncio.run(alice_lives_in_tokyo())
    alices = added(home, "--at", "2099-06-01T09:30", "--to", "telegram:835750362", "-m", "Tokyo morning")
    groups = added(home, "--at", "2099-06-01T09:30", "--to", "telegram:-100777", "-m", "Paris morning")
    assert (alices["timezone"], alices["next_run"]) == ("Asia/Tokyo", "2099-06-01T09:30:00+09:00")
    assert (groups["timezone"], groups["next_run"]) == ("Europe/Paris", "2099-06-01T09:30:00+02:00")  # no person
    helped = " ".join(invoke(home, "cron", "add", "--help").stdout.replace("│", " ").split())  # unboxed, unwrapped
    assert "for a direct chat the person's own /timezone, else the agent's timezone, else this machine's" in helped


def test_pause_resume_remove_and_what_list_shows_then(home: Path) -> None:
    made = added(home, "--every", "1d", "--to", "telegram:42", "-m", "Vitamins")
    assert invoke(home, "cron", "pause", str(made["id"])).stdout.startswith(f"Paused #{made['id']}.")
    [paused] = json.loads(invoke(home, "cron", "list", "--json").stdout)
    assert paused["status"] == "paused"
    resumed = invoke(home, "cron", "resume", str(made["id"]))
    assert resumed.stdout.startswith(f"Resumed #{made['id']} (reminder, every day) → telegram:42: next run ")
    assert invoke(home, "cron", "remove", str(made["id"])).stdout.startswith(f"Removed #{made['id']}.")
    assert json.loads(invoke(home, "cron", "list", "--json").stdout) == []
    [gone] = json.loads(invoke(home, "cron", "list", "--json", "--all").stdout)
    assert gone["status"] == "cancelled"
    again = invoke(home, "cron", "remove", str(made["id"]))
    assert again.exit_code == 2 and again.stderr == f"agentbox: no active or paused schedule #{made['id']}\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--in", "3s", "--at", "2099-01-01T09:00"], "give exactly one of --at, --in, --every or --cron"),
        ([], "give exactly one of --at, --in, --every or --cron"),
        (["--every", "1m"], "it would repeat every 60 s; the shortest interval allowed is 300 s"),
        (["--cron", "* * * *"], "is neither an ISO 8601 time"),
        (["--at", "2000-01-01T09:00"], "has already passed"),
        (["--in", "3s", "--agent", "nobody"], "no agent 'nobody' in the config (agents: main)"),
        (["--in", "3s", "--tz", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_stored(home: Path, args: list[str], says: str) -> None:
    result = invoke(home, "cron", "add", "--to", "telegram:42", "-m", "hi", *args)
    assert result.exit_code == 2 and says in result.stderr
    assert json.loads(invoke(home, "cron", "list", "--json", "--all").stdout) == []


@pytest.mark.parametrize("to", ["whatsapp:42", "telegram", "telegram:", "cli:"])
def test_an_unknown_target_is_named(home: Path, to: str) -> None:
    result = invoke(home, "cron", "add", "--in", "1h", "--to", to, "-m", "hi")
    assert result.exit_code == 2 and "--to" in result.stderr


def test_run_needs_the_gateway(home: Path) -> None:
    made = added(home, "--in", "1h", "--to", "telegram:42", "-m", "hi")
    result = invoke(home, "cron", "run", str(made["id"]))
    assert result.exit_code == 1 and result.stderr.startswith("agentbox: no gateway running")
