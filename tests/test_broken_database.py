"""A damaged agentbox.db: every command says so in two lines with the exact fix, exit 3, no traceback."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.clirun import invoke
from tests.helpers import cli_env, run_cli

PAGE = 4096


def garbage_file(db: Path) -> None:
    db.write_bytes(os.urandom(64 * 1024))  # not even an SQLite header


def damaged_pages(db: Path) -> None:
    """A real database with 300 sessions, then every third page overwritten (the header survives)."""
    from agentbox.store import Store, TurnRecord

    async def fill() -> None:
        store = await Store.open(db)
        try:
            for number in range(300):
                key = f"telegram:dm:{800000 + number}"
                await store.sessions.ensure(key, channel="telegram", chat_id=key.rsplit(":", 1)[1])
                await store.sessions.add_turn(
                    TurnRecord(
                        session_key=key,
                        model="gpt-4o-mini",
                        status="ok",
                        user_text=os.urandom(300).hex(),
                        reply=os.urandom(300).hex(),
                        started_at=time.time(),
                        finished_at=time.time(),
                    )
                )
        finally:
            await store.close()

    asyncio.run(fill())
    data = bytearray(db.read_bytes())
    for page in range(2, len(data) // PAGE, 3):
        data[page * PAGE : (page + 1) * PAGE] = os.urandom(PAGE)
    db.write_bytes(bytes(data))


def assert_reported(db: Path, code: int, stderr: str, stdout: str = "") -> None:
    assert code == 3, stdout + stderr
    assert "Traceback" not in stderr + stdout and len(stderr.splitlines()) == 2, stderr
    assert f"the database {db} is damaged" in stderr and f"`mv {db} {db}.broken`" in stderr, stderr


@pytest.mark.parametrize(
    "args", [["agent", "-m", "hi"], ["sessions", "list"], ["usage"], ["pairing", "list"]], ids=" ".join
)
@pytest.mark.e2e
def test_garbage_database_is_reported_by_the_real_entry_point(fake_aimlapi, home: Path, args: list[str]) -> None:
    db = home / "agentbox.db"
    garbage_file(db)
    done = run_cli(*args, env=cli_env(home, fake_aimlapi))
    assert_reported(db, done.returncode, done.stderr, done.stdout)
    assert not fake_aimlapi.requests  # nothing was sent to the model


@pytest.mark.parametrize(
    "args",
    [
        ["sessions", "list"],
        ["sessions", "show", "telegram:dm:800001"],
        ["usage", "--by", "session"],
        ["pairing", "approve", "telegram", "K7M4PQ2X"],
    ],
    ids=" ".join,
)
def test_damaged_pages_are_reported_by_every_command(home: Path, args: list[str]) -> None:
    db = home / "agentbox.db"
    damaged_pages(db)
    done = invoke(home, *args)
    assert_reported(db, done.exit_code, done.stderr)


@pytest.mark.parametrize("args", [["jobs", "list"], ["sessions", "reset", "cli:default"]], ids=" ".join)
def test_garbage_database_in_other_commands(home: Path, args: list[str]) -> None:
    db = home / "agentbox.db"
    garbage_file(db)
    done = invoke(home, *args)
    assert_reported(db, done.exit_code, done.stderr)


def test_the_printed_fix_works(home: Path) -> None:
    db = home / "agentbox.db"
    garbage_file(db)
    first = invoke(home, "sessions", "list")
    command = first.stderr.split("`")[-2]  # the backquoted shell command of the fix line
    assert command.startswith("mv ")
    subprocess.run(shlex.split(command), check=True)
    again = invoke(home, "sessions", "list")
    assert again.exit_code == 0 and again.stdout.strip() == "No sessions yet."
    assert (home / "agentbox.db.broken").stat().st_size == 64 * 1024


def test_doctor_gives_the_same_fix(home: Path) -> None:
    db = home / "agentbox.db"
    garbage_file(db)
    done = invoke(home, "doctor")
    assert done.exit_code == 1 and "✗ database:" in done.stdout and f"`mv {db} {db}.broken`" in done.stdout


def test_only_damage_gets_the_move_aside_advice() -> None:
    import sqlite3

    from agentbox.ops.dbhealth import is_broken_database

    assert is_broken_database(sqlite3.DatabaseError("file is not a database"))
    assert is_broken_database(sqlite3.DatabaseError("database disk image is malformed"))
    assert not is_broken_database(sqlite3.OperationalError("database is locked"))
    assert not is_broken_database(ValueError("malformed"))


def test_database_from_a_newer_agentbox_is_one_line(home: Path) -> None:
    import sqlite3

    from agentbox.store.schema import SCHEMA_VERSION

    conn = sqlite3.connect(home / "agentbox.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    done = invoke(home, "sessions", "list")
    assert done.exit_code == 3 and len(done.stderr.splitlines()) == 1
    assert "newer than this agentbox" in done.stderr and "upgrade agentbox" in done.stderr
