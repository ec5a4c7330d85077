"""The turn's types say what they carry: an `Address` (not three loose fields), a `Literal` status,
and typed services for tools (no `dict[str, Any]` bag)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from agentbox.aimlapi import AimlapiClient
from agentbox.config import Config
from agentbox.memory.service import TurnMemory
from agentbox.messages import Address
from agentbox.store import Store
from agentbox.turn.deps import JobService, SessionContext, TurnDeps
from agentbox.turn.runner import TurnRequest, TurnResult
from tests.fakes.aimlapi import FakeAimlapi
from tests.helpers import runtime_on


async def test_a_turn_opens_its_session_where_its_address_points(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    topic = Address("telegram", "-1001234567890", thread_id="77", reply_to="9001")
    async with runtime_on(fake_aimlapi, home) as rt:
        in_topic = await rt.runner.run(
            TurnRequest("telegram:group:-1001234567890:thread:77", "hi", sender_id="42", address=topic)
        )
        in_terminal = await rt.runner.run(TurnRequest("cli:default", "hi"))
        topic_session = await rt.store.sessions.get("telegram:group:-1001234567890:thread:77")
        terminal_session = await rt.store.sessions.get("cli:default")
    assert in_topic.status == in_terminal.status == "ok"
    assert topic_session is not None and terminal_session is not None
    assert (topic_session.channel, topic_session.chat_id, topic_session.thread_id) == (
        "telegram",
        "-1001234567890",
        "77",
    )
    assert (terminal_session.channel, terminal_session.chat_id, terminal_session.thread_id) == ("cli", "", None)


def test_the_request_carries_the_address_and_nothing_that_repeats_it() -> None:
    names = {field.name for field in dataclasses.fields(TurnRequest)}
    assert names.isdisjoint({"channel", "chat_id", "thread_id"}) and "address" in names
    assert TurnRequest("k", "t", address=Address("slack", "C1")).channel == "slack"
    assert TurnRequest("k", "t").channel == "cli"
    session_fields = {field.name for field in dataclasses.fields(SessionContext)}
    assert "channel" not in session_fields
    assert SessionContext("k", address=Address("discord", "5")).channel == "discord"


def test_a_turn_status_is_one_of_three() -> None:
    assert get_type_hints(TurnResult)["status"] == Literal["ok", "failed", "refused"]


def test_tools_get_typed_services_not_a_bag() -> None:
    hints = get_type_hints(
        TurnDeps,
        localns={
            "Config": Config,
            "AimlapiClient": AimlapiClient,
            "Store": Store,
            "JobService": JobService,
            "TurnMemory": TurnMemory,
        },
    )
    for name, hint in hints.items():
        assert hint is not Any and Any not in get_args(hint), name
        assert not any(get_args(arg) and Any in get_args(arg) for arg in get_args(hint)), name
    assert hints["jobs"] == JobService | None
    assert hints["memory"] == TurnMemory | None
