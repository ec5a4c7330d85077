"""`agentbox memory list|search|add|forget|link|unlink|links|export|import`: the owner's view of long-term memory.

Quick: no pydantic-ai import. A scope is chosen with --channel and --sender (a person, through
their links), --channel and --chat (a group), --agent (facts for everyone) or --scope (the key).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer

from agentbox.cli.common import config_or_exit, fail, json_text, print_json, with_store

if TYPE_CHECKING:
    from agentbox.memory.model import Scope
    from agentbox.memory.service import MemoryService
    from agentbox.store.memory import Memory

app = typer.Typer(help="See and manage what the assistant remembers (docs/memory.md).", no_args_is_help=True)
T = TypeVar("T")

Channel = Annotated[str | None, typer.Option("--channel", help="Channel of --sender or --chat, e.g. telegram.")]
Sender = Annotated[str | None, typer.Option("--sender", help="A sender id: that person's memories.")]
Chat = Annotated[str | None, typer.Option("--chat", help="A group chat id: that group's memories.")]
AgentName = Annotated[str | None, typer.Option("--agent", help="An agent: the facts it has for everyone.")]
ScopeKey = Annotated[str | None, typer.Option("--scope", help="A scope key, e.g. sender:telegram:123.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Limit = Annotated[int, typer.Option("--limit", min=1, help="At most this many.")]


def _with_memory(fn: Callable[[MemoryService], Awaitable[T]]) -> T:
    from agentbox.memory.model import MemoryInputError
    from agentbox.memory.service import MemoryService

    config = config_or_exit()
    try:
        return with_store(lambda store: fn(MemoryService(config, store)), config)
    except MemoryInputError as exc:
        fail(str(exc), exc.exit_code)


async def _scope(
    service: MemoryService,
    channel: str | None,
    sender: str | None,
    chat: str | None,
    agent: str | None,
    scope: str | None,
) -> Scope | None:
    """The scope the options name; None when they name none. Contradictory options are an error."""
    from agentbox.memory.model import MemoryInputError, Scope, parse_identity

    chosen = [
        name
        for name, value in (("--sender", sender), ("--chat", chat), ("--agent", agent), ("--scope", scope))
        if value
    ]
    if len(chosen) > 1:
        raise MemoryInputError(f"choose one of {', '.join(chosen)}")
    if (sender or chat) and not channel:
        raise MemoryInputError(f"{chosen[0]} needs --channel (e.g. --channel telegram)")
    if channel and not (sender or chat):
        raise MemoryInputError("--channel goes with --sender or --chat")
    if channel:
        _warn_unknown_channel(channel)
    if sender and channel:
        return await service.sender_scope(channel, sender)
    if chat and channel:
        return Scope("chat", parse_identity(f"{channel}:{chat}"))
    if agent:
        return Scope("agent", agent)
    return Scope.parse(scope) if scope else None


def _warn_unknown_channel(channel: str) -> None:
    from agentbox.channels import find_channel, names_text

    if channel.lower() != "cli" and find_channel(channel.lower()) is None:
        typer.echo(f"agentbox: note: {channel!r} is not a channel agentbox knows ({names_text()} or cli)", err=True)


def _print_memories(memories: list[Memory], as_json: bool, empty: str) -> None:
    from agentbox.memory.transfer import memory_json

    if as_json:
        print_json([memory_json(memory) for memory in memories])
        return
    if not memories:
        typer.echo(empty)
        return
    from agentbox.cli.tables import print_keyed
    from agentbox.memory.recall import day

    rows = [(str(m.id), m.scope, m.text + (" (pinned)" if m.pinned else ""), day(m.created_at)) for m in memories]
    print_keyed(("id", "scope", "memory", "created"), rows)


@app.command("list")
def list_memories(
    channel: Channel = None,
    sender: Sender = None,
    chat: Chat = None,
    agent: AgentName = None,
    scope: ScopeKey = None,
    limit: Limit = 1000,
    as_json: AsJson = False,
) -> None:
    """Memories, newest first: all of them, or one scope's."""

    async def load(service: MemoryService) -> list[Memory]:
        chosen = await _scope(service, channel, sender, chat, agent, scope)
        return await service.repo.newest([chosen.key] if chosen else None, limit=limit)

    _print_memories(_with_memory(load), as_json, "No memories yet.")


@app.command("search")
def search(
    query: str,
    channel: Channel = None,
    sender: Sender = None,
    chat: Chat = None,
    agent: AgentName = None,
    scope: ScopeKey = None,
    limit: Limit = 20,
    as_json: AsJson = False,
) -> None:
    """Memories sharing words with QUERY, best match first (all scopes, or one)."""

    async def find(service: MemoryService) -> list[Memory]:
        chosen = await _scope(service, channel, sender, chat, agent, scope)
        return await service.search(query, [chosen] if chosen else None, limit=limit)

    _print_memories(_with_memory(find), as_json, "No memory matches.")


@app.command("add")
def add(
    text: str,
    channel: Channel = None,
    sender: Sender = None,
    chat: Chat = None,
    agent: AgentName = None,
    scope: ScopeKey = None,
    pin: Annotated[bool, typer.Option("--pin", help="Always recall it, never evict it.")] = False,
) -> None:
    """Remember TEXT for a person (--channel, --sender), a group (--channel, --chat) or everyone (--agent)."""
    from agentbox.memory.model import MemoryInputError

    async def store(service: MemoryService) -> str:
        chosen = await _scope(service, channel, sender, chat, agent, scope)
        if chosen is None:
            raise MemoryInputError("say whose memory: --channel and --sender, --channel and --chat, or --agent")
        cap = service.cap_of(chosen)
        origin = f"{channel}:{sender}" if sender else ""
        done = await service.remember(
            chosen, text, cap=cap, source="owner", origin=origin, pinned=pin, merge_similar=False
        )
        said = {"added": "Remembered", "exists": "Already remembered", "updated": "Updated"}[done.outcome]
        evicted = f" ({done.evicted} old ones evicted by max_items_per_scope)" if done.evicted else ""
        return f"{said} as #{done.memory_id} in {chosen}{evicted}."

    typer.echo(_with_memory(store))


@app.command("forget")
def forget(memory_ids: Annotated[list[int], typer.Argument(metavar="ID...", help="Memory ids (see list).")]) -> None:
    """Delete memories by id."""
    gone = _with_memory(lambda service: service.repo.delete(memory_ids))
    if gone < len(set(memory_ids)):
        fail(f"forgot {gone} of {len(set(memory_ids))}: the others do not exist (see `agentbox memory list`)")
    typer.echo(f"Forgot {gone} {'memory' if gone == 1 else 'memories'}.")


@app.command("link")
def link(
    identities: Annotated[
        list[str], typer.Argument(metavar="CHANNEL:SENDER...", help="Two or more ids of one person.")
    ],
) -> None:
    """Make several sender ids one person (e.g. telegram:123 slack:U456): their memories are shared."""

    async def go(service: MemoryService) -> str:
        person = await service.link(identities)
        return f"Linked {', '.join(identities)}: one person, memory scope sender:{person}."

    typer.echo(_with_memory(go))


@app.command("unlink")
def unlink(identity: Annotated[str, typer.Argument(metavar="CHANNEL:SENDER")]) -> None:
    """Detach a sender id from its person; the memories that came from it go with it."""
    moved = _with_memory(lambda service: service.unlink(identity))
    typer.echo(f"Unlinked {identity}; {moved} {'memory' if moved == 1 else 'memories'} went back with it.")


@app.command("links")
def links(as_json: AsJson = False) -> None:
    """People whose sender ids are linked."""
    people = _with_memory(lambda service: service.repo.links())
    if as_json:
        print_json([{"person": f"sender:{person}", "identities": ids} for person, ids in people.items()])
        return
    if not people:
        typer.echo("No linked sender ids (`agentbox memory link telegram:123 slack:U456` links two).")
    for person, ids in people.items():
        typer.echo(f"sender:{person}: {' '.join(ids)}")


Format = Annotated[Literal["md", "json"], typer.Option("--format", help="md (like MEMORY.md) or json.")]


@app.command("export")
def export(
    fmt: Format = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")] = None,
    channel: Channel = None,
    sender: Sender = None,
    chat: Chat = None,
    agent: AgentName = None,
    scope: ScopeKey = None,
) -> None:
    """Every memory (or one scope's) as Markdown or JSON; `import` reads either back."""
    from agentbox.cli.termsafe import terminal_safe
    from agentbox.memory.transfer import export_markdown, memory_json

    async def load(service: MemoryService) -> list[Memory]:
        chosen = await _scope(service, channel, sender, chat, agent, scope)
        return await service.repo.newest([chosen.key] if chosen else None)

    memories = _with_memory(load)
    if fmt == "json":
        text = json_text([memory_json(m) for m in sorted(memories, key=lambda m: m.id)], indent=2) + "\n"
    else:
        text = export_markdown(memories, now=time.time())
    if output is None:
        # Chat text on a terminal: control characters shown harmlessly. Piped to a file: exact.
        typer.echo(terminal_safe(text) if sys.stdout.isatty() else text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {len(memories):,} memories to {output}.")


@app.command("import")
def import_memories(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A Markdown (MEMORY.md) or JSON file.")],
    fmt: Annotated[
        Literal["md", "json"] | None, typer.Option("--format", help="md or json; default: from the file name.")
    ] = None,
    channel: Channel = None,
    sender: Sender = None,
    chat: Chat = None,
    agent: AgentName = None,
    scope: ScopeKey = None,
) -> None:
    """Read memories from a file; Markdown lines outside a `## <scope>` heading go to the scope named here."""
    from dataclasses import replace

    from agentbox.memory.model import MemoryInputError
    from agentbox.memory.transfer import parse_json, parse_markdown, store_imported

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", 2)
    kind = fmt or ("json" if path.suffix.lower() == ".json" else "md")

    async def go(service: MemoryService) -> str:
        chosen = await _scope(service, channel, sender, chat, agent, scope)
        try:
            items = parse_json(text) if kind == "json" else parse_markdown(text, chosen)
        except MemoryInputError as exc:
            raise MemoryInputError(f"{path}: {exc}") from None
        if kind == "json" and chosen is not None:
            items = [replace(item, scope=chosen) for item in items]
        report = await store_imported(service, items)
        return f"{path}: {report.describe()}"

    typer.echo(_with_memory(go))
