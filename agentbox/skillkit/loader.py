"""Reading skill folders: SKILL.md front matter and discovery across the skill roots.

Front matter follows the AgentSkills / OpenClaw format::

    ---
    name: weather
    description: Current weather and forecasts for a city.
    metadata: {"openclaw": {"requires": {"env": ["WEATHER_API_KEY"], "bins": ["curl"]}}}
    ---
    Instructions for the model...

It is read as leniently as OpenClaw reads it (see `frontmatter` and `requirements`): invalid
YAML falls back to line-by-line reading, a missing `name` falls back to the folder's name, a
name that is not a slug ("Agent Browser") becomes one ("agent-browser"), and `{baseDir}` in
the instructions becomes the skill's folder. A SKILL.md that still cannot be read yields a skill
marked broken, never an exception: one bad folder must not hide the others.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from agentbox.skillkit.frontmatter import SkillFormatError, read_front_matter, split_front_matter
from agentbox.skillkit.model import SOURCE_ORDER, Skill, Source
from agentbox.skillkit.requirements import read_declarations

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_SKILL_MD = 256_000  # bytes; OpenClaw's limit too
MAX_DEPTH = 4  # folders below a root searched for SKILL.md: owner/skill/ layouts and a nested skills/ folder
MAX_FOLDERS = 5_000  # folders visited per root: a huge tree dropped in by mistake cannot stall every turn
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv"})
MANIFEST_NAMES = ("SKILL.md", "skill.md", "Skill.md")
BASE_DIR = "{baseDir}"

__all__ = [
    "NAME_RE",
    "SkillFormatError",
    "discover",
    "load_skill",
    "parse_skill_md",
    "skill_folders",
    "split_front_matter",
]


def slug(text: str) -> str:
    """A usable skill name from a display name: "Agent Browser" -> "agent-browser" ("" when none)."""
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", text.strip().lower()).strip("-_")
    return cleaned[:64].rstrip("-_")


def _text(value: Any) -> str:
    """A front-matter value as text, as OpenClaw coerces it (lists and mappings become JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _identity(data: Mapping[str, Any], folder: Path) -> tuple[str, str | None]:
    """(skill name, display title when the declared name had to be turned into a slug)."""
    declared = _text(data.get("name"))
    if NAME_RE.match(declared):
        return declared, None
    name = slug(declared) or slug(folder.name)
    if not name:
        shown = declared or folder.name
        raise SkillFormatError(f"name {shown!r} has no letters or digits to name the skill by; add `name: my-skill`")
    return name, declared or None


def parse_skill_md(text: str, *, path: Path, source: Source) -> Skill:
    """Build a Skill from SKILL.md text; raises SkillFormatError naming the problem."""
    front = read_front_matter(text)
    data = front.data
    name, title = _identity(data, path)
    description = _text(data.get("description"))
    if not description:
        raise SkillFormatError("front matter needs a `description` (one line the model sees)")
    found = read_declarations(data)
    return Skill(
        name=name,
        description=description,
        path=path,
        source=source,
        body=front.body.replace(BASE_DIR, str(path.resolve())),
        requires=found.requirements(),
        primary_env=found.primary_env,
        optional_env=tuple(found.optional_env),
        always=found.always,
        install=tuple(found.install),
        title=title,
        emoji=found.emoji,
        homepage=_text(data.get("homepage")) or found.homepage,
        warnings=[*front.warnings, *found.warnings],
    )


def manifest_of(folder: Path) -> str | None:
    """The SKILL.md file's name in `folder` (`skill.md` as ClawHub accepts it), or None."""
    for name in MANIFEST_NAMES:
        if os.path.isfile(folder / name):
            return name
    return None


def load_skill(folder: Path, source: Source) -> Skill:
    """Read one skill folder; problems become a broken Skill named after the folder."""
    manifest = manifest_of(folder) or "SKILL.md"
    try:
        with open(folder / manifest, "rb") as handle:
            raw = handle.read(MAX_SKILL_MD + 1)
        if len(raw) > MAX_SKILL_MD:
            raise SkillFormatError(f"{manifest} is larger than {MAX_SKILL_MD // 1000} kB")
        skill = parse_skill_md(raw.decode("utf-8"), path=folder, source=source)
    except (OSError, UnicodeDecodeError, SkillFormatError) as exc:
        return Skill(name=slug(folder.name) or folder.name, description="", path=folder, source=source, error=str(exc))
    skill.manifest = manifest
    return skill


def skill_folders(root: Path) -> list[Path]:
    """Folders under a root holding a SKILL.md, sorted by path: direct children, and deeper ones
    (an `owner/skill/` layout, a repository's nested `skills/` folder) up to MAX_DEPTH levels.
    A skill's own subfolders are not searched, nor hidden folders or node_modules; symlinked
    folders are followed (a skill linked in from where it is developed), each real folder once."""
    return sorted(folder for folder, _ in walk_skill_folders(root))


def walk_skill_folders(root: Path) -> Iterator[tuple[Path, str]]:
    """(folder, manifest file name) for every skill folder under `root`, breadth first, bounded."""
    seen = {root.resolve()}
    level = [root]
    visited = 0
    for _ in range(MAX_DEPTH):
        following: list[Path] = []
        for parent in level:
            for child in _subfolders(parent):
                visited += 1
                if visited > MAX_FOLDERS:
                    return
                real = child.resolve()
                if real in seen:  # a link cycle, or one folder linked twice
                    continue
                seen.add(real)
                manifest = manifest_of(child)
                if manifest is not None:
                    yield child, manifest
                else:
                    following.append(child)
        level = following


def _subfolders(parent: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(parent), key=lambda entry: entry.name)
    except OSError:
        return []
    out = []
    for entry in entries:
        if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
            continue
        try:
            if entry.is_dir():  # follows symlinks
                out.append(Path(entry.path))
        except OSError:
            continue
    return out


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
