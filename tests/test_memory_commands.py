"""`/memory` and `/forget ID|all`: each person sees and controls their own memories, a group its own,
in a chat through the gateway and in the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbox.cli.chat_repl import ChatSession
from agentbox.commands import help_text
from agentbox.memory.model import Scope
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until
from tests.helpers import runtime_on

OPEN = "[channels.telegram]\ndm_policy = 'open'\ngroups = ['-100777']\n"
ALICE, BOB, GROUP = Scope("sender", "telegram:42"), Scope("sender", "telegram:43"), Scope("chat", "telegram:-100777")


async def test_each_sender_lists_and_forgets_only_their_own(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        memory = gw.runner.memory
        dog = await memory.remember(ALICE, "The user's dog is called Biscuit.", cap=100)
        jazz = await memory.remember(BOB, "The user likes jazz.", cap=100)
        await memory.remember(GROUP, "The team ships on Thursdays.", cap=100)
        await memory.remember(Scope("agent", "main"), "Office hours are 9 to 5.", cap=100)

        async def say(text: str, **where: object) -> str:
            before = len(tg.sent)
            await tg.push(inbound(text, **where))  # type: ignore[arg-type]
            await wait_until(lambda: len(tg.sent) > before)
            return tg.sent[-1].text

        alice_list = await say("/memory", sender="42")
        bob_list = await say("/memory", sender="43")
        group_list = await say("/memory", sender="42", chat="-100777", direct=False, mentioned=True)
        refused = await say(f"/forget {jazz.memory_id}", sender="42")  # Bob's id, asked by Alice
        everyone = await say("/forget all", sender="43")
        usage = await say("/forget please", sender="43")
        forgot = await say(f"/forget #{dog.memory_id}", sender="42")
        left = {m.text for m in await gw.store.memory.newest()}
    assert f"#{dog.memory_id} The user's dog is called Biscuit." in alice_list
    assert "jazz" not in alice_list and "Thursdays" not in alice_list
    assert "Set by the owner for everyone:" in alice_list and "Office hours" in alice_list
    assert "jazz" in bob_list and "Biscuit" not in bob_list
    assert group_list.startswith("What I remember in this group:") and "Thursdays" in group_list
    assert "Biscuit" not in group_list and "jazz" not in group_list
    assert "Forgot 0 of 1" in refused
    assert everyone == "Forgot 1 memory." and usage.startswith("Use /forget ID")
    assert forgot == f"Forgot #{dog.memory_id}."
    assert left == {"The team ships on Thursdays.", "Office hours are 9 to 5."}  # the owner's facts stay
    assert fake_aimlapi.chat_requests() == []  # commands never call the model


async def test_the_terminal_manages_the_owners_memory(
    fake_aimlapi, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with runtime_on(fake_aimlapi, home) as rt:
        chat = ChatSession(rt, "cli:notes", interactive=False)
        await chat.command("/memory")
        owner = await rt.runner.memory.remember(Scope("sender", "cli:owner"), "The owner's cat is Miso.", cap=100)
        shared = await rt.runner.memory.remember(Scope("agent", "main"), "Office hours are 9 to 5.", cap=100)
        await rt.runner.memory.remember(ALICE, "The user's dog is called Biscuit.", cap=100)
        await chat.command("/memory")
        await chat.command(f"/forget {owner.memory_id} {shared.memory_id}")  # the owner may forget both
        left = [m.text for m in await rt.store.memory.newest()]
    out = capsys.readouterr().out
    assert "I don't remember anything about you yet." in out
    assert "The owner's cat is Miso." in out and "Biscuit" not in out
    assert f"Forgot #{owner.memory_id}, #{shared.memory_id}." in out
    assert left == ["The user's dog is called Biscuit."]
    assert "/memory" in help_text("terminal") and "/forget ID|all" in help_text("chat")


async def test_the_terminal_of_another_agent_manages_that_agents_memory(
    fake_aimlapi, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = "[agents.work]\nmodel = 'gpt-4o'\n"
    async with runtime_on(fake_aimlapi, home, config) as rt:
        chat = ChatSession(rt, "cli:work", interactive=False, agent_id="work")
        main = await rt.runner.memory.remember(Scope("agent", "main"), "Main's office hours are 9 to 5.", cap=100)
        work = await rt.runner.memory.remember(Scope("agent", "work"), "Standups are at 10.", cap=100)
        await chat.command("/memory")
        await chat.command(f"/forget {main.memory_id}")  # another agent's fact: not this chat's
        await chat.command(f"/forget {work.memory_id}")
        left = [m.text for m in await rt.store.memory.newest()]
    out = capsys.readouterr().out
    assert "Standups are at 10." in out and "Main's office hours" not in out
    assert "Forgot 0 of 1" in out and f"Forgot #{work.memory_id}." in out
    assert left == ["Main's office hours are 9 to 5."]


async def test_memory_off_says_so(fake_aimlapi, home: Path) -> None:
    tg = FakeConnector()
    config = OPEN + "[agents.main.memory]\nenabled = false\n"
    async with running_gateway(fake_aimlapi, home, tg, config=config):
        await tg.push(inbound("/memory", sender="42"))
        [reply] = await wait_until(lambda: tg.texts())
    assert reply == "Long-term memory is off here."
