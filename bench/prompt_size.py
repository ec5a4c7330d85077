"""How big is every turn's fixed prompt with all bundled skills on? (no network, no key needed)

Runs a plain "hello" turn against pydantic-ai's FunctionModel, which sees exactly the
instructions and tool definitions a real model request would carry, and measures them the
way the OpenAI wire format sends them. Tokens are the offline estimate agentbox uses for its
budgets (`agentbox.turn.history.estimate_tokens`, ~4 characters per token).

    python bench/prompt_size.py            # table
    python bench/prompt_size.py --json     # one JSON object
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from typing import Any

BUDGET_TOKENS = 2000  # issue 4: a plain "hello" must cost well under this


async def measure() -> dict[str, Any]:
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    from agentbox.aimlapi import AimlapiClient
    from agentbox.config import Config
    from agentbox.memory.tools import memory_toolset
    from agentbox.schedules.tools import with_schedule_tools
    from agentbox.skillkit import SkillRegistry
    from agentbox.turn.agent import build_agent
    from agentbox.turn.deps import SessionContext, TurnDeps
    from agentbox.turn.history import estimate_tokens

    config = Config()
    registry = SkillRegistry(config, assume_ready=True)  # every bundled skill on, chromium or not
    config.agents["main"].allow_exec = "--exec" in sys.argv
    seen: dict[str, Any] = {}

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen["instructions"] = info.instructions or ""
        seen["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters_json_schema},
            }
            for t in info.function_tools
        ]
        return ModelResponse(parts=[TextPart("Hello!")])

    def base(agent_id: str) -> list[Any]:
        return [*registry.toolsets(agent_id), memory_toolset()]  # as the runtime composes them (memory on)

    toolsets = with_schedule_tools(config, base)  # on by default, as in agentbox.runtime
    agent = build_agent(config, "main", extra_instructions=registry.instructions, extra_toolsets=toolsets)
    deps = TurnDeps(session=SessionContext("bench"), config=config, aimlapi=AimlapiClient(config))
    await agent.run("hello", model=FunctionModel(model), deps=deps)
    system = seen["instructions"]
    tools_json = json.dumps(seen["tools"], separators=(",", ":"))
    per_tool = {t["function"]["name"]: estimate_tokens(json.dumps(t, separators=(",", ":"))) for t in seen["tools"]}
    user_tokens = estimate_tokens("hello")
    return {
        "skills": list(registry.for_agent("main").skills),
        "system_chars": len(system),
        "system_tokens": estimate_tokens(system),
        "tools": len(seen["tools"]),
        "tools_chars": len(tools_json),
        "tools_tokens": estimate_tokens(tools_json),
        "per_tool_tokens": per_tool,
        "hello_turn_input_tokens": estimate_tokens(system) + estimate_tokens(tools_json) + user_tokens,
        "budget_tokens": BUDGET_TOKENS,
        "system_prompt": system,
    }


def main() -> int:
    os.environ.setdefault("AGENTBOX_HOME", tempfile.mkdtemp(prefix="agentbox-bench-"))
    os.environ.setdefault("AIMLAPI_API_KEY", "bench-not-used")
    result = asyncio.run(measure())
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        print(f"skills on:        {', '.join(result['skills'])}")
        print(f"system prompt:    {result['system_chars']} chars, ~{result['system_tokens']} tokens")
        print(
            f"tool definitions: {result['tools']} tools, {result['tools_chars']} chars, ~{result['tools_tokens']} tokens"
        )
        for name, tokens in result["per_tool_tokens"].items():
            print(f"  {name:<16} ~{tokens} tokens")
        print(f"'hello' turn:     ~{result['hello_turn_input_tokens']} input tokens (budget {BUDGET_TOKENS})")
    return 0 if result["hello_turn_input_tokens"] < BUDGET_TOKENS else 1


if __name__ == "__main__":
    raise SystemExit(main())
