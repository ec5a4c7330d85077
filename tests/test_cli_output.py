"""What the CLI prints on an 80-column terminal: whole session keys, readable amounts, safe chat text.

In-process (Typer's CliRunner) with COLUMNS=80; tables are compared with snapshots.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from tests.clirun import invoke
from tests.fakes.aimlapi import FakeAimlapi
from tests.helpers import write_config

CHATS = {  # session key → its chat id
    "telegram:dm:835750362": "835750362",
    "slack:C0123456789:thread:1700000000.000100": "C0123456789",
    "discord:group:3000000000000000001:thread:3000000000000000003": "3000000000000000001",
    "cli:default": "",
}
KEYS = list(CHATS)
OSC52 = "\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07"  # a clipboard write hidden in a message


def populate(home: Path, *, user_text: str = "hello", reply: str = "hi there", usd: float = 0.0012) -> None:
    """Four sessions, one turn each, last touched three hours ago (stable `updated` column)."""
    from agentbox.store import Store, TurnRecord

    async def go() -> None:
        store = await Store.open(home / "agentbox.db")
        try:
            for number, key in enumerate(KEYS):
                await store.sessions.ensure(key, channel=key.split(":")[0], chat_id=CHATS[key])
                await store.sessions.add_turn(
                    TurnRecord(
                        session_key=key,
                        model="anthropic/claude-sonnet-4.6",
                        status="ok",
                        user_text=user_text,
                        reply=reply,
                        input_tokens=1200,
                        output_tokens=340,
                        usd=usd * (number + 1),
                        started_at=time.time(),
                        finished_at=time.time(),
                    )
                )
            for number, key in enumerate(KEYS):  # most recent first: the order of KEYS
                when = time.time() - 3 * 3600 - 60 * (number + 1)
                await store.conn.execute("UPDATE sessions SET updated_at = ? WHERE key = ?", (when, key))
        finally:
            await store.close()

    asyncio.run(go())


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def test_sessions_list_at_80_columns_keeps_every_key_whole(home: Path) -> None:
    populate(home)
    done = invoke(home, "sessions", "list")
    assert done.exit_code == 0, done.output
    assert lines(done.stdout) == [
        "telegram:dm:835750362",
        "  channel telegram · chat 835750362 · model (default) · turns 1 · tokens 1,540",
        "  updated 3h ago",
        "slack:C0123456789:thread:1700000000.000100",
        "  channel slack · chat C0123456789 · model (default) · turns 1 · tokens 1,540",
        "  updated 3h ago",
        "discord:group:3000000000000000001:thread:3000000000000000003",
        "  channel discord · chat 3000000000000000001 · model (default) · turns 1",
        "  tokens 1,540 · updated 3h ago",
        "cli:default",
        "  channel cli · chat - · model (default) · turns 1 · tokens 1,540",
        "  updated 3h ago",
    ]


def test_sessions_list_on_a_wide_terminal_is_one_table(home: Path) -> None:
    populate(home)
    done = invoke(home, "sessions", "list", columns=160)
    rows = lines(done.stdout)
    assert rows[0].split() == ["session", "channel", "chat", "model", "turns", "tokens", "updated"]
    assert {row.split()[0] for row in rows[2:]} == set(KEYS) and all(len(row) <= 160 for row in rows)


def test_usage_by_session_at_80_columns(home: Path) -> None:
    populate(home)
    done = invoke(home, "usage", "--by", "session")
    assert done.exit_code == 0, done.output
    text = re.sub(r"\d{4}-\d\d-\d\d", "DAY", done.stdout)
    assert lines(text) == [
        "cli:default",
        "  turns 1 · failed 0 · capped 0 · input tok 1,200 · output tok 340 · USD 0.0048",
        "discord:group:3000000000000000001:thread:3000000000000000003",
        "  turns 1 · failed 0 · capped 0 · input tok 1,200 · output tok 340 · USD 0.0036",
        "slack:C0123456789:thread:1700000000.000100",
        "  turns 1 · failed 0 · capped 0 · input tok 1,200 · output tok 340 · USD 0.0024",
        "telegram:dm:835750362",
        "  turns 1 · failed 0 · capped 0 · input tok 1,200 · output tok 340 · USD 0.0012",
        "total",
        "  turns 4 · failed 0 · capped 0 · input tok 4,800 · output tok 1,360",
        "  USD 0.0120",
        "Today (DAY UTC): $0.012 (no daily cap)",
    ]


def test_usage_by_day_fits_as_a_table(home: Path) -> None:
    populate(home)
    text = re.sub(r"\d{4}-\d\d-\d\d", "DAY       ", invoke(home, "usage").stdout)
    assert lines(text) == [
        "day          turns   failed   capped   input tok   output tok      USD",
        "──────────────────────────────────────────────────────────────────────",
        "DAY              4        0        0       4,800        1,360   0.0120",
        "total            4        0        0       4,800        1,360   0.0120",
        "Today (DAY        UTC): $0.012 (no daily cap)",
    ]


def test_usage_shows_a_small_cap_as_is_and_the_reset_in_local_time(home: Path) -> None:
    populate(home, usd=0.00005)
    write_config(home, "[limits]\nusd_per_day = 0.001\nusd_per_sender_per_day = 0.0005\n")
    done = invoke(home, "usage")
    assert done.exit_code == 0, done.output
    assert "of $0.001 cap" in done.stdout and "Per-sender cap $0.0005/day" in done.stdout
    assert "$0.00 " not in done.stdout and "T00:00:00" not in done.stdout  # no rounding away, no raw ISO
    assert re.search(r"The caps reset at \d{4}-\d\d-\d\d \d\d:\d\d ", done.stdout), done.stdout


def test_money_and_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentbox.humanize import local_time, money

    assert [money(v) for v in (0.001, 5, 12.5, 0.0015, 0, 1234.5678)] == [
        "$0.001",
        "$5.00",
        "$12.50",
        "$0.0015",
        "$0.00",
        "$1234.5678",
    ]
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert local_time("2026-12-01T00:00:00+00:00") == "2026-12-01 01:00 CET (00:00 UTC)"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_sessions_show_and_list_strip_escape_sequences(home: Path) -> None:
    populate(home, user_text=f"copy this {OSC52}please", reply=f"sure\x1b[2J{OSC52}\nsecond line")
    set_model(home, "telegram:dm:835750362", f"typed/at-the-terminal{OSC52}\x1b[2J")  # any id goes there
    shown = invoke(home, "sessions", "show", "telegram:dm:835750362")
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "copy this" in shown.stdout and "please" in shown.stdout and "second line" in shown.stdout
    for columns in (80, 160):  # the stacked listing and the table
        listed = invoke(home, "sessions", "list", columns=columns)
        assert listed.exit_code == 0, listed.output
        assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
        assert "typed/at-the-terminal" in listed.stdout and "telegram:dm:835750362" in listed.stdout


def set_model(home: Path, key: str, model: str) -> None:
    from agentbox.store import Store

    async def go() -> None:
        store = await Store.open(home / "agentbox.db")
        try:
            await store.sessions.set_model(key, model)
        finally:
            await store.close()

    asyncio.run(go())


def test_skills_list_fits_80_columns(home: Path) -> None:
    done = invoke(home, "skills", "list")
    assert done.exit_code == 0, done.output
    rows = lines(done.stdout)
    assert rows and all(len(row) <= 80 for row in rows), "\n".join(rows)
    names = {"image-generation", "video-generation", "web-search", "web-page-vision"}
    assert names <= {row.split()[0] for row in rows if row and not row.startswith(" ")}


def test_logs_on_a_fresh_home_says_there_is_no_log_yet(home: Path) -> None:
    done = invoke(home, "logs")
    assert done.exit_code == 0
    assert done.stdout.strip() == f"no log yet (the gateway writes {home / 'logs' / 'agentbox.log'} once it runs)"


@pytest.mark.parametrize("args", [[], ["sessions", "list"], ["agent"], ["doctor"], ["daemon", "install"]])
def test_help_shows_no_type_after_flags(home: Path, args: list[str]) -> None:
    done = invoke(home, *args, "--help")
    assert done.exit_code == 0 and "--help" in done.stdout
    assert "<bool>" not in done.stdout, done.stdout


def test_verbose_shows_agentbox_debug_but_not_library_debug(home: Path) -> None:
    populate(home)
    one = invoke(home, "-v", "sessions", "list")
    assert one.exit_code == 0 and " DEBUG aiosqlite " not in one.stderr, one.stderr
    two = invoke(home, "-vv", "sessions", "list")
    assert " DEBUG aiosqlite " in two.stderr
    everything = invoke(home, "-v", "sessions", "list", AGENTBOX_DEBUG_ALL="1")
    assert " DEBUG aiosqlite " in everything.stderr


def test_doctor_counts_in_the_singular(home: Path) -> None:
    home.chmod(0o700)
    # No skills: with no key every bundled skill would add a warning of its own.
    write_config(home, "[agents.main]\nskills = []\n").chmod(0o600)
    done = invoke(home, "doctor", AIMLAPI_API_KEY="")  # no key: one problem; no channel: one warning
    assert done.stdout.endswith("\n5 ok, 1 warning, 1 problem\n"), done.stdout


def test_jobs_list_at_80_columns_keeps_ids_and_sessions_whole(home: Path) -> None:
    from agentbox.store import Store

    async def go() -> list[str]:
        store = await Store.open(home / "agentbox.db")
        try:
            ids = []
            for key in KEYS[:2]:
                job = await store.jobs.create("video", session_key=key, address=None, request={"prompt": "a cat"})
                await store.jobs.update(job.id, status="error", error=f"The video could not be generated.{OSC52}")
                ids.append(job.id)
            return ids
        finally:
            await store.close()

    ids = asyncio.run(go())
    done = invoke(home, "jobs", "list")
    assert done.exit_code == 0, done.output
    rows = lines(done.stdout)
    assert all(len(row) <= 80 for row in rows) and "\x1b" not in done.stdout
    assert set(ids) <= {row.split()[0] for row in rows if row} and all(key in done.stdout for key in KEYS[:2])


def test_agent_reply_cannot_drive_the_terminal(home: Path, fake_aimlapi) -> None:
    from tests.clirun import invoke_cli
    from tests.fakes.aimlapi import Reply
    from tests.helpers import cli_env

    fake_aimlapi.script(Reply(text=f"Here it is{OSC52} \x1b[31mred\x1b[0m"))
    done = invoke_cli("agent", "-m", "summarize this page", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0 and "Here it is" in done.stdout and "red" in done.stdout
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_status_counts_and_amounts_read_naturally(capsys: pytest.CaptureFixture[str]) -> None:
    from agentbox.cli.gateway_cmd import _print_status

    _print_status(
        {
            "pid": 4242,
            "uptime_s": 3700,
            "version": "0.1.0",
            "connectors": {"telegram": {"state": "ready", "restarts": 1}},
            "spend": {
                "spent_usd": 0.0012,
                "usd_per_day": 0.001,
                "total_reached": True,
                "resets_at": "2026-12-01T00:00:00+00:00",
                "senders": [{"channel": "telegram", "sender_id": "42", "capped": True}],
            },
        }
    )
    out = capsys.readouterr().out
    assert "telegram: ready (1 restart)" in out and "1 sender at their daily cap" in out
    assert "$0.0012 of $0.001" in out and "T00:00:00" not in out


async def test_chat_status_command_counts_one_turn(store) -> None:  # type: ignore[no-untyped-def]
    from agentbox.config import Config
    from agentbox.gateway.commands import ChatCommands, parse_command
    from agentbox.messages import Inbound
    from agentbox.store import TurnRecord

    await store.sessions.ensure("telegram:dm:42", channel="telegram", chat_id="42")
    await store.sessions.add_turn(TurnRecord(session_key="telegram:dm:42", model="gpt-4o-mini", status="ok"))
    inbound = Inbound("telegram", "42", "7", "42", "/status", is_direct=True)
    command = parse_command("/status")
    assert command is not None
    text = await ChatCommands(Config(), store).run(command, inbound, session_key="telegram:dm:42", agent_id="main")
    assert "(agent main, 1 turn)" in text


async def test_status_shows_the_outbox_backlog(
    fake_aimlapi: FakeAimlapi, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentbox.cli.gateway_cmd import _print_status
    from tests.gatewaykit import FakeConnector, inbound, running_gateway

    tg = FakeConnector(down=True)  # Telegram takes no reply: both wait in the outbox
    async with running_gateway(fake_aimlapi, home, tg, config="[channels.telegram]\ndm_policy = 'open'\n") as gw:
        await tg.push(inbound("first", chat="42", sender="42", message_id="1"))
        await tg.push(inbound("second", chat="43", sender="43", message_id="2"))
        for _ in range(500):  # until both replies are queued (polled, not timed)
            status = await gw.status()
            if status["outbox"]["waiting"] == 2:
                break
            await asyncio.sleep(0.01)
    _print_status(status)  # what `agentbox status` prints from the running gateway's /status
    out = capsys.readouterr().out
    assert re.search(r"^Replies waiting for delivery: 2 \(telegram 2\), oldest \d+s old$", out, re.M), out
    assert out.index("Turns running:") < out.index("Replies waiting") < out.index("Pending pairing requests:")
