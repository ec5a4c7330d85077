"""What a skill is once its folder has been read: plain data, no imports of its code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Source = Literal["bundled", "extra", "user", "workspace", "path"]
Status = Literal["ready", "unavailable", "broken", "disabled"]

Unmet = tuple[str, str | None]
"""An unmet requirement: what the skill needs, and the command that meets it (None when there is none)."""

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


@dataclass(frozen=True, slots=True)
class InstallHint:
    """One way the skill says to install what it needs (`metadata.*.install`): shown to the owner, never run."""

    kind: str  # brew, node, go, uv, pip, apt, download, ...
    command: str  # e.g. "brew install steipete/tap/gogcli"
    label: str | None = None
    bins: tuple[str, ...] = ()

    def render(self) -> str:
        return f"{self.command} ({self.label})" if self.label else self.command


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
    optional_env: tuple[str, ...] = ()  # env vars the skill may read but does not need
    always: bool = False  # `always: true`: offered even when a requirement is unmet (OpenClaw's rule)
    install: tuple[InstallHint, ...] = ()
    title: str | None = None  # the front matter's name when it is not a usable skill name
    emoji: str | None = None
    homepage: str | None = None
    manifest: str = "SKILL.md"  # the file's own spelling (skill.md is found too)
    scripts: tuple[str, ...] = ()  # scripts in its folder its instructions run (and nothing else): needs exec
    warnings: list[str] = field(default_factory=list)  # what the loader had to guess or ignore
    error: str | None = None
    reason: str | None = None  # every unmet requirement, "; "-joined
    fix: str | None = None  # the commands that meet them
    unmet: list[Unmet] = field(default_factory=list)  # each unmet requirement with its fix
    overrides: list[Path] = field(default_factory=list)  # same-name skills this one shadows

    @property
    def skill_md(self) -> Path:
        return self.path / self.manifest

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
        names = set(self.requires.env) | set(self.optional_env)
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
        if self.unmet:  # only `always: true` skills get here
            return "ready (always: true, although it " + "; ".join(need for need, _ in self.unmet) + ")"
        return "ready"
