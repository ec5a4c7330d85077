"""The terminal chat loop behind `agentbox chat`."""

from __future__ import annotations

import asyncio
import sys
import time

from agentbox.config import Config

HELP = """Commands:
  /new         start a fresh session (new key; the old one is kept)
  /reset       forget this session's history (the transcript is kept)
  /model ID    use another model in this session (/model alone shows it)
  /status      model, session and tokens used
  /help        this help
  /exit        quit (Ctrl-D works too)"""


async def _read_line(prompt: str) -> str | None:
    def read() -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    return await asyncio.to_thread(read)


async def repl(config: Config, session: str) -> int:
    from agentbox.runtime import open_runtime
    from agentbox.turns import TurnRequest

    interactive = sys.stdin.isatty()
    prompt = "you> " if interactive else ""
    async with open_runtime(config) as rt:
        if interactive:
            print(f"agentbox chat — session {session}, model {await rt.runner.model_for(TurnRequest(session, ''))}")
            print("Type /help for commands.")
        while True:
            line = await _read_line(prompt)
            if line is None:
                return 0
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                command, _, arg = line.partition(" ")
                arg = arg.strip()
                if command in ("/exit", "/quit"):
                    return 0
                if command == "/help":
                    print(HELP)
                elif command == "/new":
                    session = f"cli:chat-{time.strftime('%Y%m%d-%H%M%S')}"
                    print(f"New session: {session}")
                elif command == "/reset":
                    await rt.store.sessions.reset(session)
                    print("History cleared for this session (the transcript is kept).")
                elif command == "/model":
                    if arg:
                        await rt.store.sessions.ensure(session, channel="cli")
                        await rt.store.sessions.set_model(session, arg)
                    print(f"Model: {await rt.runner.model_for(TurnRequest(session, ''))}")
                elif command == "/status":
                    info = await rt.store.sessions.get(session)
                    model = await rt.runner.model_for(TurnRequest(session, ""))
                    turns = info.turns if info else 0
                    tokens = (info.input_tokens + info.output_tokens) if info else 0
                    usd = info.usd if info else 0.0
                    print(f"session {session} · model {model} · {turns} turns · {tokens} tokens · ${usd:.4f}")
                else:
                    print(f"Unknown command {command}. /help lists them.")
                continue
            streamed = False

            async def show(delta: str) -> None:
                nonlocal streamed
                if not streamed and interactive:
                    sys.stdout.write("bot> ")
                streamed = True
                sys.stdout.write(delta)
                sys.stdout.flush()

            result = await rt.runner.run(TurnRequest(session_key=session, text=line), on_delta=show)
            if not streamed or not result.ok:
                sys.stdout.write(("bot> " if interactive else "") + result.reply)
            sys.stdout.write("\n")
            for item in result.attachments:
                sys.stdout.write(f"[{item.kind}] {item.describe()}\n")
            sys.stdout.flush()
