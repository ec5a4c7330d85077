"""Who the gateway answers in groups, `/model` limits and the approval notice, on the real store and runner
(a protocol-level fake connector; the fake AI/ML API over HTTP)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from agentbox.gateway.access import PairingService
from agentbox.gateway.approval_notices import APPROVED_NOTICE
from agentbox.gateway.group_pairing import GroupPairing
from agentbox.gateway.lifecycle import Gateway
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until
from tests.helpers import cli_env, run_cli

GROUP = "-1001234567"
HINT = re.compile(r"agentbox pairing approve-group telegram ([A-Z2-9]{8})")


async def settled(gw: Any, rows: int) -> dict[str, int]:
    """Inbox counts once `rows` messages are finished (nothing pending): every decision was taken."""
    for _ in range(500):
        counts: dict[str, int] = await gw.store.inbox.counts()
        if sum(counts.values()) >= rows and not counts.get("pending"):
            return counts
        await asyncio.sleep(0.01)
    raise AssertionError(f"inbox did not settle: {counts}")


def mention(text: str, sender: str, chat: str = GROUP) -> Any:
    return inbound(text, sender=sender, chat=chat, direct=False, mentioned=True, group_name="Strangers' club")


async def test_strangers_in_an_unknown_group_get_one_hint_and_no_model_call(fake_aimlapi, home: Path) -> None:
    """A stranger adds the bot to their own group: no tools, no /model, no spending, one short hint."""
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        for sender in ("666", "667", "668"):
            await tg.push(mention("/model o1-pro", sender))
            await tg.push(mention("/new", sender))
            await tg.push(mention("write me a novel", sender))
        await settled(gw, 9)
        [hint] = tg.texts(GROUP)
        code = HINT.search(hint)
        assert code is not None, hint
        assert await gw.store.sessions.get(f"telegram:group:{GROUP}") is None  # /model and /new did nothing
        await tg.push(mention("hello?", "666", chat="-100999"))  # another group gets its own hint
        await settled(gw, 10)
        assert len(tg.texts("-100999")) == 1
    async with running_gateway(fake_aimlapi, home, tg) as gw:  # a restart does not repeat the hint
        await tg.push(mention("anyone?", "669"))
        await settled(gw, 11)
        assert tg.texts(GROUP) == [hint]
        assert fake_aimlapi.chat_requests() == []

        await GroupPairing(gw.store.groups, gw.store.pairing).approve("telegram", code.group(1))
        await tg.push(mention("now?", "669"))
        await wait_until(lambda: "echo: now?" in tg.texts(GROUP))
    assert len(fake_aimlapi.chat_requests()) == 1


async def test_a_paired_sender_is_answered_in_a_group_nobody_opened(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        await gw.store.pairing.allow("telegram", "835750362", chat_id="835750362")
        await gw.store.pairing.claim_notice("telegram", "835750362")
        await tg.push(inbound("chatter", sender="835750362", chat=GROUP, direct=False))  # still needs a mention
        await tg.push(mention("what time is it?", "835750362"))
        await wait_until(lambda: tg.texts(GROUP))
        await settled(gw, 2)
    assert tg.texts(GROUP) == ["echo: what time is it?"]


async def test_model_switches_only_to_models_the_owner_allowed(fake_aimlapi, home: Path) -> None:
    config = "[channels.telegram]\ndm_policy = 'open'\n[agents.main]\nallowed_models = ['openai/gpt-4o']\n"
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=config) as gw:
        await tg.push(inbound("/model o1-pro"))
        await tg.push(inbound("/model"))
        await tg.push(inbound("/model aimlapi/OpenAI/GPT-4o"))
        await wait_until(lambda: len(tg.sent) == 3)
        info = await gw.store.sessions.get("telegram:dm:42")
        # An override stored before the owner narrowed the list is not used either.
        await gw.store.sessions.ensure("telegram:dm:43", channel="telegram", chat_id="43", agent="main")
        await gw.store.sessions.set_model("telegram:dm:43", "o1-pro")
        await tg.push(inbound("hi", sender="43"))
        await wait_until(lambda: len(tg.sent) == 4)
    refused, listed, switched = tg.texts()[:3]
    assert "o1-pro is not one of the models allowed here: gpt-4o-mini, openai/gpt-4o" in refused
    assert "allowed_models under [agents.main]" in refused
    assert "Allowed: gpt-4o-mini, openai/gpt-4o" in listed
    assert switched == "This chat now uses openai/gpt-4o."
    assert info is not None and info.model == "openai/gpt-4o"
    assert [body["model"] for body in fake_aimlapi.chat_requests()] == ["gpt-4o-mini"]


async def asked_to_pair(tg: FakeConnector, gw: Any, sender: str = "9") -> str:
    """The sender writes once and gets a code; returns it."""
    await tg.push(inbound("hi", sender=sender))
    await wait_until(lambda: tg.sent)
    [request] = await gw.pairing.pending()
    return str(request.code)


@pytest.fixture
def no_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The notice must not depend on the slow safety-net sweep."""
    monkeypatch.setattr(Gateway, "notify_interval", 3600.0)


async def test_the_approval_notice_comes_before_the_first_answer(fake_aimlapi, home: Path, no_sweep: None) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        code = await asked_to_pair(tg, gw)
        await PairingService(gw.store.pairing).approve("telegram", code)  # as the CLI, without its poke
        await tg.push(inbound("what is 2+2?", sender="9"))
        await wait_until(lambda: len(tg.sent) == 3)
        await tg.push(inbound("and 3+3?", sender="9"))
        await wait_until(lambda: len(tg.sent) == 4)
    assert tg.texts()[1:] == [APPROVED_NOTICE, "echo: what is 2+2?", "echo: and 3+3?"]
    assert all(sent.address.chat_id == "9" for sent in tg.sent)


async def test_cli_approval_tells_the_sender_at_once(fake_aimlapi, home: Path, no_sweep: None) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        code = await asked_to_pair(tg, gw)
        approved = await asyncio.to_thread(run_cli, "pairing", "approve", "telegram", code, env=cli_env(home))
        assert approved.returncode == 0, approved.stderr
        assert approved.stdout == "Approved telegram sender 9.\nThey were told they can talk now.\n"
        assert tg.texts() == [tg.texts()[0], APPROVED_NOTICE]  # before they wrote anything
        await tg.push(inbound("thanks!", sender="9"))
        await wait_until(lambda: len(tg.sent) == 3)
    assert tg.texts()[1:] == [APPROVED_NOTICE, "echo: thanks!"]  # told once


async def test_an_approval_made_while_no_gateway_ran_is_told_when_it_starts(
    fake_aimlapi, home: Path, no_sweep: None
) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        code = await asked_to_pair(tg, gw)
    approved = await asyncio.to_thread(run_cli, "pairing", "approve", "telegram", code, env=cli_env(home))
    assert "No gateway is running: they are told they can talk when it starts." in approved.stdout
    async with running_gateway(fake_aimlapi, home, tg):
        await wait_until(lambda: len(tg.sent) == 2)
    assert tg.texts()[1] == APPROVED_NOTICE and tg.sent[1].address.chat_id == "9"
