"""`agentbox chat` on a real pseudo-terminal: Ctrl-C stops an answer, Ctrl-C / Ctrl-D at the prompt quit.

The chat runs as the session leader of a new pty (its controlling terminal), so the bytes typed
into the master side (`\\x03`, `\\x04`) become SIGINT and end-of-file exactly as on a terminal.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clirun import invoke
from tests.fakes.aimlapi import FakeAimlapi, Reply
from tests.helpers import cli_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

WAIT = 60.0  # generous: the machine is shared; nothing asserts on how long things take
# Become the session leader, take the pty as controlling terminal, then exec the real CLI.
LAUNCHER = (
    "import fcntl, os, sys, termios\n"
    "os.setsid()\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'agentbox.cli.main', *sys.argv[1:]])\n"
)
LONG_STORY = " ".join(f"word{n}" for n in range(400))


class PtyChat:
    """`agentbox chat` on a pty; `expect` reads until a text appears, `type` sends keystrokes."""

    def __init__(self, home: Path, fake: FakeAimlapi, session: str) -> None:
        master, slave = os.openpty()
        env = cli_env(home, fake, TERM="dumb", COLUMNS="80")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, "chat", "--session", session],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.output = ""

    def expect(self, text: str, *, after: int = 0) -> int:
        """Read until `text` appears after offset `after`; returns the offset just past it."""
        deadline = time.monotonic() + WAIT
        while (found := self.output.find(text, after)) < 0:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; output so far:\n{self.output}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"the chat ended before {text!r}; output:\n{self.output}"
                self.output += chunk.decode("utf-8", "replace")
        return found + len(text)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def exit_code(self) -> int:
        """Wait for the process to end (draining the terminal so it never blocks on output)."""
        deadline = time.monotonic() + WAIT
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"the chat did not exit; output:\n{self.output}"
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.master, 4096).decode("utf-8", "replace")
                except OSError:
                    pass
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def slow_fake() -> object:
    with FakeAimlapi(chunk_delay=0.2) as fake:  # each streamed word arrives 0.2 s after the last
        yield fake


@pytest.fixture
def chat(home: Path, slow_fake: FakeAimlapi) -> object:
    session = PtyChat(home, slow_fake, "pty")
    try:
        yield session
    finally:
        session.close()


def test_ctrl_c_mid_answer_stops_it_and_keeps_the_question(chat: PtyChat, slow_fake: FakeAimlapi, home: Path) -> None:
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


def test_ctrl_c_at_the_prompt_quits_at_once(chat: PtyChat) -> None:
    chat.expect("you> ")
    chat.type("\x03")
    assert chat.exit_code() == 0
    assert "Traceback" not in chat.output


def test_ctrl_d_at_the_prompt_quits_at_once(chat: PtyChat) -> None:
    chat.expect("you> ")
    chat.type("\x04")
    assert chat.exit_code() == 0
    assert "Traceback" not in chat.output


def test_one_turn_is_counted_in_the_singular(chat: PtyChat) -> None:
    at = chat.expect("you> ")
    chat.type("hello\r")
    at = chat.expect("echo: hello", after=at)
    at = chat.expect("you> ", after=at)
    chat.type("/status\r")
    chat.expect("· 1 turn ·", after=at)
    chat.type("/exit\r")
    assert chat.exit_code() == 0
