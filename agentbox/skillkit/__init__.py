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

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Loaded on first use, so importing one submodule (the log filter's `gating.env_reference`, at every
# CLI start) does not load the registry and the turn's deps with it.
_HOMES = {
    **dict.fromkeys(
        (
            "NotInSkill",
            "SkillEnv",
            "SkillError",
            "SkillScope",
            "UndeclaredSecret",
            "current_skill",
            "skill_config",
            "skill_dir",
            "skill_env",
        ),
        "agentbox.skillkit.api",
    ),
    "Requirements": "agentbox.skillkit.model",
    "Skill": "agentbox.skillkit.model",
    "AgentSkills": "agentbox.skillkit.registry",
    "SkillRegistry": "agentbox.skillkit.registry",
    "TurnDeps": "agentbox.turn.deps",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


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
