"""`AGENTBOX_HOME/.env`: where `agentbox onboard` keeps bot tokens (mode 0600).

The config names the env var that holds each token (`token_env`, `bot_token_env`, ...), so
tokens never sit in config.toml. This file supplies those variables: agentbox loads it at start
without overriding anything already set in the real environment (the shell or the service wins).
Format: `NAME=value` lines, `#` comments, optional single or double quotes around the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from agentbox import paths

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A `[skills.config.<name>.env]` value that names an environment variable instead of holding the value.
ENV_REFERENCE = re.compile(r"^(?:\$\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))$")


def env_reference(value: str) -> str | None:
    """The environment variable a grant names (`"NOTION_KEY"` or `"${NOTION_KEY}"`); None for a literal value."""
    match = ENV_REFERENCE.match(value.strip())
    return (match.group(1) or match.group(2)) if match else None


def env_file_path() -> Path:
    return paths.home() / ".env"


def parse_env(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not _NAME.match(name):
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def read_env_file(path: Path | None = None) -> dict[str, str]:
    path = path or env_file_path()
    try:
        return parse_env(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


_loaded_into_process: dict[str, str] = {}  # name → value this process took from `.env`


def load_env_file(path: Path | None = None, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Put the file's variables into the environment unless already set; returns the names loaded."""
    environ = os.environ if environ is None else environ
    loaded = []
    for name, value in read_env_file(path).items():
        if name not in environ and value:
            environ[name] = value
            loaded.append(name)
    if environ is os.environ:
        _loaded_into_process.update((name, environ[name]) for name in loaded)
    return loaded


def came_from_env_file(name: str) -> bool:
    """Whether this process's `name` was set from `.env` (not by the shell or the service)."""
    return name in _loaded_into_process and os.environ.get(name) == _loaded_into_process[name]


def update_env_file(updates: Mapping[str, str], path: Path | None = None) -> Path:
    """Set variables in the file (other lines and comments are kept); written owner-only."""
    path = path or env_file_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = ["# agentbox secrets (bot tokens). Keep this file private: chmod 600."]
    pending = dict(updates)
    out = []
    for line in lines:
        name = line.strip().removeprefix("export ").partition("=")[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and name in pending:
            out.append(f"{name}={_quote(pending.pop(name))}")
        else:
            out.append(line)
    out.extend(f"{name}={_quote(value)}" for name, value in pending.items())
    paths.write_private(path, "\n".join(out) + "\n")
    return path


def _quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_\-.:/+=@]*", value):
        return value
    return "'" + value.replace("'", "") + "'"
