"""What an MCP server's tools cost in every request, offered in full or within the budget.

Starts the test MCP server (tests/mcpserver.py, over stdio) with 6, 50 and 200 tools shaped like
a large real server's, runs one "hello" turn against the fake AI/ML API for each, and measures
the request that went over the wire: the tool definitions and the system text, against the same
agent without MCP. Tokens are agentbox's offline estimate (~4 characters per token).

    python bench/mcp_prompt.py            # table
    python bench/mcp_prompt.py --json     # one JSON object
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentbox.turn.history import estimate_tokens  # noqa: E402
from tests.fakes.aimlapi import FakeAimlapi  # noqa: E402
from tests.helpers import runtime_on  # noqa: E402
from tests.mcpserver import stdio_config  # noqa: E402

SIZES = (6, 50, 200)
FULL = 10_000_000  # a schema budget nothing exceeds: every schema in every request


def request_size(body: dict[str, Any]) -> tuple[int, int, int]:
    """(tool definitions, characters of tools JSON, characters of system text) of one chat request."""
    tools = body.get("tools") or []
    system = "".join(m["content"] for m in body["messages"] if m["role"] == "system")
    return len(tools), len(json.dumps(tools, separators=(",", ":"))), len(system)


async def one_turn(fake: FakeAimlapi, home: Path, config: str) -> dict[str, Any]:
    from agentbox.turn.runner import TurnRequest

    async with runtime_on(fake, home, config) as rt:
        await rt.runner.run(TurnRequest(f"bench:{len(fake.requests)}", "hello"))
    return fake.last_chat()


async def measure() -> dict[str, Any]:
    base = "[agents.main]\nskills = []\n"
    rows: list[dict[str, Any]] = []
    with FakeAimlapi() as fake:
        home = Path(tempfile.mkdtemp(prefix="agentbox-bench-mcp-"))
        baseline = request_size(await one_turn(fake, home, base))
        for size in SIZES:
            server = stdio_config("gh", args=["--tools", str(size)] if size > 6 else [], extra="timeout = 60")
            for mode, budget in (("full", FULL), ("budget", 8_000)):
                config = f'[agents.main]\nskills = []\nmcp = ["gh"]\n[mcp]\nschema_budget_chars = {budget}\n' + server
                tools, tools_chars, system_chars = request_size(await one_turn(fake, home, config))
                added = tools_chars + system_chars - baseline[1] - baseline[2]
                rows.append(
                    {
                        "server_tools": 6 if size == 6 else size,
                        "mode": mode,
                        "request_tools": tools,
                        "tools_chars": tools_chars,
                        "system_chars": system_chars,
                        "added_chars": added,
                        "added_tokens": estimate_tokens("x" * max(added, 0)),
                    }
                )
    return {"baseline": {"tools": baseline[0], "tools_chars": baseline[1], "system_chars": baseline[2]}, "rows": rows}


def main() -> int:
    os.environ.setdefault("AGENTBOX_HOME", tempfile.mkdtemp(prefix="agentbox-bench-"))
    result = asyncio.run(measure())
    if "--json" in sys.argv:
        print(json.dumps(result))
        return 0
    base = result["baseline"]
    print(f"without MCP: {base['tools']} tools, {base['tools_chars']} chars of tools, {base['system_chars']} of system")
    print(
        f"{'server tools':>12}  {'mode':<7} {'in request':>10} {'tools chars':>11} {'system':>7} {'added':>8} {'~tokens':>8}"
    )
    for row in result["rows"]:
        print(
            f"{row['server_tools']:>12}  {row['mode']:<7} {row['request_tools']:>10} {row['tools_chars']:>11,} "
            f"{row['system_chars']:>7,} {row['added_chars']:>8,} {row['added_tokens']:>8,}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
