"""The slash commands: one table that the gateway, the terminal chat and the platforms' menus read.

A command is answered without a model call. `CommandSpec.where` says where it applies: `chat`
(the gateway, on every platform) and/or `terminal` (`agentbox chat`). Each place implements the
table's commands for its side — the gateway in `agentbox.gateway.commands`, the terminal chat in
`agentbox.cli.chat_repl` — and `command_router` checks that it implements exactly those, so the
table, the help text and the code cannot drift apart. Telegram's command menu and Discord's slash
command are registered from the same table.

A command means the same everywhere: `/new` (or `/reset`) starts a fresh conversation in the
same session (the transcript is kept); `/model` switches this conversation's model (chats only
among the models the owner allowed); `/memory` and `/forget` show and delete the speaker's own
long-term memories (a group's in a group).

Import-light (connectors import it while starting): no config, no store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

Surface = Literal["chat", "terminal"]
CHAT: frozenset[Surface] = frozenset({"chat"})
TERMINAL: frozenset[Surface] = frozenset({"terminal"})
EVERYWHERE: frozenset[Surface] = frozenset({"chat", "terminal"})
MENU_TEXT_LIMIT = 100  # Discord's limit for a slash command description (Telegram allows 256)

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One slash command: its name and aliases, a one-line help, where it applies, its argument."""

    name: str
    help: str  # one line, lower case; menus show it capitalized
    where: frozenset[Surface] = EVERYWHERE
    aliases: tuple[str, ...] = ()
    argument: str = ""  # the argument hint in the help, e.g. "[ID]"
    listed: bool = True  # in /help and the platform menus (not /start, which Telegram sends by itself)

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def usage(self) -> str:
        """`/model [ID]`, `/new or /reset`: how the help text names the command."""
        names = " or ".join(f"/{word}" for word in self.words)
        return f"{names} {self.argument}" if self.argument else names

    def menu_text(self) -> str:
        return self.help[:1].upper() + self.help[1:]


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("new", "start a fresh conversation (the transcript is kept)", aliases=("reset",)),
    CommandSpec("status", "model, session and usage"),
    CommandSpec("model", "show the model or use another here (/model default goes back)", argument="[ID]"),
    CommandSpec("memory", "what I remember about you (in a group: about the group), with ids"),
    CommandSpec("forget", "forget one memory by its id, or all of them", argument="ID|all"),
    CommandSpec("help", "this list"),
    CommandSpec("reminders", "your reminders and scheduled tasks, with their ids", where=CHAT),
    CommandSpec("cancel", "cancel one of your reminders or scheduled tasks", where=CHAT, argument="ID"),
    CommandSpec("timezone", "show or set your timezone for reminders", where=CHAT, argument="[NAME]"),
    CommandSpec("start", "Telegram's first message: answered with the help", where=CHAT, listed=False),
    CommandSpec("exit", "quit (Ctrl-D, or Ctrl-C at the prompt, works too)", where=TERMINAL, aliases=("quit",)),
)

FRESH_START = "Started a fresh conversation. Earlier messages are kept in the transcript but I won't see them."
_FOOTER: dict[Surface, str] = {
    "chat": "Anything else goes to the assistant; you can also send an image.",
    "terminal": "Ctrl-C while an answer is streaming stops that answer; the question stays in the transcript.",
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command as typed: which spec, and the rest of the line (`/model gpt-4o` → model, "gpt-4o")."""

    spec: CommandSpec
    argument: str

    @property
    def name(self) -> str:
        return self.spec.name


def commands_for(surface: Surface) -> tuple[CommandSpec, ...]:
    return tuple(spec for spec in COMMANDS if surface in spec.where)


def command_spec(name: str) -> CommandSpec:
    """The spec named `name` (not an alias); KeyError if the table has none."""
    for spec in COMMANDS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def parse_command(text: str, surface: Surface) -> Invocation | None:
    """The command `text` starts with on `surface` (`/status@my_bot` works in groups); else None."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    head, _, rest = stripped.partition(" ")
    word = head[1:].split("@", 1)[0].lower()
    spec = next((spec for spec in commands_for(surface) if word in spec.words), None)
    return Invocation(spec, rest.strip()) if spec is not None else None


def help_text(surface: Surface) -> str:
    lines = [f"{spec.usage()}: {spec.help}" for spec in commands_for(surface) if spec.listed]
    return "\n".join(["Commands:", *lines, _FOOTER[surface]])


def menu_entries(surface: Surface = "chat") -> tuple[tuple[str, str], ...]:
    """(command, description) for a platform's command menu: each listed command, then its aliases."""
    entries: list[tuple[str, str]] = []
    for spec in commands_for(surface):
        if spec.listed:
            entries.append((spec.name, spec.menu_text()))
            entries.extend((alias, f"Same as /{spec.name}") for alias in spec.aliases)
    return tuple(entries)


def command_router(surface: Surface, handlers: Mapping[str, H]) -> dict[str, H]:
    """`handlers` by command name, checked against the table: every command of `surface`, no other."""
    expected = {spec.name for spec in commands_for(surface)}
    if set(handlers) != expected:
        raise ValueError(f"{surface} command handlers {sorted(handlers)} do not match the table {sorted(expected)}")
    return dict(handlers)
