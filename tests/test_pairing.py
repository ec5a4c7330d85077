"""Pairing codes and approvals on the real SQLite store, and the quick `agentbox pairing` CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentbox.gateway.access import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_TTL,
    EXPIRED_COOLDOWN,
    MAX_PENDING,
    REMIND_EVERY,
    PairingError,
    PairingService,
    new_code,
    pairing_reply,
)
from agentbox.store import Store
from tests.clirun import invoke_cli
from tests.helpers import cli_env


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: Store, clock: Clock) -> PairingService:
    return PairingService(store.pairing, clock=clock)


def test_codes_use_the_unambiguous_alphabet() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200  # 32^8 possibilities: collisions would mean a broken generator
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert not set("01IO") & set(CODE_ALPHABET)


async def test_same_sender_keeps_its_code_and_is_not_spammed(service: PairingService, clock: Clock) -> None:
    first = await service.request("telegram", "835750362", sender_name="alice", chat_id="835750362")
    assert first.new and first.code and pairing_reply("telegram", first)
    again = await service.request("telegram", "835750362")
    assert again.code == first.code and not again.new
    assert pairing_reply("telegram", again) is None  # told a moment ago: stay quiet
    clock.now += REMIND_EVERY + 1
    later = await service.request("telegram", "835750362")
    assert later.code == first.code and f"agentbox pairing approve telegram {first.code}" in pairing_reply(
        "telegram", later
    )


async def test_at_most_three_pending_then_only_a_counter(service: PairingService, store: Store) -> None:
    codes = [(await service.request("telegram", f"u{i}")).code for i in range(MAX_PENDING)]
    assert len(set(codes)) == MAX_PENDING
    fourth = await service.request("telegram", "u4", sender_name="mallory")
    assert fourth.overflow and fourth.code is None
    assert "try again later" in pairing_reply("telegram", fourth)
    await service.request("telegram", "u5")
    assert [r.sender_id for r in await service.pending("telegram")] == ["u0", "u1", "u2"]
    assert await store.pairing.refusals() == {"telegram": {"full": 2}}
    # limits are per channel
    assert (await service.request("slack", "U1")).new


async def test_expired_codes_free_a_slot_but_their_senders_cool_down(
    service: PairingService, clock: Clock, store: Store
) -> None:
    """Three accounts re-asking every hour must not hold every pending slot forever."""
    squatters = [await service.request("telegram", f"squatter{i}") for i in range(MAX_PENDING)]
    assert (await service.request("telegram", "friend")).overflow
    clock.now += CODE_TTL + 1
    for i, old in enumerate(squatters):
        again = await service.request("telegram", f"squatter{i}")
        assert again.code is None and not again.new and again.retry_in == pytest.approx(EXPIRED_COOLDOWN - 1)
        assert "expired" in (pairing_reply("telegram", again) or "")
        with pytest.raises(PairingError, match="expired"):
            await service.approve("telegram", old.code or "")
    assert (await service.request("telegram", "friend")).new  # the slots went to someone else
    assert await store.pairing.refusals("telegram") == {"telegram": {"cooldown": 3, "full": 1}}
    clock.now += EXPIRED_COOLDOWN
    fresh = await service.request("telegram", "squatter0")
    assert fresh.new and fresh.code != squatters[0].code


async def test_refusals_are_answered_once_per_sender_not_per_message(service: PairingService, clock: Clock) -> None:
    for i in range(MAX_PENDING):
        await service.request("telegram", f"u{i}")
    replies = [pairing_reply("telegram", await service.request("telegram", "flooder")) for _ in range(20)]
    assert replies[0] and "try again later" in replies[0]
    assert replies[1:] == [None] * 19
    clock.now += REMIND_EVERY
    assert pairing_reply("telegram", await service.request("telegram", "flooder"))


async def test_the_pending_cap_holds_for_concurrent_strangers_on_separate_connections(home: Path) -> None:
    """Thirty strangers at once, as thirty gateway processes would see them: still at most three codes."""
    stores = [await Store.open(home / "agentbox.db") for _ in range(30)]
    try:
        outcomes = await asyncio.gather(
            *(PairingService(s.pairing).request("telegram", f"stranger{i}") for i, s in enumerate(stores))
        )
        pending = await stores[0].pairing.pending("telegram")
        refused = await stores[0].pairing.refusals("telegram")
    finally:
        for s in stores:
            await s.close()
    assert len(pending) == MAX_PENDING
    assert sorted(o.code for o in outcomes if o.new) == sorted(r.code for r in pending)
    assert sum(o.overflow for o in outcomes) == 30 - MAX_PENDING
    assert refused == {"telegram": {"full": 30 - MAX_PENDING}}


async def test_the_pending_cap_holds_for_concurrent_strangers_on_one_connection(store: Store) -> None:
    """The gateway's case: one connection, many session workers interleaving at every await."""
    outcomes = await asyncio.gather(*(PairingService(store.pairing).request("telegram", f"s{i}") for i in range(40)))
    assert len(await store.pairing.pending("telegram")) == MAX_PENDING
    assert sum(o.new for o in outcomes) == MAX_PENDING


async def test_expired_code_is_reported_as_expired(service: PairingService, clock: Clock) -> None:
    old = await service.request("telegram", "u1")
    clock.now += CODE_TTL + 1
    with pytest.raises(PairingError, match="expired"):
        await service.approve("telegram", old.code or "")


async def test_approve_is_case_insensitive_and_revoke_works(service: PairingService, store: Store) -> None:
    outcome = await service.request("telegram", "835750362", sender_name="alice", chat_id="835750362")
    request = await service.approve("telegram", (outcome.code or "").lower())
    assert request.sender_id == "835750362"
    assert await store.pairing.is_allowed("telegram", "835750362")
    assert await service.pending() == []
    [allowed] = await service.allowed("telegram")
    assert (allowed.sender_name, allowed.chat_id, allowed.notified) == ("alice", "835750362", False)
    with pytest.raises(PairingError):
        await service.approve("telegram", outcome.code or "")  # used up
    with pytest.raises(PairingError, match="no pending"):
        await service.approve("slack", outcome.code or "")  # codes belong to their channel
    await service.revoke("telegram", "835750362")
    assert not await store.pairing.is_allowed("telegram", "835750362")
    with pytest.raises(PairingError, match="not approved"):
        await service.revoke("telegram", "835750362")


async def test_deny_ends_the_code_and_the_sender_cools_down(service: PairingService, clock: Clock) -> None:
    outcome = await service.request("telegram", "666", sender_name="mallory")
    other = await service.request("telegram", "42")
    denied = await service.deny("telegram", (outcome.code or "").lower())
    assert denied.sender_id == "666"
    assert [r.code for r in await service.pending()] == [other.code]  # only that sender's code ended
    with pytest.raises(PairingError, match="has expired"):
        await service.approve("telegram", outcome.code or "")
    clock.now += REMIND_EVERY + 1
    again = await service.request("telegram", "666")
    assert again.code is None and again.retry_in is not None  # no new code while cooling down
    with pytest.raises(PairingError, match="no pending pairing request"):
        await service.deny("telegram", outcome.code or "")  # denied once is enough
    clock.now += EXPIRED_COOLDOWN
    assert (await service.request("telegram", "666")).code not in (None, outcome.code)


# -- CLI ---------------------------------------------------------------------------


async def _pending_code(home: Path, sender: str = "835750362") -> str:
    async with await Store.open(home / "agentbox.db") as store:
        outcome = await PairingService(store.pairing).request("telegram", sender, sender_name="alice")
    assert outcome.code
    return outcome.code


async def test_cli_list_approve_allowed_revoke(home: Path) -> None:
    code = await _pending_code(home)
    env = cli_env(home)
    listed = invoke_cli("pairing", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["channel"], row["sender_id"], row["sender_name"], row["code"]) == (
        "telegram",
        "835750362",
        "alice",
        code,
    )
    assert 3500 < row["expires_in_s"] <= 3600
    table = invoke_cli("pairing", "list", "telegram", env=env)
    assert code in table.stdout and "alice" in table.stdout

    approved = invoke_cli("pairing", "approve", "telegram", code.lower(), env=env)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == (
        "Approved telegram sender 835750362.\nNo gateway is running: they are told they can talk when it starts.\n"
    )

    again = invoke_cli("pairing", "approve", "telegram", code, env=env)
    assert again.returncode == 1 and "no pending pairing request" in again.stderr

    allowed = invoke_cli("pairing", "allowed", "--json", env=env)
    assert [s["sender_id"] for s in json.loads(allowed.stdout)] == ["835750362"]
    revoked = invoke_cli("pairing", "revoke", "telegram", "835750362", env=env)
    assert revoked.returncode == 0 and "Revoked telegram sender 835750362." in revoked.stdout
    assert invoke_cli("pairing", "revoke", "telegram", "835750362", env=env).returncode == 1
    assert invoke_cli("pairing", "list", "nosuch", env=env).returncode == 1


async def test_cli_deny(home: Path) -> None:
    code = await _pending_code(home, sender="666")
    env = cli_env(home)
    denied = invoke_cli("pairing", "deny", "telegram", code, env=env)
    assert denied.returncode == 0 and denied.stdout == "Denied telegram sender 666.\n", denied.stderr
    assert json.loads(invoke_cli("pairing", "list", "--json", env=env).stdout) == []
    again = invoke_cli("pairing", "deny", "telegram", code, env=env)
    assert again.returncode == 1 and "no pending pairing request" in again.stderr


@pytest.mark.e2e
def test_pairing_and_status_commands_stay_import_light(home: Path) -> None:
    """No pydantic-ai, no connector SDK, no aiohttp server: `agentbox pairing approve` must feel instant."""
    probe = (
        "import sys\n"
        "from agentbox.cli.main import app\n"
        "for args in (['pairing', 'list'], ['pairing', 'allowed'], ['pairing', 'approve', 'telegram', 'X'],"
        " ['status'], ['dashboard']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('pydantic_ai', 'openai', 'telegram', 'slack_sdk', 'slack_bolt', 'discord', 'aiohttp', 'jinja2')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=cli_env(home), capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
