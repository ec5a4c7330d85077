"""What `agentbox skills install` shows and asks before it copies a skill into the workspace."""

from __future__ import annotations

from pathlib import Path

import typer

from agentbox.cli.common import fail
from agentbox.cli.termsafe import terminal_safe
from agentbox.config import Config
from agentbox.skillkit.gating import apply_gating
from agentbox.skillkit.install import Candidate, install, open_candidate


def install_skill(config: Config, path: Path, *, yes: bool, force: bool, replace: bool) -> None:
    """Check, describe, confirm, copy. Dangerous findings need --force (or a yes typed at the prompt)."""
    with open_candidate(path) as candidate:
        destination = config.workspace / "skills" / candidate.skill.name
        describe(candidate, config, destination)
        if candidate.dangerous and yes and not force:
            fail(
                f"not installed: the check found {len(candidate.dangerous)} dangerous pattern(s) above; "
                "read those files, and pass --force to install it anyway",
                1,
            )
        if not yes:
            question = "Install it anyway?" if candidate.dangerous else "Install it?"
            if not typer.confirm(question, default=False):
                fail("not installed", 1)
        installed = install(candidate, config.workspace / "skills", replace=replace)
    typer.echo(f"Installed {candidate.skill.name} in {installed}")
    typer.echo("`agentbox skills list` shows it; agents pick it up on their next turn.")


def say(label: str, text: str) -> None:
    """One `label: text` line; the text comes from the skill, so control characters are neutralized."""
    typer.echo(f"{label + ':':<13}{terminal_safe(text, single_line=True)}")


def describe(candidate: Candidate, config: Config, destination: Path) -> None:
    """The skill, where it goes, what it needs (met here or not), and every finding of the check."""
    skill = candidate.skill
    apply_gating(skill, config)
    say("Skill", skill.name + (f" ({skill.title})" if skill.title else ""))
    say("Does", skill.summary())
    say("From", str(candidate.folder))
    say("Installs to", str(destination) + (" (replacing the one there)" if destination.exists() else ""))
    declared = sorted(skill.declared_env)
    say("Secrets", ", ".join(declared) if declared else "none declared")
    for need, fix in skill.unmet:
        say("Not met", need + (f" — fix: {fix}" if fix else ""))
    for hint in skill.install:
        say("Suggests", hint.render())
    for warning in skill.warnings:
        say("Note", warning)
    scripts = [p for p in candidate.folder.rglob("*") if p.suffix in (".py", ".sh", ".js", ".mjs") and p.is_file()]
    if scripts and not skill.has_tools:
        say("Scripts", f"{len(scripts)}; the model can run them only for agents with allow_exec = true")
    if not candidate.findings:
        say("Check", "no known dangerous pattern found (not a proof of safety: read what you install)")
        return
    say("Check", f"{len(candidate.findings)} finding(s):")
    for finding in candidate.findings[:50]:
        typer.echo("  " + terminal_safe(finding.render()))
    if len(candidate.findings) > 50:
        typer.echo(f"  ... and {len(candidate.findings) - 50} more")
