"""`agentbox skills list|info|new|check|install`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from agentbox.cli.common import config_or_exit, fail, print_json

app = typer.Typer(help="List, inspect, create, validate and install skills.", no_args_is_help=True)

AgentOption = Annotated[str, typer.Option("--agent", "-a", help="Agent whose enabled skills to show.")]


def _registry():  # type: ignore[no-untyped-def]
    from agentbox.skillkit import SkillRegistry

    return SkillRegistry(config_or_exit())


@app.command("list")
def list_skills(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    agent: AgentOption = "main",
) -> None:
    """Every skill found: name, source, status (ready / unavailable: reason / broken: error / disabled)."""
    registry = _registry()
    rows = registry.listing(agent)
    if as_json:
        print_json(
            [
                {
                    "name": skill.name,
                    "source": skill.source,
                    "status": text.split(":", 1)[0],
                    "detail": skill.error or skill.reason,
                    "fix": skill.fix if skill.reason else None,
                    "unmet": [{"need": need, "fix": fix} for need, fix in skill.unmet],
                    "install": [hint.render() for hint in skill.install],
                    "warnings": skill.warnings,
                    "description": skill.summary(),
                    "path": str(skill.path),
                    "overrides": [{"source": src, "path": str(path)} for src, path in registry.overridden(skill)],
                }
                for skill, text in rows
            ]
        )
        return
    for skill, _ in rows:  # said before the table, one line each: nothing wraps, commands copy whole
        for source, path in registry.overridden(skill):
            typer.echo(
                f"note: {skill.name}: the {skill.source} skill ({skill.path}) replaces the {source} one ({path})"
            )
        if skill.status == "unavailable":
            _print_unmet(skill)
    if not rows:
        typer.echo("No skills found.")
        return
    from agentbox.cli.tables import print_keyed

    print_keyed(("skill", "source", "status", "description"), [(s.name, s.source, t, s.summary(80)) for s, t in rows])


@app.command("info")
def info(name: str, agent: AgentOption = "main") -> None:
    """Everything about one skill: where it is, what it needs, its tools and instructions."""
    registry = _registry()
    statuses = {skill.name: text for skill, text in registry.listing(agent)}
    found = registry.get(name)
    if found is None:
        fail(f"no skill named {name!r} (see `agentbox skills list`)", 1)
    skill = registry.as_seen_by(found, agent)
    lines = [
        f"name:        {skill.name}",
        f"source:      {skill.source} ({skill.path})",
        f"status:      {statuses.get(name, skill.status_text())}",
        *[f"fix:         {fix}" for fix in dict.fromkeys(fix for _, fix in skill.unmet if fix)],
        *([f"title:       {skill.title}"] if skill.title else []),
        f"description: {skill.description}",
        *_requirement_lines(skill),
        *[f"install:     {hint.render()}" for hint in skill.install],
        *[f"note:        {warning}" for warning in skill.warnings],
        *[f"overrides:   {shadowed}" for shadowed in skill.overrides],
    ]
    typer.echo("\n".join(lines))
    if skill.status == "ready" and skill.has_tools:
        _print_tools(skill)
    typer.echo("\n" + (skill.body or "(no instructions)"))


def _requirement_lines(skill: Any) -> list[str]:
    req = skill.requires
    labelled = (
        ("env", sorted(set(req.env) | ({skill.primary_env} if skill.primary_env else set()))),
        ("bins", req.bins),
        ("any bins", req.any_bins),
        ("config", req.config),
        ("python", req.python),
        ("os", req.os),
    )
    lines = [f"needs {label + ':':<6} {', '.join(values)}" for label, values in labelled if values]
    if skill.optional_env:
        lines.append(f"may use:     {', '.join(skill.optional_env)}")
    if skill.always:
        lines.append("always:      true (offered even when a requirement is unmet)")
    return lines


def _print_unmet(skill: Any) -> None:
    """One line per unmet requirement with its fix, then the install commands the skill itself suggests."""
    for fix in dict.fromkeys(fix for _, fix in skill.unmet if fix):  # one whole line each: copy and paste it
        typer.echo(f"fix for {skill.name}: {fix}")
    for hint in skill.install:
        typer.echo(f"{skill.name} suggests: {hint.render()}")


def _print_tools(skill: Any) -> None:
    from agentbox.skillkit.toolsets import ToolsImportError, build_function_toolset

    try:
        toolset = build_function_toolset(skill)
    except ToolsImportError as exc:
        typer.echo(f"tools:       broken: {exc}")
        return
    typer.echo("tools:")
    for tool in toolset.tools.values():
        definition = tool.tool_def
        typer.echo(f"  {definition.name}: {(definition.description or '').splitlines()[0]}")
        typer.echo(f"    parameters: {json.dumps(definition.parameters_json_schema)}")


@app.command("new")
def new(
    name: str,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to create it (default: <workspace>/skills).")
    ] = None,
) -> None:
    """Scaffold a working skill (SKILL.md, tools.py and a test) in the workspace."""
    from agentbox.skillkit.scaffold import scaffold

    root = directory or config_or_exit().workspace / "skills"
    folder = scaffold(root, name)  # a ScaffoldError exits 2
    _warn_same_name(name, folder)
    typer.echo(f"Created {folder}/ (SKILL.md, tools.py, test_{name.replace('-', '_')}.py)")
    typer.echo(f"Test it:  pytest {folder}")
    typer.echo(f"Check it: agentbox skills check {folder}")


def _warn_same_name(name: str, created: Path) -> None:
    """A new skill named like an existing one replaces it (or is hidden by it): tell the author now."""
    registry = _registry()
    skill = registry.get(name)
    if skill is None:
        return
    others = [(src, path) for src, path in [*registry.overridden(skill), (skill.source, skill.path)] if path != created]
    for source, path in others:
        if skill.path == created:
            typer.echo(f"warning: a {source} skill named {name!r} exists ({path}); yours replaces it", err=True)
        else:
            typer.echo(f"warning: agentbox uses the {source} skill {name!r} ({path}), not this one", err=True)
    if others:
        typer.echo("  choose another name to keep both: agentbox skills new <other-name>", err=True)


@app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="A skill folder (default: the current directory).")] = Path("."),
) -> None:
    """Validate a skill folder and print exactly what the model would see."""
    from agentbox.skillkit.gating import apply_gating
    from agentbox.skillkit.loader import load_skill
    from agentbox.skillkit.registry import render_skill_list

    folder = path.resolve()
    if not (folder / "SKILL.md").is_file():
        fail(f"{folder}: no SKILL.md here", 1)
    skill = load_skill(folder, "path")
    if skill.error:
        fail(f"{folder / 'SKILL.md'}: {skill.error}", 1)
    config = config_or_exit()
    apply_gating(skill, config)
    typer.echo(f"✓ {skill.manifest}: {skill.name}")
    for warning in skill.warnings:
        typer.echo(f"! {warning}")
    for need, fix in skill.unmet:
        typer.echo(f"! unavailable here: {need}" + (f" — fix: {fix}" if fix else ""))
    if skill.scripts:
        typer.echo(f"! runs its scripts ({', '.join(skill.scripts)}): only agents with allow_exec = true can use it")
    tools: list[dict[str, Any]] = []
    if skill.has_tools:
        from agentbox.skillkit.toolsets import ToolsImportError, build_function_toolset

        try:
            toolset = build_function_toolset(skill)
        except ToolsImportError as exc:
            fail(f"{skill.tools_py}: {exc}", 1)
        for tool in toolset.tools.values():
            d = tool.tool_def
            tools.append({"name": d.name, "description": d.description, "parameters": d.parameters_json_schema})
        typer.echo(f"✓ tools.py: {', '.join(t['name'] for t in tools) or '(no tools)'}")
    typer.echo("\n--- in the system prompt ---")
    typer.echo(render_skill_list([skill]))
    typer.echo("\n--- tools sent to the model ---")
    typer.echo(json.dumps(tools, indent=2) if tools else "(none)")
    typer.echo(f"\n--- read_skill({skill.name!r}) returns ---")
    from agentbox.skillkit.builtin import skill_instructions

    typer.echo(skill_instructions(skill, [t["name"] for t in tools]))


@app.command("install")
def install(
    path: Annotated[Path, typer.Argument(help="A skill folder or a .zip of one, on this machine.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Install without asking (scripts).")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Install even when the check finds a dangerous pattern.")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an installed skill of the same name.")] = False,
) -> None:
    """Copy a skill into <workspace>/skills after a safety check, showing what it needs."""
    from agentbox.cli.skills_install import install_skill

    install_skill(config_or_exit(), path, yes=yes, force=force, replace=replace)
