"""A skill added (or edited) on disk reaches the next turn without a restart."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import runtime_on

SKILL = """---
name: tide-tables
description: Look up tide times for a harbour.
---
# Tide tables

Say which harbour; answer with high and low tide times.
"""


async def test_new_workspace_skill_is_offered_on_the_next_turn(fake_aimlapi, home: Path) -> None:
    async with runtime_on(fake_aimlapi, home) as rt:
        from agentbox.turn.runner import TurnRequest

        await rt.runner.run(TurnRequest("t:reload", "hi"))
        assert "tide-tables" not in fake_aimlapi.last_chat()["messages"][0]["content"]
        folder = home / "workspace" / "skills" / "tide-tables"
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(SKILL)
        await rt.runner.run(TurnRequest("t:reload", "and now?"))
        system = fake_aimlapi.last_chat()["messages"][0]["content"]
        unchanged = rt.runner.agent("main") is rt.runner.agent("main")  # cached while nothing changes
    assert "- tide-tables: Look up tide times for a harbour." in system
    assert unchanged
