"""What a skill is once its folder has been read: plain data, no imports of its code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Source = Literal["bundled", "extra", "user", "workspace", "path"]
Status = Literal["ready", "unavailable", "broken", "disabled"]

# Later sources override earlier ones when two skills share a name.
SOURCE_ORDER: tuple[Source, ...] = ("bundled", "extra", "user", "workspace")


@dataclass(frozen=True, slots=True)
class Requirements:
    """What must be present before a skill is offered (OpenClaw's `metadata.openclaw.requires`)."""

    env: tuple[str, ...] = ()
    bins: tuple[str, ...] = ()
    any_bins: tuple[str, ...] = ()
    config: tuple[str, ...] = ()
    python: tuple[str, ...] = ()  # agentbox only: importable Python modules (e.g. "playwright")
    os: tuple[str, ...] = ()  # sys.platform prefixes: "linux", "darwin", "win32"


@dataclass(slots=True)
class Skill:
    """One discovered skill folder. `error` set means broken; `reason` set means unavailable."""

    name: str
    description: str
    path: Path
    source: Source
    body: str = ""  # the instructions after the front matter
    requires: Requirements = field(default_factory=Requirements)
    primary_env: str | None = None
    emoji: str | None = None
    homepage: str | None = None
    error: str | None = None
    reason: str | None = None
    fix: str | None = None  # the command that meets the unmet requirement in `reason`
    overrides: list[Path] = field(default_factory=list)  # same-name skills this one shadows

    @property
    def skill_md(self) -> Path:
        return self.path / "SKILL.md"

    @property
    def tools_py(self) -> Path:
        return self.path / "tools.py"

    @property
    def has_tools(self) -> bool:
        return self.tools_py.is_file()

    @property
    def status(self) -> Status:
        if self.error:
            return "broken"
        if self.reason:
            return "unavailable"
        return "ready"

    @property
    def declared_env(self) -> frozenset[str]:
        """The only environment variables (secrets) this skill may read."""
        names = set(self.requires.env)
        if self.primary_env:
            names.add(self.primary_env)
        return frozenset(names)

    def summary(self, limit: int = 140) -> str:
        """The description's first line, trimmed: what the system prompt shows."""
        line = " ".join(self.description.strip().split("\n", 1)[0].split())
        return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"

    def status_text(self, *, with_fix: bool = True) -> str:
        if self.error:
            return f"broken: {self.error}"
        if self.reason:
            return f"unavailable: {self.reason}" + (f" — fix: {self.fix}" if self.fix and with_fix else "")
        return "ready"
