"""`SkillRegistry`: discovery (cached), gating, per-agent selection, and the agent's skill toolsets.

Roots, lowest precedence first (a later one overrides an earlier skill of the same name):
bundled (shipped in the package) < `skills.extra_dirs` (in the order configured) <
user (`AGENTBOX_HOME/skills`) < workspace (`<workspace>/skills`). Extra dirs sit above bundled
so a team folder can replace a bundled skill, and below the user's and workspace's own skills
so a person can still override what the team ships.

Only SKILL.md files are read during discovery; a skill's `tools.py` is imported the first time
an agent that enables it is built, never for disabled or unavailable skills.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from agentbox.config import Config
from agentbox.redaction import register_secrets
from agentbox.skillkit.gating import allowed_env, apply_gating, declared_secrets
from agentbox.skillkit.loader import discover, walk_skill_folders
from agentbox.skillkit.model import Skill, Source
from agentbox.skillkit.prompt import render_skills_prompt

if TYPE_CHECKING:
    from pydantic_ai.toolsets import AbstractToolset

    from agentbox.turn.deps import TurnDeps

log = logging.getLogger(__name__)

BUILTIN_TOOLS = frozenset({"current_time", "read_skill", "exec", "http_request", "find_skill"})


def bundled_root() -> Path:
    return Path(str(resources.files("agentbox.bundled_skills")))


@dataclass(slots=True)
class AgentSkills:
    """What one agent gets: its enabled skills, their tool names, instructions and toolsets."""

    skills: dict[str, Skill] = field(default_factory=dict)
    unavailable: dict[str, Skill] = field(default_factory=dict)  # enabled, but a requirement is unmet here
    tools: dict[str, list[str]] = field(default_factory=dict)
    instructions: str = ""
    toolsets: list[AbstractToolset[TurnDeps]] = field(default_factory=list)


class SkillRegistry:
    """The skills this config can see: discovers SKILL.md files across the roots (later roots override),
    gates each (ready / unavailable / broken), and builds each agent's skill instructions and toolsets.
    Everything is cached until a SKILL.md or tools.py changes; a skill's tools.py is imported only
    for an agent that enables it, and a broken or clashing one is reported, never fatal.
    """

    def __init__(
        self,
        config: Config,
        *,
        environ: Mapping[str, str] | None = None,
        include_bundled: bool = True,
        assume_ready: bool = False,  # benchmarks: treat every requirement as met
    ) -> None:
        self.config = config
        self._environ = environ
        self._include_bundled = include_bundled
        self._assume_ready = assume_ready
        self._cache_key: tuple[object, ...] | None = None
        self._skills: dict[str, Skill] = {}
        self._broken_tools: dict[Path, str] = {}  # tools.py import errors, by skill folder
        self._agents: dict[str, AgentSkills] = {}

    # -- discovery -----------------------------------------------------------------------
    def roots(self) -> list[tuple[Source, Path]]:
        roots: list[tuple[Source, Path]] = []
        if self._include_bundled:
            roots.append(("bundled", bundled_root()))
        roots.extend(("extra", Path(raw).expanduser()) for raw in self.config.skills.extra_dirs)
        roots.append(("user", self.config.home / "skills"))
        roots.append(("workspace", self.config.workspace / "skills"))
        return roots

    def signature(self) -> tuple[object, ...]:
        """Cheap stat-based key: a new, removed or edited SKILL.md or tools.py invalidates the cache."""
        parts: list[object] = []
        for _, root in self.roots():
            for folder, manifest in walk_skill_folders(root):
                for filename in (manifest, "tools.py"):
                    try:
                        parts.append((str(folder), filename, os.stat(folder / filename).st_mtime_ns))
                    except OSError:
                        continue
        return tuple(parts)

    def skills(self) -> dict[str, Skill]:
        """Every discovered skill by name, with gating applied (ready / unavailable / broken)."""
        key = self.signature()
        if key != self._cache_key:
            found = discover(self.roots())
            for skill in found.values():
                if skill.error is None and not self._assume_ready:
                    apply_gating(skill, self.config, self._environ)
            register_secrets(*declared_secrets(found.values(), self.config, self._environ))
            for skill in found.values():
                for source, path in self.overridden(skill):
                    log.info(
                        "%s skill %s (%s) replaces the %s one (%s)", skill.source, skill.name, skill.path, source, path
                    )
            self._skills = found
            self._cache_key = key
            self._agents.clear()
            self._broken_tools.clear()
        for skill in self._skills.values():
            if skill.path in self._broken_tools:
                skill.error = self._broken_tools[skill.path]
        return self._skills

    def get(self, name: str) -> Skill | None:
        return self.skills().get(name)

    def overridden(self, skill: Skill) -> list[tuple[Source, Path]]:
        """The same-name skills `skill` hides (source, folder), lowest precedence first."""
        roots = self.roots()
        return [(next((src for src, root in roots if path.parent == root), "extra"), path) for path in skill.overrides]

    # -- per agent -----------------------------------------------------------------------
    def is_enabled(self, agent_id: str, name: str) -> bool:
        agent = self.config.agent(agent_id)
        if name in agent.disabled_skills:
            return False
        return agent.skills is None or name in agent.skills

    def as_seen_by(self, skill: Skill, agent_id: str) -> Skill:
        """The skill as one agent can use it: one whose instructions only run its own scripts is
        unavailable to an agent without `allow_exec` (a copy says so, with the fix)."""
        if skill.status != "ready" or not skill.scripts or self.config.agent(agent_id).allow_exec:
            return skill
        need = f"needs exec to run its scripts ({', '.join(skill.scripts[:4])})"
        fix = f"set allow_exec = true in [agents.{agent_id}] of config.toml, after reading those scripts"
        return dataclasses.replace(skill, reason=need, fix=fix, unmet=[*skill.unmet, (need, fix)])

    def listing(self, agent_id: str = "main") -> list[tuple[Skill, str]]:
        """(skill, status text) for every skill, "disabled" for those the agent turned off; fixes are in `skill.fix`."""
        out = []
        for found in self.skills().values():
            skill = self.as_seen_by(found, agent_id)
            enabled = self.is_enabled(agent_id, skill.name)
            if enabled and skill.status == "ready" and skill.has_tools:
                self._load_tools(skill)  # surfaces tools.py import errors as "broken"
            text = skill.status_text(with_fix=False) if enabled or skill.status != "ready" else "disabled"
            out.append((skill, text))
        return out

    def _load_tools(self, skill: Skill) -> tuple[AbstractToolset[TurnDeps] | None, list[str]]:
        from agentbox.skillkit.toolsets import SkillScope, SkillToolset, ToolsImportError, build_function_toolset

        if skill.path in self._broken_tools:
            return None, []
        try:
            functions = build_function_toolset(skill)
        except ToolsImportError as exc:
            log.warning("skill %s is broken: %s", skill.name, exc)
            self._broken_tools[skill.path] = str(exc)
            skill.error = str(exc)
            return None, []
        scope = SkillScope(skill.name, skill.path, allowed_env(skill, self.config))
        return SkillToolset(functions, scope=scope), list(functions.tools)

    def for_agent(self, agent_id: str) -> AgentSkills:
        """The agent's ready, enabled skills with their tools loaded (cached until a SKILL.md changes)."""
        skills = self.skills()
        if agent_id in self._agents:
            return self._agents[agent_id]
        result = AgentSkills()
        taken: dict[str, str] = {name: "agentbox" for name in BUILTIN_TOOLS}
        for found in skills.values():
            skill = self.as_seen_by(found, agent_id)
            if skill.status == "unavailable" and self.is_enabled(agent_id, skill.name):
                result.unavailable[skill.name] = skill
            if skill.status != "ready" or not self.is_enabled(agent_id, skill.name):
                continue
            toolset, names = self._load_tools(skill) if skill.has_tools else (None, [])
            if skill.error:
                continue
            clashes = [name for name in names if name in taken]
            if clashes:
                # Two skills offering one tool name would fail every run; keep the first, report the second.
                message = f"tool {clashes[0]!r} is already provided by {taken[clashes[0]]}"
                log.warning("skill %s is broken: %s", skill.name, message)
                self._broken_tools[skill.path] = message
                skill.error = message
                continue
            taken.update(dict.fromkeys(names, f"skill {skill.name}"))
            result.skills[skill.name] = skill
            result.tools[skill.name] = names
            if toolset is not None:
                result.toolsets.append(toolset)
        self._warn_unknown(agent_id, skills)
        prompt = render_skills_prompt(
            result.skills.values(), result.unavailable.values(), self.config.skills.max_prompt_chars
        )
        result.instructions = prompt.text
        from agentbox.skillkit.builtin import skills_toolset

        allow_exec = self.config.agent(agent_id).allow_exec
        if result.skills or result.unavailable:
            toolset = skills_toolset(
                result.skills,
                result.tools,
                allow_exec=allow_exec,
                unavailable=result.unavailable,
                http=any(not skill.has_tools for skill in result.skills.values()),
                searchable=prompt.unnamed > 0,
            )
            result.toolsets.insert(0, toolset)
        self._agents[agent_id] = result
        return result

    def _warn_unknown(self, agent_id: str, skills: Mapping[str, Skill]) -> None:
        for name in self.config.agent(agent_id).skills or []:
            skill = skills.get(name)
            if skill is None:
                log.warning("agent %s enables skill %r, which does not exist", agent_id, name)
            elif skill.status != "ready":
                log.warning("agent %s enables skill %r, which is %s", agent_id, name, skill.status_text())

    # -- the hooks build_agent takes -------------------------------------------------------
    def instructions(self, agent_id: str) -> str:
        return self.for_agent(agent_id).instructions

    def toolsets(self, agent_id: str) -> list[AbstractToolset[TurnDeps]]:
        return list(self.for_agent(agent_id).toolsets)


def render_skill_list(skills: Iterable[Skill]) -> str:
    """The system prompt's skill section for these skills alone (what `skills check` shows)."""
    return render_skills_prompt(skills, [], budget=1_000_000).text


__all__ = ["AgentSkills", "SkillRegistry", "bundled_root", "render_skill_list"]
