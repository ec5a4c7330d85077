"""Reading skill folders: SKILL.md front matter (PyYAML) and discovery across the skill roots.

Front matter follows the AgentSkills / OpenClaw format::

    ---
    name: weather
    description: Current weather and forecasts for a city.
    metadata: {"openclaw": {"requires": {"env": ["WEATHER_API_KEY"], "bins": ["curl"]}}}
    ---
    Instructions for the model...

Requirements are read from `metadata.openclaw`, `metadata.clawdbot` (older OpenClaw skills)
and `metadata.agentbox`, merged. A malformed SKILL.md yields a skill marked broken, never an
exception: one bad folder must not hide the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from agentbox.errors import AgentboxError
from agentbox.skillkit.model import SOURCE_ORDER, Requirements, Skill, Source

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_DESCRIPTION = 1024
METADATA_KEYS = ("openclaw", "clawdbot", "agentbox")


class SkillFormatError(AgentboxError, ValueError):
    """SKILL.md cannot be understood; the message says what to fix."""


def split_front_matter(text: str) -> tuple[str, str]:
    """`(yaml_text, body)`; raises SkillFormatError without a `---` fenced header."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise SkillFormatError("SKILL.md must start with a '---' line opening the YAML front matter")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]).strip()
    raise SkillFormatError("the YAML front matter is not closed by a '---' line")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise SkillFormatError(f"{where} must be a list of strings")


def parse_requirements(metadata: Any) -> tuple[Requirements, dict[str, Any]]:
    """Merge the `requires` blocks of every known metadata key; also return the merged extras."""
    if metadata is None:
        return Requirements(), {}
    if not isinstance(metadata, Mapping):
        raise SkillFormatError("metadata must be a mapping")
    merged: dict[str, list[str]] = {}
    extras: dict[str, Any] = {}
    for key in METADATA_KEYS:
        block = metadata.get(key)
        if block is not None:
            _merge_block(key, block, merged, extras)
    return (
        Requirements(
            env=tuple(merged.get("env", ())),
            bins=tuple(merged.get("bins", ())),
            any_bins=tuple(merged.get("anyBins", ())),
            config=tuple(merged.get("config", ())),
            python=tuple(merged.get("python", ())),
            os=tuple(merged.get("os", ())),
        ),
        extras,
    )


def _merge_block(key: str, block: Any, merged: dict[str, list[str]], extras: dict[str, Any]) -> None:
    """Add `metadata.<key>`'s requirements to `merged` (lists by field) and its other entries to `extras`."""
    if not isinstance(block, Mapping):
        raise SkillFormatError(f"metadata.{key} must be a mapping")
    extras.update({k: v for k, v in block.items() if k != "requires"})
    requires = block.get("requires") or {}
    if not isinstance(requires, Mapping):
        raise SkillFormatError(f"metadata.{key}.requires must be a mapping")
    for field_name in ("env", "bins", "anyBins", "config", "python", "os"):
        for item in _strings(requires.get(field_name), f"metadata.{key}.requires.{field_name}"):
            bucket = merged.setdefault(field_name, [])
            if item not in bucket:
                bucket.append(item)
    for item in _strings(block.get("os"), f"metadata.{key}.os"):
        merged.setdefault("os", []).append(item)


def parse_skill_md(text: str, *, path: Path, source: Source) -> Skill:
    """Build a Skill from SKILL.md text; raises SkillFormatError naming the problem."""
    header, body = split_front_matter(text)
    try:
        data = yaml.safe_load(header)
    except yaml.YAMLError as exc:
        raise SkillFormatError(f"invalid YAML front matter: {' '.join(str(exc).split())}") from None
    if not isinstance(data, Mapping):
        raise SkillFormatError("the front matter must be a YAML mapping with name and description")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SkillFormatError("front matter needs a `name`")
    name = name.strip()
    if not NAME_RE.match(name):
        raise SkillFormatError(f"name {name!r} must be lowercase letters, digits, '-' or '_' (at most 64)")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise SkillFormatError("front matter needs a `description` (one line the model sees)")
    if len(description) > MAX_DESCRIPTION:
        raise SkillFormatError(f"description is longer than {MAX_DESCRIPTION} characters")
    requires, extras = parse_requirements(data.get("metadata"))
    primary = extras.get("primaryEnv")
    return Skill(
        name=name,
        description=description.strip(),
        path=path,
        source=source,
        body=body,
        requires=requires,
        primary_env=primary if isinstance(primary, str) else None,
        emoji=extras.get("emoji") if isinstance(extras.get("emoji"), str) else None,
        homepage=data.get("homepage") if isinstance(data.get("homepage"), str) else None,
    )


def load_skill(folder: Path, source: Source) -> Skill:
    """Read one skill folder; problems become a broken Skill named after the folder."""
    try:
        text = (folder / "SKILL.md").read_text(encoding="utf-8")
        return parse_skill_md(text, path=folder, source=source)
    except (OSError, UnicodeDecodeError, SkillFormatError) as exc:
        return Skill(name=folder.name, description="", path=folder, source=source, error=str(exc))


def skill_folders(root: Path) -> list[Path]:
    """Direct subfolders of a skill root holding a SKILL.md, sorted by name."""
    if not root.is_dir():
        return []
    return sorted(child for child in root.iterdir() if child.is_dir() and (child / "SKILL.md").is_file())


def discover(roots: Iterable[tuple[Source, Path]]) -> dict[str, Skill]:
    """Load every skill under the roots; a later root overrides an earlier one by skill name."""
    found: dict[str, Skill] = {}
    # Stable sort: several extra dirs keep their configured order among themselves.
    ordered = sorted(roots, key=lambda item: SOURCE_ORDER.index(item[0]) if item[0] in SOURCE_ORDER else 99)
    for source, root in ordered:
        for folder in skill_folders(root):
            skill = load_skill(folder, source)
            previous = found.get(skill.name)
            if previous is not None:
                skill.overrides = [*previous.overrides, previous.path]
            found[skill.name] = skill
    return dict(sorted(found.items()))
