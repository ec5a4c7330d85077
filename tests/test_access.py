"""DM and group policy per channel, with approvals read from the real store."""

from __future__ import annotations

import pytest

from agentbox.config import ChannelConfig
from agentbox.gateway.access import AccessPolicy
from agentbox.store import Store
from tests.gatewaykit import inbound


@pytest.fixture
def policy(store: Store) -> AccessPolicy:
    return AccessPolicy(store.pairing, store.groups)


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


async def test_groups_answer_only_known_senders_unless_the_owner_opened_the_group(
    policy: AccessPolicy, store: Store
) -> None:
    """A stranger who adds the bot to their own group and mentions it gets nothing from the model."""
    plain = inbound(direct=False, chat="-100", sender="666")
    mention = inbound(direct=False, chat="-100", sender="666", mentioned=True)
    assert await verdict(policy, plain) == "ignore"  # mention rules first: no hint for chatter
    assert await verdict(policy, mention) == "pair_group"
    assert await verdict(policy, plain, group_policy="open") == "pair_group"
    assert await verdict(policy, mention, group_policy="disabled") == "ignore"
    # Senders who may DM the bot are answered in any group...
    assert await verdict(policy, mention, allow_from=["666"]) == "allow"
    assert await verdict(policy, mention, dm_policy="open") == "allow"
    await store.pairing.allow("telegram", "777", chat_id="777")
    friend = inbound(direct=False, chat="-100", sender="777", mentioned=True)
    decision = await policy.check(friend, ChannelConfig())
    assert (decision.verdict, decision.reason, decision.notify) == ("allow", "approved", True)
    assert await verdict(policy, inbound(direct=False, chat="-100", sender="777")) == "ignore"  # still needs @
    # ...and everyone in a group the owner opened: in config, or approved in the database.
    assert await verdict(policy, mention, groups=["-200"]) == "pair_group"
    assert await verdict(policy, mention, groups=["-100"]) == "allow"
    assert await verdict(policy, mention, groups=["*"]) == "allow"
    await store.groups.allow("telegram", "-100")
    assert await verdict(policy, mention) == "allow"
    assert await verdict(policy, inbound(direct=False, chat="-100", sender="666", channel="slack", mentioned=True)) == (
        "pair_group"  # approvals are per channel
    )
    await store.groups.revoke("telegram", "-100")
    assert await verdict(policy, mention) == "pair_group"


async def test_a_discord_server_is_the_group(policy: AccessPolicy, store: Store) -> None:
    in_general = inbound(direct=False, chat="111", sender="666", mentioned=True, channel="discord", group_id="999")
    in_random = inbound(direct=False, chat="222", sender="666", mentioned=True, channel="discord", group_id="999")
    assert await verdict(policy, in_general) == "pair_group"
    assert await verdict(policy, in_random, groups=["999"]) == "allow"  # the server opens all its channels
    assert await verdict(policy, in_general, groups=["111"]) == "allow"  # one channel id works too
    assert await verdict(policy, in_random, groups=["111"]) == "pair_group"
    await store.groups.allow("discord", "999")
    assert await verdict(policy, in_random) == "allow"


async def test_a_told_approved_sender_owes_no_notice(policy: AccessPolicy, store: Store) -> None:
    await store.pairing.allow("telegram", "7", chat_id="7")
    assert (await policy.check(inbound(sender="7"), ChannelConfig())).notify
    assert await store.pairing.claim_notice("telegram", "7")
    assert not await store.pairing.claim_notice("telegram", "7")  # claimed once only
    assert not (await policy.check(inbound(sender="7"), ChannelConfig())).notify


async def test_bot_messages_are_ignored(policy: AccessPolicy) -> None:
    assert await verdict(policy, inbound(bot_authored=True), dm_policy="open") == "ignore"
