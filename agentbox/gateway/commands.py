"""Chat commands for approved users: /new, /reset, /status, /model, /help (and Telegram's /start).

Handled by the gateway without a model call, in the session's order: a `/new` sent after a
question takes effect after that question is answered. Unknown `/words` go to the model.
They pass the same access check as any message; `/model` only switches among the models the
owner allowed for the agent (`AgentConfig.model_choices`), so nobody in a chat can pick a costly one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agentbox.config import Config, bare_model_id
from agentbox.messages import Inbound
from agentbox.plural import plural
from agentbox.store import Store

HELP = (
    "Commands:\n"
    "/new or /reset: start a fresh conversation (the transcript is kept)\n"
    "/status: model, session and usage\n"
    "/model ID: use another allowed model in this chat (/model lists them, /model default goes back)\n"
    "/help: this list\n"
    "Anything else goes to the assistant; you can also send an image."
)

COMMANDS = frozenset({"new", "reset", "status", "model", "help", "start"})


@dataclass(frozen=True, slots=True)
class ChatCommand:
    name: str
    argument: str


def parse_command(text: str) -> ChatCommand | None:
    """`/model gpt-4o` → ChatCommand("model", "gpt-4o"); `/status@my_bot` works in groups too."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    head, _, rest = stripped.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    if name not in COMMANDS:
        return None
    return ChatCommand(name, rest.strip())


class ChatCommands:
    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store

    async def run(self, command: ChatCommand, inbound: Inbound, *, session_key: str, agent_id: str) -> str:
        sessions = self._store.sessions
        info = await sessions.ensure(
            session_key, channel=inbound.channel, chat_id=inbound.chat_id, thread_id=inbound.thread_id, agent=agent_id
        )
        agent = self._config.agent(agent_id)
        default_model = agent.model
        if command.name in ("new", "reset"):
            await sessions.reset(session_key)
            return "Started a fresh conversation. Earlier messages are kept in the transcript but I won't see them."
        if command.name == "model":
            choices = agent.model_choices()
            if not command.argument:
                current = info.model or default_model
                return (
                    f"Model: {current}{'' if info.model else ' (default)'}. "
                    f"Allowed: {', '.join(choices)}. Change it with /model ID."
                )
            if command.argument.lower() in ("default", "reset"):
                await sessions.set_model(session_key, None)
                return f"Back to the default model: {default_model}."
            model_id = allowed_model(command.argument.split()[0], choices)
            if model_id is None:
                return (
                    f"{bare_model_id(command.argument.split()[0])[:100]} is not one of the models allowed here: "
                    f"{', '.join(choices)}. (The owner adds more with allowed_models under [agents.{agent_id}].)"
                )
            await sessions.set_model(session_key, model_id)
            return f"This chat now uses {model_id}."
        if command.name == "status":
            model = f"{info.model} (set with /model)" if info.model else f"{default_model} (default)"
            spend = f"${info.usd:.4f}" if info.usd else "$0"
            return (
                f"Model: {model}\n"
                f"Session: {session_key} (agent {agent_id}, {plural(info.turns, 'turn')})\n"
                f"Tokens used: {info.input_tokens + info.output_tokens:,} "
                f"({info.input_tokens:,} in, {info.output_tokens:,} out)\n"
                f"Spend: {spend}" + await self._backlog_line()
            )
        return HELP

    async def _backlog_line(self) -> str:
        """Replies the platforms have not taken yet (all chats: a count and an age, nothing else)."""
        backlog = await self._store.outbox.backlog()
        if not backlog.count or backlog.oldest_at is None:
            return ""
        minutes = max(0, int((time.time() - backlog.oldest_at) // 60))
        return f"\nReplies waiting for delivery: {backlog.count} (oldest {minutes} min)"


def allowed_model(requested: str, choices: list[str]) -> str | None:
    """The allowed model `requested` names (prefix and letter case aside), spelled as configured; else None."""
    wanted = bare_model_id(requested).lower()
    return next((choice for choice in choices if choice.lower() == wanted), None)
