"""Skills: folders with a SKILL.md (and optionally tools.py, scripts/) that give agents abilities.

The public API for skill authors (see docs/writing-skills.md):

- in `tools.py`, typed and documented `async def` functions become tools; a first parameter
  `ctx: RunContext[TurnDeps]` gives the turn's deps (session, outbox, AI/ML API client, progress,
  the gateway's job service); `TurnDeps` is importable from here;
- `skill_env(ctx)` → the secrets (env vars) the skill declared, and nothing else;
- `skill_config(ctx)` → the skill's `[skills.config.<name>]` settings;
- `skill_dir()` → the skill's folder.

Everything else (`SkillRegistry`, loaders) is what agentbox itself uses to find and gate skills.
"""

from __future__ import annotations

from agentbox.skillkit.api import (
    NotInSkill,
    SkillEnv,
    SkillError,
    SkillScope,
    UndeclaredSecret,
    current_skill,
    skill_config,
    skill_dir,
    skill_env,
)
from agentbox.skillkit.model import Requirements, Skill
from agentbox.skillkit.registry import AgentSkills, SkillRegistry
from agentbox.turn.deps import TurnDeps

__all__ = [
    "AgentSkills",
    "NotInSkill",
    "Requirements",
    "Skill",
    "SkillEnv",
    "SkillError",
    "SkillRegistry",
    "SkillScope",
    "TurnDeps",
    "UndeclaredSecret",
    "current_skill",
    "skill_config",
    "skill_dir",
    "skill_env",
]
