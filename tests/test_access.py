"""DM and group policy per channel, with approvals read from the real store."""

from __future__ import annotations

import pytest

from agentbox.access import AccessPolicy
from agentbox.config import ChannelConfig
from agentbox.store import Store
from tests.gatewaykit import inbound


@pytest.fixture
def policy(store: Store) -> AccessPolicy:
    return AccessPolicy(store.pairing)


async def verdict(policy: AccessPolicy, message, **config) -> str:  # type: ignore[no-untyped-def]
    return (await policy.check(message, ChannelConfig(**config))).verdict


async def test_dm_pairing_default(policy: AccessPolicy, store: Store) -> None:
    assert await verdict(policy, inbound(sender="7")) == "pair"
    assert await verdict(policy, inbound(sender="7"), allow_from=["7"]) == "allow"
    await store.pairing.allow("telegram", "7")
    assert await verdict(policy, inbound(sender="7")) == "allow"
    assert await verdict(policy, inbound(sender="7", channel="slack")) == "pair"  # approvals are per channel


async def test_dm_allowlist_open_disabled(policy: AccessPolicy, store: Store) -> None:
    assert await verdict(policy, inbound(sender="7"), dm_policy="allowlist") == "ignore"
    assert await verdict(policy, inbound(sender="7"), dm_policy="allowlist", allow_from=["7"]) == "allow"
    await store.pairing.allow("telegram", "8")
    assert await verdict(policy, inbound(sender="8"), dm_policy="allowlist") == "allow"
    assert await verdict(policy, inbound(sender="9"), dm_policy="open") == "allow"
    assert await verdict(policy, inbound(sender="7"), dm_policy="disabled", allow_from=["7"]) == "ignore"


async def test_groups(policy: AccessPolicy) -> None:
    plain = inbound(direct=False, chat="-100")
    mention = inbound(direct=False, chat="-100", mentioned=True)
    assert await verdict(policy, plain) == "ignore"
    assert await verdict(policy, mention) == "allow"
    assert await verdict(policy, plain, group_policy="open") == "allow"
    assert await verdict(policy, mention, group_policy="disabled") == "ignore"
    assert await verdict(policy, mention, groups=["-200"]) == "ignore"
    assert await verdict(policy, mention, groups=["-100"]) == "allow"


async def test_bot_messages_are_ignored(policy: AccessPolicy) -> None:
    assert await verdict(policy, inbound(bot_authored=True), dm_policy="open") == "ignore"
