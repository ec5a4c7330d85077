"""Builds the pydantic-ai `Agent` for an agent config: instructions, built-in tools, skills.

Imported only by commands that talk to a model (it pulls in pydantic-ai).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_ai import Agent, ModelRetry, RunContext, ToolFailed
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, UserError
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from agentbox.config import AgentConfig, Config
from agentbox.redaction import redact_tree, scrub_error
from agentbox.turn.deps import TurnDeps
from agentbox.turn.tool_results import CapToolResults

log = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = (
    "You are agentbox, a helpful personal assistant reached through chat apps. "
    "Answer concisely and accurately; use Markdown sparingly. "
    "Use your tools when they help, and say plainly when you cannot do something."
)

ExtraInstructions = Callable[[str], str]
"""agent id -> extra instruction text (e.g. the skills list)."""
ExtraToolsets = Callable[[str], Sequence[AbstractToolset[TurnDeps]]]


def persona(config: Config, agent: AgentConfig) -> str:
    """The agent's instructions: config text, else a workspace file, else the default."""
    if agent.instructions:
        return agent.instructions
    candidates = [Path(agent.instructions_file)] if agent.instructions_file else [Path("AGENTS.md")]
    for candidate in candidates:
        path = candidate if candidate.is_absolute() else config.workspace / candidate
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    return DEFAULT_INSTRUCTIONS


def user_timezone(name: str | None) -> dt.tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def builtin_toolset() -> FunctionToolset[TurnDeps]:
    toolset: FunctionToolset[TurnDeps] = FunctionToolset()

    @toolset.tool
    async def current_time(ctx: RunContext[TurnDeps], timezone: str | None = None) -> str:
        """Current date and time. `timezone` is an IANA name such as "Europe/Paris"; default: the user's."""
        if timezone:
            try:
                tz: dt.tzinfo = ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ModelRetry(f"unknown timezone {timezone!r}; use an IANA name like 'Europe/Paris'") from None
        else:
            tz = user_timezone(ctx.deps.config.agent(ctx.deps.session.agent_id).timezone)
        now = dt.datetime.now(tz)
        return now.strftime("%A %Y-%m-%d %H:%M:%S %Z (UTC%z)")

    return toolset


@dataclass
class ReportToolErrors(WrapperToolset[TurnDeps]):
    """A tool that raises is reported to the model as a failed call, never a crashed turn.

    What goes back to the model (and so into the stored history) is cleaned first: known secrets
    are masked in results and errors, and error text loses URL query strings and credentials.
    """

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[TurnDeps], tool: ToolsetTool[TurnDeps]
    ) -> Any:
        try:
            return redact_tree(await self.wrapped.call_tool(name, tool_args, ctx, tool))
        except ModelRetry as exc:
            raise ModelRetry(scrub_error(exc.message)) from exc
        except ToolFailed as exc:
            raise ToolFailed(scrub_error(exc.message)) from exc
        except (CallDeferred, ApprovalRequired, UserError):
            raise  # pydantic-ai's own control flow, and programming errors that must surface
        except Exception as exc:
            message = scrub_error(f"{type(exc).__name__}: {exc}")
            log.warning("tool %s failed in session %s: %s", name, ctx.deps.session.key, message, exc_info=True)
            raise ToolFailed(f"The tool {name} failed: {message}") from exc


def build_agent(
    config: Config,
    agent_id: str,
    *,
    extra_instructions: ExtraInstructions | None = None,
    extra_toolsets: ExtraToolsets | None = None,
) -> Agent[TurnDeps, str]:
    agent_config = config.agent(agent_id)
    parts = [persona(config, agent_config)]
    if extra_instructions is not None and (extra := extra_instructions(agent_id)):
        parts.append(extra)
    toolsets: list[AbstractToolset[TurnDeps]] = [builtin_toolset()]
    if extra_toolsets is not None:
        toolsets.extend(extra_toolsets(agent_id))
    limit = agent_config.max_tool_result_bytes
    toolsets = [CapToolResults(ReportToolErrors(toolset), limit=limit) for toolset in toolsets]
    # retries=2: malformed tool arguments go back to the model twice before the turn fails.
    return Agent(
        deps_type=TurnDeps,
        output_type=str,
        instructions="\n\n".join(parts),
        toolsets=toolsets,
        retries=2,
        name=agent_id,
    )
