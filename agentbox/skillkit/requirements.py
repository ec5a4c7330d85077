"""What a skill declares it needs, from every place OpenClaw-family skills write it.

Read, in this order, and merged:

- `metadata.openclaw` and the older names `metadata.clawdbot`, `metadata.moltbot`,
  `metadata.clawdis` (OpenClaw reads the first present; agentbox merges them all, so a skill
  carrying two generations of the block gets every need either declares), or `metadata`
  itself when it holds `requires` directly; a `metadata` written as a JSON string is parsed;
- `metadata.agentbox` (same shape, agentbox's own additions such as `requires.python`);
- top-level fields ClawHub's format documents: `env` (a list of names, or of `{name, required}`),
  `primaryEnv`, `requires`, `bins`, `os`, `always`, `install`, `emoji`, `homepage`.

Lists may be YAML/JSON lists or comma-separated strings (as OpenClaw accepts). Entries that are
not names (prose such as "Gemini API key", version ranges such as ">=3.10") are skipped with a
warning instead of gating the skill on something no machine can satisfy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentbox.skillkit.frontmatter import parse_structured
from agentbox.skillkit.model import InstallHint, Requirements

OPENCLAW_KEYS = ("openclaw", "clawdbot", "moltbot", "clawdis")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BIN_NAME = re.compile(r"^[\w.+-]+$")
MODULE_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
CONFIG_KEY = re.compile(r"^[\w.-]+$")
OS_ALIASES = {"macos": "darwin", "mac": "darwin", "osx": "darwin", "windows": "win32", "win": "win32"}
FIELD_PATTERNS = {
    "env": ENV_NAME,
    "optionalEnv": ENV_NAME,
    "bins": BIN_NAME,
    "anyBins": BIN_NAME,
    "config": CONFIG_KEY,
    "python": MODULE_NAME,
}
OPTIONAL_ENV_KEYS = ("optionalEnv", "optional_env")


@dataclass(slots=True)
class Declarations:
    """Everything a skill's front matter says about its needs, merged from every place it may be written."""

    fields: dict[str, list[str]] = field(default_factory=dict)  # env, bins, anyBins, config, python, os
    optional_env: list[str] = field(default_factory=list)
    primary_env: str | None = None
    always: bool = False
    install: list[InstallHint] = field(default_factory=list)
    emoji: str | None = None
    homepage: str | None = None
    warnings: list[str] = field(default_factory=list)

    def add(self, name: str, values: Any, where: str) -> None:
        pattern = FIELD_PATTERNS.get(name)
        bucket = self.optional_env if name == "optionalEnv" else self.fields.setdefault(name, [])
        for item in string_list(values):
            if name == "os":
                item = OS_ALIASES.get(item.lower(), item.lower())
            elif pattern is not None and not pattern.match(item):
                self.warnings.append(f"ignored {where} entry {item[:60]!r}: not a name")
                continue
            if item not in bucket:
                bucket.append(item)

    def requirements(self) -> Requirements:
        get = self.fields.get
        return Requirements(
            env=tuple(get("env", ())),
            bins=tuple(get("bins", ())),
            any_bins=tuple(get("anyBins", ())),
            config=tuple(get("config", ())),
            python=tuple(get("python", ())),
            os=tuple(get("os", ())),
        )


def string_list(value: Any) -> list[str]:
    """A list of strings from a list, or a comma-separated string; objects inside are skipped."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item).strip() for item in value if isinstance(item, str | int | float) and str(item).strip()]
    return []


def read_declarations(data: Mapping[str, Any]) -> Declarations:
    """Merge every requirement declaration in a parsed front matter."""
    found = Declarations()
    metadata = data.get("metadata")
    if isinstance(metadata, str):
        metadata = parse_structured(metadata)
    if metadata is not None and not isinstance(metadata, Mapping):
        found.warnings.append("ignored metadata: it is neither a mapping nor JSON")
        metadata = None
    for key, block in _blocks(metadata or {}):
        _read_block(found, block, f"metadata.{key}" if key else "metadata")
    _read_block(found, data, "")
    _read_env_list(found, data.get("env"))
    return found


def _blocks(metadata: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    blocks = [(key, metadata[key]) for key in OPENCLAW_KEYS if isinstance(metadata.get(key), Mapping)]
    if not blocks and ("requires" in metadata or "primaryEnv" in metadata):
        blocks.append(("", metadata))
    if isinstance(metadata.get("agentbox"), Mapping):
        blocks.append(("agentbox", metadata["agentbox"]))
    return blocks


def _read_block(found: Declarations, block: Mapping[str, Any], where: str) -> None:
    prefix = f"{where}." if where else ""
    requires = block.get("requires")
    if isinstance(requires, Mapping):
        for name in ("env", "bins", "anyBins", "config", "python", "os"):
            found.add(name, requires.get(name), f"{prefix}requires.{name}")
        for key in OPTIONAL_ENV_KEYS:
            found.add("optionalEnv", requires.get(key), f"{prefix}requires.{key}")
    elif requires is not None and where:
        found.warnings.append(f"ignored {prefix}requires: not a mapping")
    for key in OPTIONAL_ENV_KEYS:
        found.add("optionalEnv", block.get(key), f"{prefix}{key}")
    found.add("os", block.get("os"), f"{prefix}os")
    if not where:
        found.add("bins", block.get("bins"), "bins")
    primary = block.get("primaryEnv")
    if isinstance(primary, str) and ENV_NAME.match(primary.strip()) and found.primary_env is None:
        found.primary_env = primary.strip()
    found.always = found.always or _truthy(block.get("always"))
    found.install.extend(install_hints(block.get("install")))
    if found.emoji is None and isinstance(block.get("emoji"), str):
        found.emoji = block["emoji"]
    if found.homepage is None and isinstance(block.get("homepage"), str):
        found.homepage = block["homepage"]


def _read_env_list(found: Declarations, value: Any) -> None:
    """Top-level `env`: names, or `{name, required, description}` entries (ClawHub's format)."""
    if isinstance(value, Mapping):  # {NAME: description}
        value = [{"name": key, **(item if isinstance(item, Mapping) else {})} for key, item in value.items()]
    if not isinstance(value, list):
        found.add("env", value, "env")
        return
    for item in value:
        if isinstance(item, Mapping):
            optional = item.get("required") is False or _truthy(item.get("optional"))
            found.add("optionalEnv" if optional else "env", item.get("name"), "env")
        else:
            found.add("env", [item], "env")


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "yes", "1"))


INSTALL_COMMANDS = {
    "brew": "brew install {}",
    "node": "npm install -g {}",
    "npm": "npm install -g {}",
    "go": "go install {}",
    "uv": "uv tool install {}",
    "pip": "pip install {}",
    "pipx": "pipx install {}",
    "cargo": "cargo install {}",
    "apt": "sudo apt install {}",
    "download": "download {}",
}
SPEC_KEYS = ("formula", "cask", "package", "module", "url", "name")


def install_hints(value: Any) -> list[InstallHint]:
    """`install` entries as the commands they stand for: `[{kind: brew, formula: gh}]` or `{brew: [gh]}`."""
    if isinstance(value, Mapping):  # {kind: [packages]}
        value = [{"kind": kind, "package": item} for kind, items in value.items() for item in string_list(items)]
    if not isinstance(value, list):
        return []
    hints = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        kind = str(entry.get("kind") or entry.get("type") or "").strip().lower()
        spec = next((str(entry[key]).strip() for key in SPEC_KEYS if isinstance(entry.get(key), str)), "")
        if kind not in INSTALL_COMMANDS or not spec or spec.startswith("-"):
            continue
        label = entry.get("label") if isinstance(entry.get("label"), str) else None
        hints.append(
            InstallHint(kind, INSTALL_COMMANDS[kind].format(spec), label, tuple(string_list(entry.get("bins"))))
        )
    return hints
