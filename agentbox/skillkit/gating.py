"""Requirement checks: a skill whose needs are not met is unavailable, with the exact reason.

Checks are cheap (env lookups, `shutil.which`, `importlib.util.find_spec`): no skill code runs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentbox.config import Config
from agentbox.envfile import env_reference
from agentbox.skillkit import fixes
from agentbox.skillkit.actions import analyse
from agentbox.skillkit.model import Skill, Unmet

# Debian, Ubuntu and Google builds name the same browser differently.
BINARY_ALIASES: dict[str, tuple[str, ...]] = {
    "chromium": ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
}


def skill_settings(config: Config, skill_name: str) -> dict[str, Any]:
    """`[skills.config.<name>]` from config.toml: per-skill settings (and `env` secrets)."""
    return dict(config.skills.config.get(skill_name) or {})


def env_grants(config: Config, skill_name: str) -> dict[str, str]:
    """`[skills.config.<name>] env`: variables the owner gives this skill, declared by it or not."""
    table = skill_settings(config, skill_name).get("env")
    if not isinstance(table, Mapping):
        return {}
    return {str(var): value for var, value in table.items() if isinstance(value, str)}


def allowed_env(skill: Skill, config: Config) -> frozenset[str]:
    """The env vars a skill may read: those it declares plus those the owner granted it."""
    return skill.declared_env | frozenset(env_grants(config, skill.name))


def lookup_env(config: Config, skill_name: str, var: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret's value for one skill.

    `[skills.config.<name>.env] VAR = "OTHER_VAR"` (an upper-case name, or `"${OTHER_VAR}"`) reads
    OTHER_VAR from the environment; otherwise the process environment's VAR comes first and a
    literal value in that table is the fallback. AIMLAPI_API_KEY may also come from `[aimlapi] api_key`.
    """
    environ = os.environ if environ is None else environ
    configured = env_grants(config, skill_name).get(var, "")
    source = env_reference(configured) or var
    if value := environ.get(source):
        return value
    if configured and source == var:
        return configured
    if source == "AIMLAPI_API_KEY":
        return config.api_key()
    return None


def declared_secrets(skills: Iterable[Skill], config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of every env var the skills declare (and that is set): all of them are secrets."""
    return [
        value
        for skill in skills
        for var in sorted(allowed_env(skill, config))
        if (value := lookup_env(config, skill.name, var, environ))
    ]


def find_binary(name: str, config: Config) -> str | None:
    """Path of a required binary (config's `skills.chromium_path` counts for chromium)."""
    if name == "chromium" and config.skills.chromium_path:
        path = os.path.expanduser(config.skills.chromium_path)
        return path if os.access(path, os.X_OK) else None
    for candidate in BINARY_ALIASES.get(name, (name,)):
        if found := shutil.which(candidate):
            return found
    return None


def config_value(config: Config, skill_name: str, dotted: str) -> Any:
    """A `requires.config` key: the skill's own settings first, then the whole config by path."""
    settings: Any = skill_settings(config, skill_name)
    for node in (settings, config.model_dump()):
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node not in (None, "", [], {}, False):
            return node
    return None


def unmet_requirements(skill: Skill, config: Config, environ: Mapping[str, str] | None = None) -> list[Unmet]:
    """Every unmet requirement, each with the command that meets it (empty when the skill can run here)."""
    req = skill.requires
    return [
        *_unmet_os(req.os),
        *_unmet_env(req.env, config, skill.name, environ),
        *_unmet_binaries(req.bins, req.any_bins, config),
        *_unmet_python(req.python),
        *_unmet_config(req.config, config, skill.name),
    ]


def unmet_requirement(skill: Skill, config: Config, environ: Mapping[str, str] | None = None) -> Unmet | None:
    """None when every requirement holds, else (the first unmet one, the command that meets it)."""
    return next(iter(unmet_requirements(skill, config, environ)), None)


def apply_gating(skill: Skill, config: Config, environ: Mapping[str, str] | None = None) -> None:
    """Record the skill's unmet requirements; any makes it unavailable, unless it says `always: true`.

    An instructions-only skill is judged by what its commands need too (see `actions`): programs
    other than HTTP calls and its own scripts need a shell agentbox does not have; a skill whose
    commands are only its own scripts needs `exec` (checked per agent, by the registry).
    """
    skill.unmet = unmet_requirements(skill, config, environ)
    needs = analyse(skill)
    if needs.needs_shell:
        programs = ", ".join(needs.programs[:6]) + (", ..." if len(needs.programs) > 6 else "")
        skill.unmet.append((f"needs a shell to run {programs} (agentbox runs no shell commands)", None))
    skill.scripts = needs.scripts if needs.needs_exec else ()
    skill.reason = skill.fix = None
    if skill.unmet and not skill.always:
        skill.reason = "; ".join(need for need, _ in skill.unmet)
        skill.fix = "; ".join(fix for _, fix in skill.unmet if fix) or None


def _unmet_os(names: Sequence[str]) -> list[Unmet]:
    if names and not any(sys.platform.startswith(name) for name in names):
        return [(f"needs os {' or '.join(names)}", None)]
    return []


def _unmet_env(
    variables: Iterable[str], config: Config, skill_name: str, environ: Mapping[str, str] | None
) -> list[Unmet]:
    out: list[Unmet] = []
    grants = env_grants(config, skill_name)
    for var in variables:
        if lookup_env(config, skill_name, var, environ):
            continue
        source = env_reference(grants.get(var, "")) or var
        need = f"needs env {source}" + (f" (granted as {var})" if source != var else "")
        out.append((need, fixes.env_setting(source, skill_name)))
    return out


def _unmet_binaries(every: Iterable[str], any_of: Sequence[str], config: Config) -> list[Unmet]:
    out: list[Unmet] = [
        (f"needs binary {binary}", fixes.binary_install(binary)) for binary in every if not find_binary(binary, config)
    ]
    if any_of and not any(find_binary(binary, config) for binary in any_of):
        out.append((f"needs binary {' or '.join(any_of)}", fixes.binary_install(any_of[0])))
    return out


def _unmet_python(modules: Iterable[str]) -> list[Unmet]:
    return [
        (f"needs python package {module}", fixes.pip_install(module)) for module in modules if not _importable(module)
    ]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # "a.b" whose package "a" is missing raises instead of answering None
        return False


def _unmet_config(keys: Iterable[str], config: Config, skill_name: str) -> list[Unmet]:
    return [
        (f"needs config {key}", fixes.config_setting(key, skill_name))
        for key in keys
        if config_value(config, skill_name, key) is None
    ]
