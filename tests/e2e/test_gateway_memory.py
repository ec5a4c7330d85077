"""End to end: long-term memory in a real `agentbox gateway run` process on the fake Telegram Bot API, with
two senders and a group. Nothing one person tells the assistant reaches the other's requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.gatewayproc import start_gateway, wait_for
from tests.e2e.platforms import user_text
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import run_cli

ALICE, BOB, GROUP = 835750362, 421337001, -100777
OPEN = "dm_policy = 'open'\ngroups = ['-100777']"


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def remembers(body: dict[str, Any]) -> Reply:
    """The fake model: asked to remember, it calls the tool once; otherwise it echoes."""
    text = user_text(body)
    if body["messages"][-1]["role"] == "user" and text.startswith("remember: "):
        return Reply(tool_calls=[ToolCall("remember", {"text": text.removeprefix("remember: ")})])
    if body["messages"][-1]["role"] == "tool":
        return Reply(text="Noted.")
    return Reply(text=f"echo: {text}")


def test_two_senders_memories_never_cross(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    fake_aimlapi.responder = remembers
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, OPEN)
    processes.append(gateway)
    gateway.wait_ready()

    def ask(chat: int, text: str, sender: int, expect: str, **kwargs: Any) -> dict[str, Any]:
        asked = len(fake_aimlapi.chat_requests())
        fake_telegram.push_text(chat, text, from_id=sender, **kwargs)
        wait_for(lambda: any(expect in t for t in fake_telegram.sent_messages(chat)), what=f"the answer to {text!r}")
        [request, *_] = fake_aimlapi.chat_requests()[asked:]  # the turn's first request carries the recall
        return request

    ask(ALICE, "remember: The user's dog is called Pretzel.", ALICE, "Noted.")
    ask(BOB, "remember: The user's dog is called Rex.", BOB, "Noted.")
    fake_telegram.push_text(ALICE, "/new", from_id=ALICE)
    wait_for(lambda: any("fresh conversation" in t for t in fake_telegram.sent_messages(ALICE)), what="/new")
    alice = ask(ALICE, "what is my dog called?", ALICE, "echo: what is my dog called?")
    bob = ask(BOB, "and what is my dog called?", BOB, "echo: and what is my dog called?")
    group = ask(GROUP, f"@{fake_telegram.bot_username} what is the dog called?", ALICE, "echo:", chat_type="supergroup")
    assert '"The user\'s dog is called Pretzel."' in system_text(alice) and "Rex" not in json.dumps(alice)
    assert '"The user\'s dog is called Rex."' in system_text(bob) and "Pretzel" not in json.dumps(bob)
    assert "Pretzel" not in json.dumps(group) and "Rex" not in json.dumps(group)  # a DM's memory stays in the DM

    fake_telegram.push_text(BOB, "/memory", from_id=BOB)
    wait_for(lambda: any("What I remember about you" in t for t in fake_telegram.sent_messages(BOB)), what="/memory")
    [listing] = [t for t in fake_telegram.sent_messages(BOB) if "What I remember" in t]
    assert "Rex" in listing and "Pretzel" not in listing

    listed = run_cli("memory", "list", "--json", env=gateway.env)
    assert listed.returncode == 0, listed.stderr
    scopes = {m["scope"]: m["text"] for m in json.loads(listed.stdout)}
    assert scopes == {
        f"sender:telegram:{ALICE}": "The user's dog is called Pretzel.",
        f"sender:telegram:{BOB}": "The user's dog is called Rex.",
    }
    assert gateway.terminate() == 0
