"""`agentbox agent` (one turn) and `agentbox chat` (interactive terminal chat)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentbox.cli.common import config_or_exit, database_errors, fail, print_json, run_async

if TYPE_CHECKING:
    from agentbox.config import Config
    from agentbox.messages import Attachment
    from agentbox.runtime import Runtime
    from agentbox.turn.runner import TurnRequest, TurnResult

CLI_SESSION = "cli:default"
AGENT_HELP = "The agent ([agents.NAME] in config.toml) that answers."


def agent_session(config: Config, agent_name: str, session: str | None) -> str:
    """The session to use: the one given, else `cli:default` for main and `cli:<agent>` for another agent."""
    if agent_name not in config.agents:
        fail(f"no agent {agent_name!r} in the config; agents: {', '.join(sorted(config.agents))}", 2)
    return session or (CLI_SESSION if agent_name == "main" else f"cli:{agent_name}")


def agent(
    message: Annotated[str, typer.Option("--message", "-m", help="The message to send.")] = "",
    session: Annotated[str | None, typer.Option("--session", "-s", help="Session key (memory).")] = None,
    image: Annotated[list[str] | None, typer.Option("--image", "-i", help="Image file or URL (repeatable).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model id for this turn.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    agent_name: Annotated[str, typer.Option("--agent", help=AGENT_HELP)] = "main",
    audio: Annotated[str | None, typer.Option("--audio", help="Audio file: its transcript is the message.")] = None,
    speak: Annotated[
        str | None, typer.Option("--speak", help="Write the spoken answer here (.mp3, .ogg, .wav).")
    ] = None,
) -> None:
    """Run one turn through the same pipeline the gateway uses, with memory."""
    config = config_or_exit()
    session = agent_session(config, agent_name, session)
    from agentbox.cli.voice_io import load_audio, speech_path
    from agentbox.vision import load_image

    images = tuple(load_image(spec, config.vision) for spec in image or [])  # an InputError exits 2
    heard = load_audio(audio, config.voice) if audio else None
    spoken = speech_path(speak) if speak else None
    if not message.strip() and not images and heard is None:
        fail("the message is empty", 2)
    code = run_async(_agent(config, message, session, images, model, as_json, agent_name, heard, spoken))
    raise typer.Exit(code)


async def _agent(config, message, session, images, model, as_json, agent_name, heard=None, spoken=None) -> int:  # type: ignore[no-untyped-def]
    from agentbox.cli.failures import terminal_failure
    from agentbox.cli.gateway_client import GatewaySchedules
    from agentbox.cli.termsafe import terminal_safe
    from agentbox.runtime import open_runtime
    from agentbox.turn.runner import TurnRequest

    async with open_runtime(config) as rt:
        rt.runner.schedules = GatewaySchedules(config)  # the schedule tools tell a running gateway
        transcript, audio = await _hear(rt, heard, session)
        text = "\n\n".join(part for part in (message, transcript) if part and part.strip())
        request = TurnRequest(
            session_key=session, text=text, images=images, model=model, agent_id=agent_name, audio=audio
        )
        if as_json:
            result = await rt.runner.run(request)
            out = result.as_json() | ({"transcript": transcript} if heard is not None else {})
            if spoken is not None:
                out["speech"] = await _speak(rt, request, result, spoken)
            print_json(out)
        else:
            if transcript is not None:
                sys.stdout.write(terminal_safe(f"(heard) {transcript}", single_line=True) + "\n")
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
            if spoken is not None and (written := await _speak(rt, request, result, spoken)):
                sys.stdout.write(terminal_safe(f"[spoken] {written}", single_line=True) + "\n")
        return 0 if result.ok else 1


async def _hear(rt: Runtime, heard: Attachment | None, session: str) -> tuple[str | None, tuple[str, ...]]:
    """`--audio`: (transcript, stored audio hashes); (None, ()) without it."""
    if heard is None:
        return None, ()
    from agentbox.cli.voice_io import transcribe_file

    transcript, digest = await transcribe_file(rt, heard, session)  # TranscriptionFailed: `agentbox: ...`, exit 1
    return transcript, (digest,)


async def _speak(rt: Runtime, request: TurnRequest, result: TurnResult, spoken: tuple[Path, str]) -> str | None:
    """`--speak`: the answer spoken into the file (a failed turn is not spoken); the path, or None."""
    if not result.ok:
        return None
    from agentbox.cli.voice_io import speak_to_file

    return await speak_to_file(rt, request, result, *spoken)


def chat(
    session: Annotated[str | None, typer.Option("--session", "-s", help="Session key (memory).")] = None,
    agent_name: Annotated[str, typer.Option("--agent", help=AGENT_HELP)] = "main",
) -> None:
    """Interactive terminal chat with streaming output. /help lists the commands."""
    config = config_or_exit()
    session = agent_session(config, agent_name, session)
    from agentbox.cli.chat_repl import run_chat

    with database_errors():
        code = run_chat(config, session, agent_name)
    raise typer.Exit(code)
