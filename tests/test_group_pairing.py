"""Group pairing on the real store: one code per unknown group, hinted once ever; the owner opens groups."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.config import ChannelConfig
from agentbox.gateway.access import CODE_TTL, MAX_PENDING, AccessPolicy, PairingError, group_ids
from agentbox.gateway.group_pairing import GroupPairing, group_hint
from agentbox.store import Store
from tests.clirun import invoke_cli
from tests.gatewaykit import inbound
from tests.helpers import cli_env, write_config


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000.0

    def __call__(self) -> float:
        return self.now


def pairing_for(store: Store, clock: Clock) -> GroupPairing:
    return GroupPairing(store.groups, store.pairing, clock=clock)


async def test_a_group_is_hinted_once_even_across_restarts(home: Path) -> None:
    clock = Clock()
    async with await Store.open(home / "agentbox.db") as store:
        first = await pairing_for(store, clock).request("telegram", "-100123", group_name="Book club")
        again = await pairing_for(store, clock).request("telegram", "-100123")
    assert first.hint and first.code and not again.hint and again.code == first.code
    clock.now += 30 * 24 * 3600  # a month and a restart later, the code long expired
    async with await Store.open(home / "agentbox.db") as store:
        later = await pairing_for(store, clock).request("telegram", "-100123")
        [asked] = await store.groups.requests("telegram")
    assert not later.hint
    assert (asked.group_id, asked.group_name, asked.code) == ("-100123", "Book club", first.code)


async def test_at_most_three_group_codes_pending_then_a_counter(store: Store) -> None:
    clock = Clock()
    service = pairing_for(store, clock)
    hinted = [await service.request("telegram", f"-10{i}") for i in range(MAX_PENDING)]
    assert all(o.hint for o in hinted)
    assert not (await service.request("telegram", "-109")).hint
    assert not (await service.request("telegram", "-109")).hint
    assert await store.pairing.refusals("telegram") == {"telegram": {"groups full": 2}}
    assert (await service.request("slack", "C0GENERAL")).hint  # per channel
    clock.now += CODE_TTL
    assert (await service.request("telegram", "-109")).hint  # a slot freed; still its first hint


async def test_approve_by_code_even_expired_or_by_id_and_revoke(store: Store) -> None:
    clock = Clock()
    service = pairing_for(store, clock)
    outcome = await service.request("discord", "900000000000000001", group_name="Friends")
    clock.now += 2 * CODE_TTL  # the hint is never repeated, so its code must still work
    approval = await service.approve("discord", (outcome.code or "").lower())
    assert (approval.group_id, approval.group_name, approval.already) == ("900000000000000001", "Friends", False)
    assert (await service.approve("discord", "900000000000000001")).already
    assert await service.requests() == []  # an opened group is no longer asking
    assert await store.groups.any_allowed("discord", ["900000000000000001"])
    with pytest.raises(PairingError, match="no group pairing request with code ABCDEFGH"):
        await service.approve("discord", "abcd-efgh")  # a mistyped code is not taken for a group id
    opened = await service.approve("telegram", " -100987 ")  # a group that never asked: by its chat id
    assert (opened.group_id, opened.already) == ("-100987", False)
    await service.revoke("discord", "900000000000000001")
    assert not await store.groups.any_allowed("discord", ["900000000000000001"])
    with pytest.raises(PairingError, match="not approved"):
        await service.revoke("discord", "900000000000000001")


async def _open_by_hint(group_id: str, name: str) -> tuple[str, str, bool, bool]:
    """A message from the group through the inbox, its hint, approval by the hinted code, then access."""
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "a.db") as store:
            message = inbound(
                "@bot hi",
                direct=False,
                chat="-100",
                mentioned=True,
                channel="discord",
                group_id=group_id,
                group_name=name,
            )
            row = await store.inbox.get(await store.inbox.add(message) or 0)
            assert row is not None
            stored = row.inbound
            outcome = await GroupPairing(store.groups, store.pairing).request(
                "discord", group_ids(stored)[0], group_name=stored.group_name
            )
            assert outcome.hint and outcome.code
            approval = await GroupPairing(store.groups, store.pairing).approve("discord", outcome.code)
            policy = AccessPolicy(store.pairing, store.groups)
            allowed = (await policy.check(stored, ChannelConfig())).verdict == "allow"
            other = inbound(
                "@bot hi", direct=False, chat="-100", mentioned=True, channel="discord", group_id=group_id + "x"
            )
            stranger_elsewhere = (await policy.check(other, ChannelConfig())).verdict == "pair_group"
            return approval.group_id, approval.group_name, allowed, stranger_elsewhere


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=40), st.text(max_size=80))
def test_any_group_id_and_name_round_trip_and_open_exactly_that_group(group_id: str, name: str) -> None:
    approved_id, approved_name, allowed, stranger_elsewhere = asyncio.run(_open_by_hint(group_id, name))
    assert (approved_id, approved_name) == (group_id, name)
    assert allowed and stranger_elsewhere


def test_the_hint_names_the_exact_command() -> None:
    hint = group_hint("slack", "K7M4PQ2X", dm_pairing=True)
    assert "agentbox pairing approve-group slack K7M4PQ2X" in hint and "message me directly" in hint
    assert "directly" not in group_hint("slack", "K7M4PQ2X", dm_pairing=False)
    assert len(hint) < 300  # one short line, not a wall of text in someone's group


# -- CLI ---------------------------------------------------------------------------

HOSTILE = "\x1b]52;c;ZWNobyBwd25lZA==\x07Mallory\x1b[2J\x9b31m\u202e"


async def test_cli_lists_groups_and_refusals_and_opens_and_closes_groups(home: Path) -> None:
    write_config(home, '[channels.telegram]\ngroups = ["-100555"]\n')
    async with await Store.open(home / "agentbox.db") as store:
        asked = await GroupPairing(store.groups, store.pairing).request("telegram", "-100123", group_name=HOSTILE)
        await store.pairing.count_refusal("telegram", "full")
        await store.pairing.count_refusal("telegram", "cooldown")
        await store.pairing.count_refusal("telegram", "cooldown")
    env = cli_env(home)
    listed = invoke_cli("pairing", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "-100123" in listed.stdout and asked.code in listed.stdout
    assert f"agentbox pairing approve-group telegram {asked.code}" in listed.stdout
    assert "Refused on telegram: 3 (2 during the cooldown after an expired code, 1 while 3 were pending)" in (
        listed.stdout
    )
    [row] = json.loads(invoke_cli("pairing", "list", "--json", env=env).stdout)
    assert (row["kind"], row["group_id"], row["group_name"], row["code"]) == ("group", "-100123", HOSTILE, asked.code)

    opened = invoke_cli("pairing", "approve-group", "telegram", asked.code, env=env)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout.startswith("telegram group -100123 (") and "is now open to everyone in it" in opened.stdout
    allowed = invoke_cli("pairing", "allowed", env=env).stdout
    assert "-100123" in allowed and "-100555" in allowed and "groups in config.toml" in allowed
    groups = [r for r in json.loads(invoke_cli("pairing", "allowed", "--json", env=env).stdout) if r["kind"] == "group"]
    assert sorted(g["group_id"] for g in groups) == ["-100123", "-100555"]
    closed = invoke_cli("pairing", "revoke-group", "telegram", "-100123", env=env)
    assert closed.returncode == 0 and closed.stdout == "Closed telegram group -100123.\n"
    in_config = invoke_cli("pairing", "revoke-group", "telegram", "-100555", env=env)
    assert in_config.returncode == 1 and "not approved" in in_config.stderr
    assert invoke_cli("pairing", "approve-group", "telegram", "ZZZZZZZZ", env=env).returncode == 1


async def test_cli_output_never_carries_terminal_control_sequences(home: Path) -> None:
    """Names are chosen by strangers: an OSC 52 clipboard write must not reach the owner's terminal."""
    from agentbox.gateway.access import PairingService

    async with await Store.open(home / "agentbox.db") as store:
        await PairingService(store.pairing).request("telegram", "835750362", sender_name=HOSTILE)
        await GroupPairing(store.groups, store.pairing).request("telegram", "-100123", group_name=HOSTILE)
        await store.pairing.allow("telegram", "42", sender_name=HOSTILE)
        await store.groups.allow("telegram", "-100777", group_name=HOSTILE)
    env = cli_env(home)
    for args in (("list",), ("list", "--json"), ("allowed",), ("allowed", "--json")):
        result = invoke_cli("pairing", *args, env=env)
        assert result.returncode == 0, result.stderr
        assert "\ufffd" in result.stdout or "\\u001b" in result.stdout  # neutralized, not dropped silently
        bad = [c for c in result.stdout if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"]
        assert bad == [], (args, result.stdout)
    [row] = [
        r for r in json.loads(invoke_cli("pairing", "allowed", "--json", env=env).stdout) if r.get("sender_id") == "42"
    ]
    assert row["sender_name"] == HOSTILE  # JSON escapes them: nothing is lost for a program reading it


async def test_a_database_from_before_this_migration_keeps_its_pairings(home: Path) -> None:
    """Pending requests, approvals, the old overflow counter and stored inbox rows survive the upgrade."""
    from tests.helpers import database_before

    path = home / "agentbox.db"
    with database_before(path, "CREATE TABLE allowed_groups") as conn:
        conn.execute(
            "INSERT INTO pairing_requests(channel, sender_id, sender_name, chat_id, code, created_at, expires_at)"
            " VALUES ('telegram', '7', 'alice', '7', 'K7M4PQ2X', 1e12, 1e12 + 3600)"
        )
        conn.execute(
            "INSERT INTO allowed_senders(channel, sender_id, approved_at, notified) VALUES ('slack', 'U1', 1, 1)"
        )
        conn.execute("INSERT INTO pairing_overflow(channel, count) VALUES ('telegram', 5)")
        payload = json.dumps({"channel": "telegram", "chat_id": "-100", "message_id": "1", "sender_id": "7"})
        conn.execute(
            "INSERT INTO inbox(channel, chat_id, message_id, sender_id, payload, received_at)"
            " VALUES ('telegram', '-100', '1', '7', ?, 1)",
            (payload,),
        )
    async with await Store.open(path) as store:
        assert await store.pairing.refusals() == {"telegram": {"full": 5}}
        [request] = await store.pairing.pending("telegram", at=1e12)
        assert (request.sender_id, request.code) == ("7", "K7M4PQ2X")
        assert await store.pairing.is_allowed("slack", "U1")
        assert await store.groups.allowed() == [] and await store.groups.requests() == []
        [row] = await store.inbox.unfinished()
        assert (row.inbound.group_id, row.inbound.group_name) == (None, "")
