"""Where agentbox keeps its state: `AGENTBOX_HOME` (default `~/.agentbox`)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("AGENTBOX_HOME") or Path.home() / ".agentbox").expanduser()


def config_path() -> Path:
    explicit = os.environ.get("AGENTBOX_CONFIG")
    return Path(explicit).expanduser() if explicit else home() / "config.toml"


def ensure_home() -> Path:
    path = home()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file readable by the owner only (tokens, config with secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
