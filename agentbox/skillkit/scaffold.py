"""`agentbox skills new NAME`: a working skill folder with SKILL.md, tools.py and a passing test."""

from __future__ import annotations

from pathlib import Path

from agentbox.errors import AgentboxError
from agentbox.skillkit.loader import NAME_RE

SKILL_MD = """\
---
name: {name}
description: Say hello in a chosen style (replace this with what your skill does, in one line).
metadata:
  agentbox:
    requires:
      env: []        # secrets this skill may read, e.g. [WEATHER_API_KEY]
      bins: []       # programs that must be on PATH, e.g. [curl]
---
# {title}

Instructions for the model, read through `read_skill("{name}")` before first use.
Say when to use the tools, which arguments to pick, and how to present the result.

- Use `{func}` when the user asks to be greeted.
"""

TOOLS_PY = '''\
"""Tools of the {name} skill: every public async function here becomes a tool."""

from __future__ import annotations

from typing import Literal

from pydantic_ai import RunContext

from agentbox.skillkit import TurnDeps, skill_config


async def {func}(ctx: RunContext[TurnDeps], name: str, style: Literal["plain", "pirate"] = "plain") -> str:
    """Greet someone by name.

    Args:
        name: Who to greet.
        style: plain or pirate.
    """
    greeting = skill_config(ctx).get("greeting", "Hello")
    if style == "pirate":
        return f"Ahoy, {{name}}!"
    return f"{{greeting}}, {{name}}!"
'''

TEST_PY = '''\
"""Run with: pytest {path}"""

from __future__ import annotations

import asyncio
from pathlib import Path

from agentbox.skillkit.testing import SkillHarness

HERE = Path(__file__).parent


def test_{func}_plain() -> None:
    skill = SkillHarness(HERE)
    assert asyncio.run(skill.call("{func}", name="Ada")) == "Hello, Ada!"


def test_{func}_uses_settings_and_schema() -> None:
    skill = SkillHarness(HERE, settings={{"greeting": "Welcome"}})
    assert asyncio.run(skill.call("{func}", name="Ada")) == "Welcome, Ada!"
    schema = skill.schema("{func}")
    assert schema["required"] == ["name"]
    assert schema["properties"]["style"]["enum"] == ["plain", "pirate"]
'''


class ScaffoldError(AgentboxError, ValueError):
    """The skill cannot be created (a bad name, the folder exists); the message says which."""

    exit_code = 2


def scaffold(root: Path, name: str) -> Path:
    """Create `<root>/<name>/` with SKILL.md, tools.py and test_<name>.py; refuses to overwrite."""
    if not NAME_RE.match(name):
        raise ScaffoldError(f"{name!r}: use lowercase letters, digits, '-' or '_' (at most 64)")
    folder = root / name
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists")
    func = name.replace("-", "_") + "_greet"
    title = name.replace("-", " ").replace("_", " ").title()
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(SKILL_MD.format(name=name, title=title, func=func), encoding="utf-8")
    (folder / "tools.py").write_text(TOOLS_PY.format(name=name, func=func), encoding="utf-8")
    test_name = f"test_{name.replace('-', '_')}.py"
    (folder / test_name).write_text(TEST_PY.format(func=func, path=folder / test_name), encoding="utf-8")
    return folder
