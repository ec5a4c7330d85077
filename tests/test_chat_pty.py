"""`agentbox chat` on a real pseudo-terminal: Ctrl-C stops an answer, Ctrl-C / Ctrl-D at the prompt quit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.clirun import invoke
from tests.fakes.aimlapi import FakeAimlapi, Reply
from tests.helpers import cli_env
from tests.ptyproc import PtyProcess

LONG_STORY = " ".join(f"word{n}" for n in range(400))

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")]


@pytest.fixture
def slow_fake() -> object:
    with FakeAimlapi(chunk_delay=0.2) as fake:  # each streamed word arrives 0.2 s after the last
        yield fake


@pytest.fixture
def chat(home: Path, slow_fake: FakeAimlapi) -> object:
    session = PtyProcess(["chat", "--session", "pty"], cli_env(home, slow_fake))
    try:
        yield session
    finally:
        session.close()


def test_ctrl_c_mid_answer_stops_it_and_keeps_the_question(
    chat: PtyProcess, slow_fake: FakeAimlapi, home: Path
) -> None:
    slow_fake.script(Reply(text=LONG_STORY))  # 400 words: minutes of streaming unless stopped
    at = chat.expect("you> ")
    chat.type("tell me a very long story\r")
    at = chat.expect("bot> word0", after=at)
    chat.type("\x03")
    at = chat.expect("[answer stopped; the question is kept in the transcript]", after=at)
    at = chat.expect("you> ", after=at)
    assert "word399" not in chat.output and "Traceback" not in chat.output

    chat.type("and now a short one\r")  # the chat goes on, same session
    at = chat.expect("echo: and now a short one", after=at)
    at = chat.expect("you> ", after=at)
    chat.type("/status\r")
    at = chat.expect("· 2 turns ·", after=at)
    chat.expect("you> ", after=at)
    chat.type("\x04")
    assert chat.exit_code() == 0

    shown = invoke(home, "sessions", "show", "pty", "--json")
    turns = [(t["status"], t["user_text"]) for t in json.loads(shown.stdout)["turns"]]
    assert turns == [("cancelled", "tell me a very long story"), ("ok", "and now a short one")]
    # The stopped question is in the transcript but not in what the model was sent next.
    sent = [m["content"] for m in slow_fake.last_chat()["messages"] if m["role"] == "user"]
    assert sent == ["and now a short one"]


def test_ctrl_c_at_the_prompt_quits_at_once(chat: PtyProcess) -> None:
    chat.expect("you> ")
    chat.type("\x03")
    assert chat.exit_code() == 0
    assert "Traceback" not in chat.output


def test_ctrl_d_at_the_prompt_quits_at_once(chat: PtyProcess) -> None:
    chat.expect("you> ")
    chat.type("\x04")
    assert chat.exit_code() == 0
    assert "Traceback" not in chat.output


def test_one_turn_is_counted_in_the_singular(chat: PtyProcess) -> None:
    at = chat.expect("you> ")
    chat.type("hello\r")
    at = chat.expect("echo: hello", after=at)
    at = chat.expect("you> ", after=at)
    chat.type("/status\r")
    chat.expect("· 1 turn ·", after=at)
    chat.type("/exit\r")
    assert chat.exit_code() == 0
