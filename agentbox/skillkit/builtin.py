"""The tools agentbox adds around skills: `read_skill` always, `exec` only with `allow_exec`."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_ai import ModelRetry, RunContext, ToolFailed
from pydantic_ai.toolsets import FunctionToolset

from agentbox.skillkit.execution import ExecRefused, command_for, resolve_script, run_script, script_env
from agentbox.skillkit.gating import lookup_env
from agentbox.skillkit.model import Skill
from agentbox.turn.deps import TurnDeps


def skill_instructions(skill: Skill, tools: list[str]) -> str:
    """What `read_skill` returns: where the skill lives, its tools, then SKILL.md's body."""
    head = [f"# Skill: {skill.name}", f"Folder: {skill.path}"]
    if tools:
        head.append("Tools: " + ", ".join(tools))
    return "\n".join(head) + "\n\n" + (skill.body or skill.description)


def skills_toolset(
    skills: Mapping[str, Skill],
    tools_by_skill: Mapping[str, list[str]],
    *,
    allow_exec: bool,
    unavailable: Mapping[str, Skill] | None = None,
) -> FunctionToolset[TurnDeps]:
    """`read_skill` over the agent's enabled skills, plus `exec` when the agent allows it.

    Asked for an enabled skill that is unavailable here, it answers why and the owner's fix.
    """
    toolset: FunctionToolset[TurnDeps] = FunctionToolset(id="agentbox:skills")
    names = ", ".join(skills) or "(none)"
    unavailable = unavailable or {}

    def lookup(name: str) -> Skill:
        skill = skills.get(name.strip())
        if skill is None and (missing := unavailable.get(name.strip())) is not None:
            raise ToolFailed(f"skill {missing.name!r} is installed but {missing.status_text()}")
        if skill is None:
            raise ModelRetry(f"no skill named {name!r}; available: {names}")
        return skill

    @toolset.tool_plain
    async def read_skill(name: str) -> str:
        """Full instructions of a skill listed in your instructions. Read them before first using a skill."""
        skill = lookup(name)
        return skill_instructions(skill, tools_by_skill.get(skill.name, []))

    if allow_exec:

        @toolset.tool(name="exec")
        async def exec_script(ctx: RunContext[TurnDeps], skill: str, path: str, args: list[str] | None = None) -> str:
            """Run a script inside a skill's folder (no shell).

            Args:
                skill: The skill's name.
                path: The script's path relative to the skill folder, e.g. "scripts/run.py".
                args: Command-line arguments, one list item per argument.
            """
            found = lookup(skill)
            try:
                script = resolve_script(found.path, path)
                command = command_for(script, args or [])
            except ExecRefused as exc:
                return f"refused: {exc}"
            config = ctx.deps.config
            declared = {
                var: value for var in sorted(found.declared_env) if (value := lookup_env(config, found.name, var))
            }
            scratch = config.home / "exec" / found.name
            result = await run_script(
                command,
                cwd=scratch,
                env=script_env(declared, scratch),
                time_limit=config.skills.exec_timeout,
                output_limit=config.skills.exec_output_limit,
            )
            return result.render()

    return toolset
