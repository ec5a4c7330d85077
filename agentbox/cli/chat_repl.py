"""The terminal chat loop behind `agentbox chat`.

The prompt is read with `input()` on the main thread, outside the event loop, so Ctrl-C or
Ctrl-D there leaves at once. Each answer runs on one long-lived event loop (`asyncio.Runner`),
whose Ctrl-C handling cancels the running task: Ctrl-C mid-answer stops that answer only,
records the question as a `cancelled` turn (the transcript keeps it) and returns to the prompt.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from agentbox.cli.failures import terminal_failure
from agentbox.cli.termsafe import terminal_safe
from agentbox.commands import FRESH_START, command_router, help_text, parse_command
from agentbox.config import Config
from agentbox.plural import plural

if TYPE_CHECKING:
    from agentbox.memory.scopes import Speaker
    from agentbox.runtime import Runtime

INTERRUPTED = 130  # a second Ctrl-C while an answer was being stopped


class ChatSession:
    """One chat: the runtime, the session key, and how to print to this terminal."""

    def __init__(self, rt: Runtime, session: str, *, interactive: bool, agent_id: str = "main") -> None:
        self.rt = rt
        self.session = session
        self.agent_id = agent_id
        self.interactive = interactive
        self.done = False  # /exit was typed
        self._handlers: dict[str, Callable[[str], Awaitable[None]]] = command_router(
            "terminal",
            {
                "new": self._new,
                "status": self._status,
                "model": self._model,
                "memory": self._memory,
                "forget": self._forget,
                "help": self._help,
                "exit": self._exit,
            },
        )

    async def banner(self) -> None:
        agent = "" if self.agent_id == "main" else f"agent {self.agent_id}, "
        print(f"agentbox chat — {agent}session {self.session}, model {await self._current_model()}")
        print("Type /help for commands. Ctrl-C stops an answer; Ctrl-D or Ctrl-C at the prompt quits.")

    async def command(self, line: str) -> None:
        """Run the slash command on `line` (the table in `agentbox.commands`, terminal side)."""
        invocation = parse_command(line, "terminal")
        if invocation is None:
            print(f"Unknown command {line.split(maxsplit=1)[0]}. /help lists them.")
            return
        await self._handlers[invocation.name](invocation.argument)

    async def _current_model(self) -> str:
        from agentbox.turn.runner import TurnRequest

        return await self.rt.runner.model_for(TurnRequest(self.session, "", agent_id=self.agent_id))

    async def _help(self, _: str) -> None:
        print(help_text("terminal"))

    async def _exit(self, _: str) -> None:
        self.done = True

    async def _new(self, _: str) -> None:
        await self.rt.store.sessions.reset(self.session)
        print(FRESH_START)

    async def _model(self, arg: str) -> None:
        """Any model id goes at the terminal (the machine is yours); one outside the config is named as such."""
        from agentbox.gateway.commands import allowed_model

        sessions = self.rt.store.sessions
        default = arg.lower() in ("default", "reset")
        if arg:
            await sessions.ensure(self.session, channel="cli", agent=self.agent_id)
            await sessions.set_model(self.session, None if default else arg)
        print(f"Model: {await self._current_model()}")
        choices = self.rt.config.agent(self.agent_id).model_choices()
        if arg and not default and allowed_model(arg, choices) is None:
            print(
                terminal_safe(
                    f"{arg} is not among agent {self.agent_id}'s configured models ({', '.join(choices)}); "
                    "using it anyway: the next answer shows whether the AI/ML API knows it."
                )
            )

    async def _memory(self, _: str) -> None:
        from agentbox.memory.commands import OFF, memory_reply

        memory = self.rt.runner.memory
        print(terminal_safe(await memory_reply(memory, self._speaker()) if memory else OFF))

    async def _forget(self, arg: str) -> None:
        from agentbox.memory.commands import OFF, forget_reply

        memory = self.rt.runner.memory
        print(terminal_safe(await forget_reply(memory, self._speaker(), arg) if memory else OFF))

    def _speaker(self) -> Speaker:
        from agentbox.memory.scopes import Speaker

        return Speaker(self.agent_id, "cli", self.session)

    async def _status(self, _: str) -> None:
        from agentbox.gateway.commands import fallback_line

        info = await self.rt.store.sessions.get(self.session)
        turns = info.turns if info else 0
        tokens = (info.input_tokens + info.output_tokens) if info else 0
        usd = info.usd if info else 0.0
        print(
            f"session {self.session} · model {await self._current_model()} · {plural(turns, 'turn')} · "
            f"{plural(tokens, 'token')} · ${usd:.4f}"
        )
        if line := await fallback_line(self.rt.store, self.session):
            print(line.rstrip())

    async def answer(self, text: str) -> None:
        """Stream one answer; a Ctrl-C (the task cancelled) stops it and keeps the question as a cancelled turn."""
        from agentbox.turn.runner import TurnRequest

        request = TurnRequest(session_key=self.session, text=text, agent_id=self.agent_id)
        started = time.time()
        shown: list[str] = []

        async def show(delta: str) -> None:
            if not shown and self.interactive:
                sys.stdout.write("bot> ")
            shown.append(delta)
            sys.stdout.write(terminal_safe(delta))  # a reply can carry escape sequences from a web page
            sys.stdout.flush()

        try:
            result = await self.rt.runner.run(request, on_delta=show)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # Ctrl-C stopped this answer, not the chat
            await self.rt.runner.record_cancelled(request, started=started, partial_reply="".join(shown))
            sys.stdout.write("\n[answer stopped; the question is kept in the transcript]\n")
            sys.stdout.flush()
            return
        if not shown or not result.ok:
            reply = terminal_failure(result, one_shot=False) or result.reply
            sys.stdout.write(("bot> " if self.interactive else "") + terminal_safe(reply))
        sys.stdout.write("\n")
        for item in result.attachments:
            sys.stdout.write(terminal_safe(f"[{item.kind}] {item.describe()}", single_line=True) + "\n")
        sys.stdout.flush()


def run_chat(config: Config, session: str, agent_id: str = "main") -> int:
    """Run the chat until /exit, Ctrl-D or Ctrl-C at the prompt (exit 0); a second Ctrl-C mid-stop exits 130."""
    from agentbox.cli.gateway_client import GatewaySchedules
    from agentbox.runtime import open_runtime

    interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401  # line editing and history for input()
        except ImportError:
            pass
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        try:
            rt = runner.run(stack.enter_async_context(open_runtime(config)))
        except KeyboardInterrupt:
            return INTERRUPTED
        rt.runner.schedules = GatewaySchedules(config)  # the schedule tools tell a running gateway
        try:
            return _loop(runner, ChatSession(rt, session, interactive=interactive, agent_id=agent_id))
        except KeyboardInterrupt:
            print()
            return INTERRUPTED
        finally:
            runner.run(stack.aclose())


def _loop(runner: asyncio.Runner, chat: ChatSession) -> int:
    if chat.interactive:
        runner.run(chat.banner())
    prompt = "you> " if chat.interactive else ""
    while True:
        try:
            line = input(prompt).strip()
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the prompt: leave now
            if chat.interactive:
                print()
            return 0
        if not line:
            continue
        if line.startswith("/"):
            runner.run(chat.command(line))
            if chat.done:
                return 0
        else:
            runner.run(chat.answer(line))
