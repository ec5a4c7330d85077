"""Chat commands for approved users: /new, /reset, /status, /model, /help (and Telegram's /start).

Handled by the gateway without a model call, in the session's order: a `/new` sent after a
question takes effect after that question is answered. Unknown `/words` go to the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agentbox.config import Config
from agentbox.messages import Inbound
from agentbox.store import Store

HELP = (
    "Commands:\n"
    "/new or /reset: start a fresh conversation (the transcript is kept)\n"
    "/status: model, session and usage\n"
    "/model ID: use another model in this chat (/model default goes back)\n"
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
        default_model = self._config.agent(agent_id).model
        if command.name in ("new", "reset"):
            await sessions.reset(session_key)
            return "Started a fresh conversation. Earlier messages are kept in the transcript but I won't see them."
        if command.name == "model":
            if not command.argument:
                current = info.model or default_model
                return f"Model: {current}{'' if info.model else ' (default)'}. Change it with /model ID."
            if command.argument.lower() in ("default", "reset"):
                await sessions.set_model(session_key, None)
                return f"Back to the default model: {default_model}."
            model_id = _normalize(command.argument.split()[0])
            await sessions.set_model(session_key, model_id)
            return f"This chat now uses {model_id}."
        if command.name == "status":
            model = f"{info.model} (set with /model)" if info.model else f"{default_model} (default)"
            spend = f"${info.usd:.4f}" if info.usd else "$0"
            return (
                f"Model: {model}\n"
                f"Session: {session_key} (agent {agent_id}, {info.turns} turns)\n"
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


def _normalize(model_id: str) -> str:
    # OpenClaw-style ids (`aimlapi/…`) are accepted, as in the config; the API wants no prefix.
    return model_id.removeprefix("aimlapi/")
