"""`agentbox agent` (one turn) and `agentbox chat` (interactive terminal chat)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from agentbox.cli.common import config_or_exit, database_errors, fail, print_json, run_async

CLI_SESSION = "cli:default"


def agent(
    message: Annotated[str, typer.Option("--message", "-m", help="The message to send.")],
    session: Annotated[str, typer.Option("--session", "-s", help="Session key (memory).")] = CLI_SESSION,
    image: Annotated[list[str] | None, typer.Option("--image", "-i", help="Image file or URL (repeatable).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model id for this turn.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run one turn through the same pipeline the gateway uses, with memory."""
    config = config_or_exit()
    from agentbox.vision import load_image

    images = tuple(load_image(spec, config.vision) for spec in image or [])  # an InputError exits 2
    if not message.strip() and not images:
        fail("the message is empty", 2)
    code = run_async(_agent(config, message, session, images, model, as_json))
    raise typer.Exit(code)


async def _agent(config, message, session, images, model, as_json) -> int:  # type: ignore[no-untyped-def]
    from agentbox.cli.failures import terminal_failure
    from agentbox.cli.gateway_client import GatewaySchedules
    from agentbox.cli.termsafe import terminal_safe
    from agentbox.runtime import open_runtime
    from agentbox.turn.runner import TurnRequest

    async with open_runtime(config) as rt:
        rt.runner.schedules = GatewaySchedules(config)  # the schedule tools tell a running gateway
        request = TurnRequest(session_key=session, text=message, images=images, model=model)
        if as_json:
            result = await rt.runner.run(request)
            print_json(result.as_json())
        else:
            streamed: list[str] = []

            async def show(delta: str) -> None:
                streamed.append(delta)
                sys.stdout.write(terminal_safe(delta))  # a reply can carry escape sequences from a web page
                sys.stdout.flush()

            result = await rt.runner.run(request, on_delta=show)
            if not result.ok or not streamed:
                sys.stdout.write(terminal_safe(terminal_failure(result, one_shot=True) or result.reply))
            sys.stdout.write("\n")
            for item in result.attachments:
                sys.stdout.write(terminal_safe(f"[{item.kind}] {item.describe()}", single_line=True) + "\n")
        return 0 if result.ok else 1


def chat(
    session: Annotated[str, typer.Option("--session", "-s", help="Session key (memory).")] = CLI_SESSION,
) -> None:
    """Interactive terminal chat with streaming output. /help lists the commands."""
    config = config_or_exit()
    from agentbox.cli.chat_repl import run_chat

    with database_errors():
        code = run_chat(config, session)
    raise typer.Exit(code)
