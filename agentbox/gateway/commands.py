"""The gateway's side of the chat commands (`agentbox.commands` is the table): /new, /status, /model,
/memory, /forget, /help, and a person's schedules (/reminders, /cancel, /timezone:
`agentbox.schedules.commands`).

Handled by the gateway without a model call, in the session's order: a `/new` sent after a
question takes effect after that question is answered. Unknown `/words` go to the model.
They pass the same access check as any message; `/model` only switches among the models the
owner allowed for the agent (`AgentConfig.model_choices`), so nobody in a chat can pick a costly one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agentbox import commands
from agentbox.commands import FRESH_START, Invocation, command_router, help_text
from agentbox.config import Config, bare_model_id
from agentbox.memory.commands import forget_reply, memory_reply
from agentbox.memory.scopes import Speaker
from agentbox.memory.service import MemoryService
from agentbox.messages import Inbound
from agentbox.plural import plural
from agentbox.schedules import commands as schedule_commands
from agentbox.schedules.book import Target
from agentbox.store import SessionInfo, Store


def parse_command(text: str) -> Invocation | None:
    """`/model gpt-4o` → the model command with "gpt-4o"; None when `text` is for the model."""
    return commands.parse_command(text, "chat")


@dataclass(frozen=True, slots=True)
class _Call:
    """One command in one session, as its handler sees it."""

    argument: str
    session_key: str
    agent_id: str
    info: SessionInfo
    inbound: Inbound

    @property
    def speaker(self) -> Speaker:
        inbound = self.inbound
        return Speaker(self.agent_id, inbound.channel, self.session_key, inbound.sender_id, inbound.chat_id)


class ChatCommands:
    """Answers the chat commands of `agentbox.commands` for the gateway."""

    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store
        self._memory = MemoryService(config, store)
        self._handlers: dict[str, Callable[[_Call], Awaitable[str]]] = command_router(
            "chat",
            {
                "new": self._new,
                "status": self._status,
                "model": self._model,
                "memory": self._memory_list,
                "forget": self._forget,
                "help": self._help,
                "start": self._help,
            }
            | {"reminders": self._reminders, "cancel": self._cancel, "timezone": self._timezone},
        )

    async def run(self, command: Invocation, inbound: Inbound, *, session_key: str, agent_id: str) -> str:
        info = await self._store.sessions.ensure(
            session_key, channel=inbound.channel, chat_id=inbound.chat_id, thread_id=inbound.thread_id, agent=agent_id
        )
        return await self._handlers[command.name](_Call(command.argument, session_key, agent_id, info, inbound))

    async def _new(self, call: _Call) -> str:
        await self._store.sessions.reset(call.session_key)
        return FRESH_START

    async def _help(self, call: _Call) -> str:
        return help_text("chat")

    async def _memory_list(self, call: _Call) -> str:
        return await memory_reply(self._memory, call.speaker)

    async def _forget(self, call: _Call) -> str:
        return await forget_reply(self._memory, call.speaker, call.argument)

    async def _model(self, call: _Call) -> str:
        agent = self._config.agent(call.agent_id)
        choices = agent.model_choices()
        if not call.argument:
            current = call.info.model or agent.model
            return (
                f"Model: {current}{'' if call.info.model else ' (default)'}. "
                f"Allowed: {', '.join(choices)}. Change it with /model ID."
            )
        if call.argument.lower() in ("default", "reset"):
            await self._store.sessions.set_model(call.session_key, None)
            return f"Back to the default model: {agent.model}."
        requested = call.argument.split()[0]
        model_id = allowed_model(requested, choices)
        if model_id is None:
            return (
                f"{bare_model_id(requested)[:100]} is not one of the models allowed here: "
                f"{', '.join(choices)}. (The owner adds more with allowed_models under [agents.{call.agent_id}].)"
            )
        await self._store.sessions.set_model(call.session_key, model_id)
        return f"This chat now uses {model_id}."

    async def _reminders(self, call: _Call) -> str:
        return await schedule_commands.reminders(self._store, self._config, _person(call))

    async def _cancel(self, call: _Call) -> str:
        return await schedule_commands.cancel(self._store, self._config, _person(call), call.argument)

    async def _timezone(self, call: _Call) -> str:
        return await schedule_commands.timezone(self._store, self._config, _person(call), call.argument)

    async def _status(self, call: _Call) -> str:
        info = call.info
        model = (
            f"{info.model} (set with /model)" if info.model else f"{self._config.agent(call.agent_id).model} (default)"
        )
        spend = f"${info.usd:.4f}" if info.usd else "$0"
        return (
            f"Model: {model}\n"
            + await fallback_line(self._store, call.session_key)
            + f"Session: {call.session_key} (agent {call.agent_id}, {plural(info.turns, 'turn')})\n"
            f"Tokens used: {info.input_tokens + info.output_tokens:,} "
            f"({info.input_tokens:,} in, {info.output_tokens:,} out)\n"
            f"Spend: {spend}" + await self._backlog_line()
        )

    async def _backlog_line(self) -> str:
        """Replies the platforms have not taken yet (all chats: a count and an age, nothing else)."""
        backlog = await self._store.outbox.backlog()
        if not backlog.count or backlog.oldest_at is None:
            return ""
        minutes = max(0, int((time.time() - backlog.oldest_at) // 60))
        return f"\nReplies waiting for delivery: {backlog.count} (oldest {minutes} min)"


async def fallback_line(store: Store, session_key: str) -> str:
    """`Last answer: X (a fallback; Y could not answer)` when a fallback model gave the latest answer, else ""."""
    last = await store.sessions.last_answer(session_key)
    if last is None or last[1] is None:
        return ""
    return f"Last answer: {last[0]} (a fallback; {last[1]} could not answer)\n"


def _person(call: _Call) -> Target:
    """Who sent the command, and the chat a schedule of theirs is delivered to."""
    inbound = call.inbound
    return Target(
        inbound.channel,
        inbound.chat_id,
        call.session_key,
        agent=call.agent_id,
        thread_id=inbound.thread_id,
        sender_id=inbound.sender_id,
        sender_name=inbound.sender_name,
        in_group=not inbound.is_direct,
    )


def allowed_model(requested: str, choices: list[str]) -> str | None:
    """The allowed model `requested` names (prefix and letter case aside), spelled as configured; else None."""
    wanted = bare_model_id(requested).lower()
    return next((choice for choice in choices if choice.lower() == wanted), None)
