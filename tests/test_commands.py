"""One table of slash commands: the gateway, the terminal chat and the platform menus read it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentbox.cli.chat_repl import ChatSession
from agentbox.commands import COMMANDS, MENU_TEXT_LIMIT, command_router, commands_for, help_text, parse_command
from agentbox.config import Config
from agentbox.gateway.commands import ChatCommands
from agentbox.gateway.commands import parse_command as parse_chat_command
from agentbox.messages import Inbound
from tests.fakes.aimlapi import Fail, FakeAimlapi
from tests.helpers import runtime_on


@pytest.fixture
async def terminal(fake_aimlapi: FakeAimlapi, home: Path) -> AsyncIterator[ChatSession]:
    """`agentbox chat` on session cli:repl, without the terminal: commands and answers print to stdout."""
    async with runtime_on(fake_aimlapi, home) as rt:
        yield ChatSession(rt, "cli:repl", interactive=False)


async def test_new_in_the_terminal_starts_fresh_in_the_same_session_like_in_a_chat(
    terminal: ChatSession, fake_aimlapi: FakeAimlapi, capsys: pytest.CaptureFixture[str]
) -> None:
    await terminal.answer("my name is Ada")
    await terminal.command("/new")
    await terminal.answer("what is my name?")
    await terminal.command("/reset")
    await terminal.answer("and now?")
    sessions = [info.key for info in await terminal.rt.store.sessions.all()]
    turns = await terminal.rt.store.sessions.transcript("cli:repl")
    assert terminal.session == "cli:repl" and sessions == ["cli:repl"]  # no second session was opened
    assert [turn["user_text"] for turn in turns] == ["my name is Ada", "what is my name?", "and now?"]
    sent = [[m["content"] for m in body["messages"] if m["role"] == "user"] for body in fake_aimlapi.chat_requests()]
    assert sent == [["my name is Ada"], ["what is my name?"], ["and now?"]]
    assert capsys.readouterr().out.count("Started a fresh conversation.") == 2


async def test_model_default_goes_back_in_the_terminal_too(
    terminal: ChatSession, capsys: pytest.CaptureFixture[str]
) -> None:
    await terminal.command("/model gpt-4o")
    await terminal.command("/model default")
    info = await terminal.rt.store.sessions.get("cli:repl")
    assert info is not None and info.model is None
    default = Config().agent("main").model
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Model: gpt-4o" and out[1].startswith("gpt-4o is not among") and out[2:] == [f"Model: {default}"]


async def test_an_unconfigured_model_is_taken_in_the_terminal_with_one_line_saying_so(
    terminal: ChatSession, fake_aimlapi: FakeAimlapi, capsys: pytest.CaptureFixture[str]
) -> None:
    configured = Config().agent("main").model
    await terminal.command(f"/model {configured.upper()}")  # configured, letter case aside: no note
    assert capsys.readouterr().out.splitlines() == [f"Model: {configured.upper()}"]
    await terminal.command("/model no/such-model")
    info = await terminal.rt.store.sessions.get("cli:repl")
    assert info is not None and info.model == "no/such-model"  # the machine is yours: it is used
    assert capsys.readouterr().out.splitlines() == [
        "Model: no/such-model",
        f"no/such-model is not among agent main's configured models ({configured}); "
        "using it anyway: the next answer shows whether the AI/ML API knows it.",
    ]
    fake_aimlapi.script(Fail(404))
    await terminal.answer("hi")
    assert "the model service does not know this model" in capsys.readouterr().out  # as promised
    assert [body["model"] for body in fake_aimlapi.chat_requests()] == ["no/such-model"]


async def test_help_is_the_table_on_both_sides(terminal: ChatSession, capsys: pytest.CaptureFixture[str]) -> None:
    inbound = Inbound("telegram", "42", "7", "42", "/help", is_direct=True)
    for text in ("/help", "/start", "/HELP@my_bot"):
        command = parse_chat_command(text)
        assert command is not None
        commands = ChatCommands(Config(), terminal.rt.store)
        reply = await commands.run(command, inbound, session_key="telegram:dm:42", agent_id="main")
        assert reply == help_text("chat")
    await terminal.command("/help")
    assert capsys.readouterr().out.strip() == help_text("terminal")
    for spec in COMMANDS:
        for surface in ("chat", "terminal"):
            listed = f"/{spec.name}" in help_text(surface)
            assert listed == (spec.listed and surface in spec.where), (spec.name, surface)


def test_each_side_parses_only_its_own_commands() -> None:
    assert parse_chat_command("/exit") is None  # in a chat, /exit is text for the model
    assert parse_command("/start", "terminal") is None
    exit_command = parse_command("/quit", "terminal")
    assert exit_command is not None and exit_command.name == "exit"
    model = parse_chat_command("  /Model@my_bot  openai/gpt-4o  ")
    assert model is not None and (model.name, model.argument) == ("model", "openai/gpt-4o")
    assert parse_chat_command("/newsletter please") is None and parse_chat_command("new") is None


def test_a_side_that_misses_a_command_of_the_table_is_refused() -> None:
    async def handler(_: str) -> None:
        return None

    names = {spec.name for spec in commands_for("terminal")}
    assert command_router("terminal", dict.fromkeys(names, handler)).keys() == names
    with pytest.raises(ValueError, match="do not match the table"):
        command_router("terminal", dict.fromkeys(names - {"status"}, handler))
    with pytest.raises(ValueError, match="do not match the table"):
        command_router("chat", dict.fromkeys(names, handler))  # /exit is not a chat command


def test_menu_texts_fit_every_platform() -> None:
    for spec in COMMANDS:
        text = spec.menu_text()
        assert 0 < len(text) <= MENU_TEXT_LIMIT and "\n" not in text, spec.name
        assert spec.name.isascii() and spec.name.islower() and len(spec.name) <= 32  # Telegram's command rules
