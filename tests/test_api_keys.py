"""`agentbox tokens create|list|revoke`: API keys shown once, stored as hashes, scoped and capped."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from agentbox.api.keys import key_hash
from agentbox.store import Store
from tests.clirun import invoke_cli
from tests.helpers import cli_env, database_before, write_config


def test_a_key_is_shown_once_and_only_its_hash_is_stored(home: Path) -> None:
    write_config(home, "[agents.work]\nmodel = 'gpt-4o'\n")
    env = cli_env(home)
    made = invoke_cli("tokens", "create", "open-webui", "--agent", "work", "--usd-per-day", "2.5", env=env)
    assert made.returncode == 0, made.stderr
    [key] = re.findall(r"abx-[A-Za-z0-9_-]{43}", made.stdout)
    assert "not shown again" in made.stdout and 'model "agentbox/work"' in made.stdout
    with sqlite3.connect(home / "agentbox.db") as db:
        dump = "\n".join(db.iterdump())
    assert key not in dump and key_hash(key) in dump  # the key itself is nowhere on disk
    listed = invoke_cli("tokens", "list", "--json", env=env)
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["agent"], row["usd_per_day"], row["spent_today_usd"]) == ("open-webui", "work", 2.5, 0)
    assert key not in listed.stdout and row["hint"] == key[:10] + "…"
    table = invoke_cli("tokens", "list", env=env).stdout
    assert "open-webui" in table and key not in table and "never" in table
    again = invoke_cli("tokens", "create", "open-webui", env=env)
    assert again.returncode == 1 and "already a key named 'open-webui'" in again.stderr
    assert invoke_cli("tokens", "revoke", "open-webui", env=env).returncode == 0
    assert json.loads(invoke_cli("tokens", "list", "--json", env=env).stdout) == []
    gone = invoke_cli("tokens", "revoke", "open-webui", env=env)
    assert gone.returncode == 1 and "no API key named 'open-webui'" in gone.stderr


def test_bad_names_and_unknown_agents_are_refused_before_anything_is_stored(home: Path) -> None:
    env = cli_env(home)
    unknown = invoke_cli("tokens", "create", "ci", "--agent", "nobody", env=env)
    assert unknown.returncode == 2 and "no such agent (agents: main)" in unknown.stderr
    spaced = invoke_cli("tokens", "create", "my key", env=env)
    assert spaced.returncode == 2 and "a key name is 1-64" in spaced.stderr
    assert invoke_cli("tokens", "create", "ci", "--usd-per-day", "0", env=env).returncode == 2
    assert json.loads(invoke_cli("tokens", "list", "--json", env=env).stdout) == []


async def test_a_database_from_before_api_keys_gets_the_table_and_keeps_its_rows(home: Path) -> None:
    path = home / "agentbox.db"
    with database_before(path, "CREATE TABLE api_keys") as conn:
        conn.execute(
            "INSERT INTO sessions(key, channel, created_at, updated_at) VALUES ('telegram:dm:7', 'telegram', 1, 1)"
        )
    async with await Store.open(path) as store:
        assert [s.key for s in await store.sessions.all()] == ["telegram:dm:7"]
        assert await store.api_keys.add("ci", "ab" * 32, "abx-123456…", agent=None, usd_per_day=None)
        assert (await store.api_keys.find("ab" * 32)).name == "ci"  # type: ignore[union-attr]
