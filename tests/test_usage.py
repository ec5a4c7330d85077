"""`agentbox usage`: aggregation by day, session and model from real SQLite rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentbox.store import Store, TurnRecord
from agentbox.turn.usage import parse_since, usage_by
from tests.clirun import invoke_cli
from tests.helpers import cli_env

DAY1 = datetime(2026, 3, 1, 10, tzinfo=UTC).timestamp()
DAY2 = datetime(2026, 3, 2, 23, 59, tzinfo=UTC).timestamp()


async def seed(store: Store) -> None:
    await store.sessions.ensure("tg:1", channel="telegram", chat_id="1")
    await store.sessions.ensure("cli:default", channel="cli")
    rows = [
        ("tg:1", "gpt-4o", "ok", DAY1, 100, 10, 0.010, False),
        ("tg:1", "gpt-4o", "ok", DAY1 + 60, 200, 20, 0.020, True),  # estimated from the price table
        ("cli:default", "gpt-4o-mini", "ok", DAY2, 1000, 100, 0.001, False),
        ("cli:default", "gpt-4o-mini", "failed", DAY2 + 30, 0, 0, None, False),
        ("tg:1", "gpt-4o", "capped", DAY2 + 40, 0, 0, None, False),
    ]
    for key, model, status, started, tin, tout, usd, est in rows:
        await store.sessions.add_turn(
            TurnRecord(
                session_key=key, model=model, status=status, sender_id="7", input_tokens=tin, output_tokens=tout,
                usd=usd, usd_estimated=est, started_at=started, finished_at=started + 1,
            )
        )  # fmt: skip


async def test_by_day_session_and_model(store: Store) -> None:
    await seed(store)
    days = {r.key: r for r in await usage_by(store.conn, "day")}
    assert list(days) == ["2026-03-01", "2026-03-02"]
    assert days["2026-03-01"].turns == 2 and days["2026-03-01"].input_tokens == 300
    assert days["2026-03-01"].usd == pytest.approx(0.03) and days["2026-03-01"].usd_estimated == pytest.approx(0.02)
    assert days["2026-03-02"].failed == 1 and days["2026-03-02"].capped == 1 and not days["2026-03-02"].estimated

    sessions = {r.key: r for r in await usage_by(store.conn, "session")}
    assert sessions["tg:1"].turns == 3 and sessions["tg:1"].output_tokens == 30
    assert sessions["cli:default"].usd == pytest.approx(0.001)

    models = await usage_by(store.conn, "model")
    assert [m.key for m in models] == ["gpt-4o", "gpt-4o-mini"]  # most expensive first
    assert models[1].input_tokens == 1000 and models[1].failed == 1


async def test_since_filters_by_utc_day(store: Store) -> None:
    await seed(store)
    rows = await usage_by(store.conn, "day", since=parse_since("2026-03-02", now=DAY2))
    assert [r.key for r in rows] == ["2026-03-02"]
    assert parse_since("today", now=DAY2) == datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    assert parse_since("2d", now=DAY2) == datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_since("last week", now=DAY2)


async def test_cli_json_and_table(home: Path, store: Store) -> None:
    await seed(store)
    (home / "config.toml").write_text("[limits]\nusd_per_day = 2.5\n")
    env = cli_env(home)
    done = invoke_cli("usage", "--by", "model", "--since", "2026-03-01", "--json", env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [r["key"] for r in out["rows"]] == ["gpt-4o", "gpt-4o-mini"]
    assert out["rows"][0]["usd_estimated"] == pytest.approx(0.02)
    assert out["caps"]["usd_per_day"] == 2.5 and out["caps"]["total_reached"] is False
    table = invoke_cli("usage", env=env)
    assert table.returncode == 0 and "2026-03-01" in table.stdout and "~0.0300" in table.stdout
    assert "of $2.50 cap" in table.stdout
    assert invoke_cli("usage", "--by", "week", env=env).returncode == 2
