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
from agentbox.skillkit import fixes
from agentbox.skillkit.model import Skill

# Debian, Ubuntu and Google builds name the same browser differently.
BINARY_ALIASES: dict[str, tuple[str, ...]] = {
    "chromium": ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
}


def skill_settings(config: Config, skill_name: str) -> dict[str, Any]:
    """`[skills.config.<name>]` from config.toml: per-skill settings (and `env` secrets)."""
    return dict(config.skills.config.get(skill_name) or {})


def lookup_env(config: Config, skill_name: str, var: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A secret's value: the process environment, else `[skills.config.<name>.env]` in config.toml.

    AIMLAPI_API_KEY may also come from `[aimlapi] api_key` (the config loader merges both).
    """
    environ = os.environ if environ is None else environ
    if value := environ.get(var):
        return value
    configured = skill_settings(config, skill_name).get("env")
    if isinstance(configured, Mapping) and isinstance(configured.get(var), str) and configured[var]:
        return str(configured[var])
    if var == "AIMLAPI_API_KEY":
        return config.api_key()
    return None


def declared_secrets(skills: Iterable[Skill], config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of every env var the skills declare (and that is set): all of them are secrets."""
    return [
        value
        for skill in skills
        for var in sorted(skill.declared_env)
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


Unmet = tuple[str, str | None]
"""An unmet requirement: what the skill needs, and the command that meets it (None when there is none)."""


def unmet_requirement(skill: Skill, config: Config, environ: Mapping[str, str] | None = None) -> Unmet | None:
    """None when every requirement holds, else (the first unmet one, the command that meets it)."""
    req = skill.requires
    return (
        _unmet_os(req.os)
        or _unmet_env(req.env, config, skill.name, environ)
        or _unmet_binaries(req.bins, req.any_bins, config)
        or _unmet_python(req.python)
        or _unmet_config(req.config, config, skill.name)
    )


def _unmet_os(names: Sequence[str]) -> Unmet | None:
    if names and not any(sys.platform.startswith(name) for name in names):
        return f"needs os {' or '.join(names)}", None
    return None


def _unmet_env(
    variables: Iterable[str], config: Config, skill_name: str, environ: Mapping[str, str] | None
) -> Unmet | None:
    for var in variables:
        if not lookup_env(config, skill_name, var, environ):
            return f"needs env {var}", fixes.env_setting(var, skill_name)
    return None


def _unmet_binaries(every: Iterable[str], any_of: Sequence[str], config: Config) -> Unmet | None:
    for binary in every:
        if not find_binary(binary, config):
            return f"needs binary {binary}", fixes.binary_install(binary)
    if any_of and not any(find_binary(binary, config) for binary in any_of):
        return f"needs binary {' or '.join(any_of)}", fixes.binary_install(any_of[0])
    return None


def _unmet_python(modules: Iterable[str]) -> Unmet | None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            return f"needs python package {module}", fixes.pip_install(module)
    return None


def _unmet_config(keys: Iterable[str], config: Config, skill_name: str) -> Unmet | None:
    for key in keys:
        if config_value(config, skill_name, key) is None:
            return f"needs config {key}", fixes.config_setting(key, skill_name)
    return None
