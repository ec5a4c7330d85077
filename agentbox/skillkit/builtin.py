"""The tools agentbox adds around skills.

- `read_skill(name, path?)` always: a skill's instructions, or any text file in its folder;
- `http_request` when the agent has an instructions-only skill (the curl-style ones need it);
- `find_skill(query)` when the prompt could not name every skill (see `prompt`);
- `exec` only with `allow_exec`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from pydantic_ai import ModelRetry, RunContext, ToolFailed
from pydantic_ai.toolsets import FunctionToolset

from agentbox.skillkit import skillfiles
from agentbox.skillkit.execution import ExecRefused, command_for, resolve_script, run_script, script_env
from agentbox.skillkit.gating import allowed_env, lookup_env
from agentbox.skillkit.loader import BASE_DIR
from agentbox.skillkit.model import Skill
from agentbox.skillkit.prompt import search_skills
from agentbox.turn.deps import TurnDeps

FILES_SHOWN = 40  # files named under the instructions; read_skill(name, "dir") lists more


def skill_instructions(skill: Skill, tools: list[str]) -> str:
    """What `read_skill` returns: where the skill lives, its tools, SKILL.md's body, and its other files."""
    head = [f"# Skill: {skill.name}", f"Folder: {skill.path.resolve()}"]
    if tools:
        head.append("Tools: " + ", ".join(tools))
    text = "\n".join(head) + "\n\n" + (skill.body or skill.description)
    files = [f for f in skillfiles.list_files(skill.path, limit=FILES_SHOWN + 1) if f != skill.manifest]
    if files:
        more = " (and more)" if len(files) > FILES_SHOWN else ""
        text += f"\n\nFiles in this skill{more} (read_skill(name, path) opens one):\n" + "\n".join(
            f"- {f}" for f in files[:FILES_SHOWN]
        )
    return text


def read_skill_file(skill: Skill, path: str) -> str:
    """One file (or folder listing) inside the skill's folder, `{baseDir}` filled in as in SKILL.md."""
    try:
        target = skillfiles.resolve_inside(skill.path, path)
    except skillfiles.OutsideSkill as exc:
        return f"refused: {exc}"
    if target.is_dir():
        listing = skillfiles.list_files(skill.path, under=target)
        return "\n".join(listing) if listing else f"{path!r} is an empty folder"
    if not target.is_file():
        return f"no file {path!r} in skill {skill.name!r}; read_skill({skill.name!r}) lists its files"
    return skillfiles.read_text(target).replace(BASE_DIR, str(skill.path.resolve()))


def skills_toolset(
    skills: Mapping[str, Skill],
    tools_by_skill: Mapping[str, list[str]],
    *,
    allow_exec: bool,
    unavailable: Mapping[str, Skill] | None = None,
    http: bool = False,
    searchable: bool = False,
) -> FunctionToolset[TurnDeps]:
    """`read_skill` over the agent's enabled skills, plus the optional tools above.

    Asked for an enabled skill that is unavailable here, it answers why and the owner's fix.
    """
    toolset: FunctionToolset[TurnDeps] = FunctionToolset(id="agentbox:skills")
    lookup = skill_lookup(skills, unavailable or {}, searchable=searchable)
    _add_read_skill(toolset, lookup, tools_by_skill)
    if searchable:
        _add_find_skill(toolset, skills)
    if http:
        from agentbox.skillkit.httptool import add_http_request

        add_http_request(toolset, lookup)
    if allow_exec:
        _add_exec(toolset, lookup)
    return toolset


def skill_lookup(
    skills: Mapping[str, Skill], unavailable: Mapping[str, Skill], *, searchable: bool
) -> Callable[[str], Skill]:
    """Resolves the `skill` argument of the skills tools: an enabled, ready skill, or a retry that helps."""

    def lookup(name: str) -> Skill:
        skill = skills.get(name.strip())
        if skill is None and (missing := unavailable.get(name.strip())) is not None:
            raise ToolFailed(f"skill {missing.name!r} is installed but {missing.status_text()}")
        if skill is None:
            if searchable:  # too many to list: point at the nearest ones
                close = [s.name for s in search_skills(skills.values(), name.replace("-", " "), limit=8)]
                hint = f"close matches: {', '.join(close)}" if close else "find_skill(query) searches them all"
            else:
                hint = f"available: {', '.join(skills) or '(none)'}"
            raise ModelRetry(f"no skill named {name!r}; {hint}")
        return skill

    return lookup


def _add_read_skill(
    toolset: FunctionToolset[TurnDeps], lookup: Callable[[str], Skill], tools_by_skill: Mapping[str, list[str]]
) -> None:
    @toolset.tool_plain
    async def read_skill(name: str, path: str | None = None) -> str:
        """Instructions of a skill listed in your instructions (read them before first using a skill),
        or, with `path`, one of its files (e.g. "references/api.md")."""
        skill = lookup(name)
        if path:
            return read_skill_file(skill, path)
        return skill_instructions(skill, tools_by_skill.get(skill.name, []))


def _add_find_skill(toolset: FunctionToolset[TurnDeps], skills: Mapping[str, Skill]) -> None:
    @toolset.tool_plain
    async def find_skill(query: str) -> str:
        """Search every installed skill by name and description; returns the best matches."""
        found = search_skills(skills.values(), query)
        return "\n".join(f"- {s.name}: {s.summary()}" for s in found) or f"no skill matches {query!r}"


def _add_exec(toolset: FunctionToolset[TurnDeps], lookup: Callable[[str], Skill]) -> None:
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
        names: Iterable[str] = sorted(allowed_env(found, config))
        declared = {var: value for var in names if (value := lookup_env(config, found.name, var))}
        scratch = config.home / "exec" / found.name
        result = await run_script(
            command,
            cwd=scratch,
            env=script_env(declared, scratch),
            time_limit=config.skills.exec_timeout,
            output_limit=config.skills.exec_output_limit,
        )
        return result.render()
