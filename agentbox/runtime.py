"""The composition root: config → store → model clients → skills → turn runner.

The CLI's one-shot commands and the gateway build their pipeline here, so both run
turns exactly the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from agentbox.config import Config, require_api_key
from agentbox.logs import collect_secrets
from agentbox.mcpkit import McpServers
from agentbox.memory.service import MemoryService
from agentbox.memory.tools import memory_toolset
from agentbox.redaction import register_secrets
from agentbox.schedules.tools import with_schedule_tools
from agentbox.skillkit import SkillRegistry
from agentbox.store import Store
from agentbox.turn.caps import SpendingCaps
from agentbox.turn.runner import TurnRunner
from agentbox.voice.tool import voice_toolsets

# Background services the gateway starts and stops with itself: "module:factory" entries, each
# factory called with the Gateway and returning an object with `name`, `start()` and `stop()`.
GATEWAY_SERVICES: list[str] = [
    "agentbox.gateway.jobs:gateway_service",  # polls and delivers video jobs
    "agentbox.gateway.retention:gateway_service",  # storage.retention_days, and media nothing refers to
    "agentbox.gateway.mcp_status:gateway_service",  # GET /mcp: the MCP servers' state, for `agentbox mcp list`
    "agentbox.gateway.telegram_webhook:gateway_service",  # POST /telegram/webhook (Telegram's webhook mode)
    "agentbox.hooks.service:gateway_service",  # POST /hooks/<name>: signed webhooks ([[hooks]])
    "agentbox.api.service:gateway_service",  # /v1/chat/completions, /v1/models, /media: the OpenAI-compatible API
    "agentbox.schedules.service:gateway_service",  # reminders and scheduled tasks, fired on time
    "agentbox.web.panel:gateway_service",  # the web control panel ([web]; `agentbox dashboard`)
]


@dataclass(slots=True)
class Runtime:
    """The wired pipeline `open_runtime` yields: config, open store, turn runner and skills; closed on exit."""

    config: Config
    store: Store
    runner: TurnRunner
    skills: SkillRegistry
    caps: SpendingCaps | None = None  # today's spend vs. the caps, for /status
    mcp: McpServers | None = None  # the [mcp.servers] the agents use, started on first use


@asynccontextmanager
async def open_runtime(config: Config) -> AsyncIterator[Runtime]:
    require_api_key(config)
    register_secrets(*collect_secrets(config))  # tool results and stored history mask them, logging or not
    config.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = await Store.open(config.database_path)
    caps = SpendingCaps(config.limits, store)
    skills = SkillRegistry(config)
    mcp = McpServers(config)
    memory = MemoryService(config, store)
    runner = TurnRunner(
        config,
        store,
        guards=[caps],
        extra_instructions=skills.instructions,
        extra_toolsets=with_schedule_tools(
            config,
            lambda agent_id: [
                *skills.toolsets(agent_id),
                *mcp.toolsets(agent_id),
                *voice_toolsets(config),
                *([memory_toolset()] if memory.settings(agent_id).enabled else []),
            ],
        ),
        agents_version=skills.signature,
    )
    runner.mcp = mcp
    runner.memory = memory
    try:
        yield Runtime(config, store, runner, skills, caps=caps, mcp=mcp)
    finally:
        await mcp.aclose()
        await runner.aclose()
        await store.close()
