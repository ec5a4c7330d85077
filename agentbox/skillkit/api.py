"""What a skill's `tools.py` uses at run time: its secrets, its settings, its folder.

While one of a skill's tools runs, agentbox knows which skill it belongs to (`SkillToolset`
sets it), so these helpers hand out only what that skill declared in SKILL.md::

    from pydantic_ai import RunContext
    from agentbox.skillkit import TurnDeps, skill_env

    async def forecast(ctx: RunContext[TurnDeps], city: str) -> str:
        \"\"\"Weather forecast for a city.\"\"\"
        key = skill_env(ctx)["WEATHER_API_KEY"]   # declared in metadata.openclaw.requires.env
        ...

`skill_env(ctx)["OTHER"]` for a variable the skill did not declare raises `UndeclaredSecret`,
even when the variable is set. Python tools run inside the agentbox process, so this is a
contract that keeps honest skills honest, not a sandbox: only install tools.py you trust.
Scripts run through `exec` get a real boundary (an environment holding only declared vars).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentbox.errors import AgentboxError
from agentbox.skillkit.gating import lookup_env, skill_settings

if TYPE_CHECKING:
    from pydantic_ai import RunContext

    from agentbox.turn.deps import TurnDeps


class SkillError(AgentboxError):
    """Base class of the errors skill helpers raise."""


class UndeclaredSecret(SkillError, KeyError):
    """A skill asked for an environment variable it did not declare in SKILL.md."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "undeclared secret"


class NotInSkill(SkillError, RuntimeError):
    """A skill helper was called outside a skill's tool call."""


@dataclass(frozen=True, slots=True)
class SkillScope:
    """The skill whose tool is running: its name, folder and the env vars it declared."""

    name: str
    path: Path
    declared_env: frozenset[str]


current_scope: contextvars.ContextVar[SkillScope | None] = contextvars.ContextVar("agentbox_skill", default=None)


def current_skill() -> SkillScope:
    scope = current_scope.get()
    if scope is None:
        raise NotInSkill("skill helpers work only inside a skill's tool call")
    return scope


class SkillEnv(Mapping[str, str]):
    """The declared secrets of one skill that are set. Undeclared names raise UndeclaredSecret."""

    def __init__(self, scope: SkillScope, values: dict[str, str]) -> None:
        self._scope = scope
        self._values = values

    def __getitem__(self, name: str) -> str:
        if name not in self._scope.declared_env:
            raise UndeclaredSecret(
                f"skill {self._scope.name!r} did not declare env {name} "
                f"(add it to metadata.openclaw.requires.env in SKILL.md)"
            )
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"env {name} is declared by skill {self._scope.name!r} but not set") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:  # never print secret values
        return f"SkillEnv({self._scope.name!r}, {sorted(self._values)})"


def skill_env(ctx: RunContext[TurnDeps]) -> SkillEnv:
    """The running skill's declared env vars (from the environment or `[skills.config.<name>.env]`)."""
    scope = current_skill()
    values = {
        var: value
        for var in sorted(scope.declared_env)
        if (value := lookup_env(ctx.deps.config, scope.name, var)) is not None
    }
    return SkillEnv(scope, values)


def skill_config(ctx: RunContext[TurnDeps]) -> dict[str, Any]:
    """The running skill's settings: `[skills.config.<name>]` in config.toml (minus `env`)."""
    settings = skill_settings(ctx.deps.config, current_skill().name)
    settings.pop("env", None)
    return settings


def skill_dir() -> Path:
    """The running skill's folder (for data files shipped next to SKILL.md)."""
    return current_skill().path
