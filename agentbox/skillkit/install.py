"""`agentbox skills install PATH`: copy a skill folder (or a .zip of one) into the workspace.

Local only: agentbox never downloads a skill. The source is unpacked into a temporary folder
(zip entries that would land outside it, links, and archives over the size limits are refused),
its SKILL.md is read, its files are scanned (`safety`), and only then, after the owner agreed,
copied to `<workspace>/skills/<name>/`. A copy that fails half way leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentbox.errors import AgentboxError
from agentbox.skillkit.loader import MAX_DEPTH, load_skill, walk_skill_folders
from agentbox.skillkit.model import Skill
from agentbox.skillkit.safety import Finding, scan_folder

MAX_FILES = 5_000
MAX_BYTES = 50_000_000  # unpacked size of one skill
COPY_SKIPPED = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".DS_Store"})


class InstallError(AgentboxError):
    """The skill cannot be installed as given; the message says why. Nothing was installed."""


@dataclass(slots=True)
class Candidate:
    """A skill ready to be copied: where it is now, what it is, and what the scan found."""

    folder: Path
    skill: Skill
    findings: list[Finding] = field(default_factory=list)

    @property
    def dangerous(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == "danger"]


@contextlib.contextmanager
def open_candidate(source: Path) -> Iterator[Candidate]:
    """The skill in a folder or .zip, loaded and scanned; temporary files go when the block ends."""
    source = source.expanduser()
    if source.is_dir():
        yield _candidate(source)
    elif source.is_file() and zipfile.is_zipfile(source):
        with tempfile.TemporaryDirectory(prefix="agentbox-skill-") as scratch:
            unpack_zip(source, Path(scratch))
            yield _candidate(Path(scratch))
    elif source.exists():
        raise InstallError(f"{source} is neither a folder nor a .zip archive")
    else:
        raise InstallError(f"{source} does not exist")


def _candidate(root: Path) -> Candidate:
    """The one skill folder in `root` (the root itself, or the single folder holding a SKILL.md)."""
    folders = [folder for folder, _ in walk_skill_folders(root)]
    if (root / "SKILL.md").is_file() or (root / "skill.md").is_file():
        folders = [root]
    if not folders:
        raise InstallError(f"no SKILL.md in {root} (searched {MAX_DEPTH} folders deep)")
    if len(folders) > 1:
        names = ", ".join(str(folder.relative_to(root)) for folder in folders[:5])
        raise InstallError(f"{len(folders)} skills found ({names}...): install one folder at a time")
    folder = folders[0]
    _check_size(folder)
    skill = load_skill(folder, "workspace")
    if skill.error:
        raise InstallError(f"{folder / skill.manifest}: {skill.error}")
    return Candidate(folder, skill, scan_folder(folder))


def _check_size(folder: Path) -> None:
    count = size = 0
    for current, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in COPY_SKIPPED]
        for name in files:
            path = Path(current) / name
            count += 1
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(folder.resolve()):
                    raise InstallError(f"{path.relative_to(folder)} links outside the skill folder (to {target})")
                continue
            size += path.stat().st_size
    if count > MAX_FILES or size > MAX_BYTES:
        raise InstallError(f"the skill has {count} files, {size // 1_000_000} MB: over {MAX_FILES} files or 50 MB")


def unpack_zip(archive: Path, into: Path) -> None:
    """Extract a zip, refusing links, absolute or `..` paths, and archives over the limits."""
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        if len(members) > MAX_FILES or sum(member.file_size for member in members) > MAX_BYTES:
            raise InstallError(f"{archive.name} unpacks to more than {MAX_FILES} files or 50 MB")
        for member in members:
            parts = PurePosixPath(member.filename.replace("\\", "/")).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise InstallError(f"{archive.name}: entry {member.filename!r} would land outside the skill folder")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise InstallError(f"{archive.name}: entry {member.filename!r} is a link; links are not installed")
            target = into.joinpath(*parts) if parts else into
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            if member.external_attr >> 16 & 0o111:
                target.chmod(0o755)


def install(candidate: Candidate, skills_root: Path, *, replace: bool = False) -> Path:
    """Copy the skill to `skills_root/<name>`; InstallError when it exists and `replace` is off."""
    destination = skills_root / candidate.skill.name
    if destination.exists() and not replace:
        raise InstallError(f"{destination} already exists; remove it first, or pass --replace")
    skills_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{candidate.skill.name}-", dir=skills_root))
    try:
        shutil.copytree(
            candidate.folder,
            staging / "skill",
            symlinks=True,  # links were checked to stay inside; copied as links
            ignore=shutil.ignore_patterns(*COPY_SKIPPED),
        )
        if destination.exists():
            shutil.rmtree(destination)
        (staging / "skill").rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination
