"""Files inside a skill's folder, for `read_skill(name, path)` and `exec`: never a step outside it.

A path is resolved (symlinks included) and must stay inside the skill's real folder; `..` is
refused outright. Text files are returned up to a size cap; binary files are named, not shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentbox.errors import AgentboxError

READ_LIMIT = 24_000  # characters of one file handed to the model: under the tool-result cap, with room for the note
LIST_LIMIT = 200  # files named in a folder listing
SKIPPED = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv"})


class OutsideSkill(AgentboxError):
    """The path leaves the skill's folder, or is not there; nothing was read or run."""


def resolve_inside(skill_dir: Path, relative: str) -> Path:
    """The real path of `relative` inside the skill folder (it may not exist); OutsideSkill when it is not inside."""
    root = skill_dir.resolve()
    candidate = Path(relative.strip())
    if candidate.is_absolute():
        # The model often repeats the path the instructions show; accept it only if it is inside.
        target = candidate.resolve()
    else:
        if ".." in candidate.parts:
            raise OutsideSkill(f"{relative!r}: '..' is not allowed; give a path inside the skill folder")
        target = (root / candidate).resolve()
    if not target.is_relative_to(root):
        raise OutsideSkill(f"{relative!r} is outside the skill folder {root}")
    return target


def list_files(
    skill_dir: Path, under: Path | None = None, limit: int = LIST_LIMIT, *, hidden: bool = False
) -> list[str]:
    """Paths of the files in the skill folder (or one of its subfolders), relative to the skill folder.
    Hidden files and dependency folders are left out unless `hidden` (a safety scan wants them all)."""
    root = skill_dir.resolve()
    start = under or root
    found: list[str] = []
    for folder, dirs, files in os.walk(start):
        dirs[:] = sorted(d for d in dirs if hidden or (d not in SKIPPED and not d.startswith(".")))
        for name in sorted(files):
            if name.startswith(".") and not hidden:
                continue
            found.append(str((Path(folder) / name).relative_to(root)))
            if len(found) >= limit:
                return found
    return found


def read_text(path: Path, limit: int = READ_LIMIT) -> str:
    """A text file's content, cut at `limit` characters with a note; a binary file is described instead."""
    with open(path, "rb") as handle:
        head = handle.read(limit * 4 + 1)
    size = path.stat().st_size
    if b"\x00" in head[:8192]:
        return f"({path.name} is a binary file of {size} bytes; it cannot be shown as text)"
    text = head.decode("utf-8", errors="replace")
    if len(text) > limit or size > len(head):
        return text[:limit] + f"\n\n(cut at {limit} characters; the file has {size} bytes)"
    return text
