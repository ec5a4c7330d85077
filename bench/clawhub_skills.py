"""How many public OpenClaw / ClawHub skills load, are ready, and can do their job in agentbox?

    python bench/clawhub_skills.py ARCHIVE [--sample 40] [--seed 15] [--json] [--show]

ARCHIVE is a copy of the public `openclaw/skills` repository: a checked-out folder, or a git
directory without a work tree (its HEAD is unpacked to a temporary folder first). Nothing is
downloaded; nothing from the archive is run. Figures, over every SKILL.md and over a random
sample of skill folders (`--seed` makes it repeatable):

- openclaw reads: OpenClaw's own reading (src/markdown/frontmatter.ts: YAML, else key: value
  lines; name falls back to the folder; a description is required) finds a skill in the file;
- loads: agentbox's loader reads it without error; "openclaw reads but agentbox fails" must be 0;
- ready by requirements: loads, and its declared requirements hold on this machine, each env var
  it declares counted as set (the owner supplies their own keys) while programs and the OS are
  checked for real (agentbox's label before issue 15);
- can act (of those): agentbox can carry out every command its instructions show without `exec`:
  HTTP calls (`curl`/`wget` -> `http_request`), helpers the model does itself (`echo`, `jq`...),
  files in its folder (`read_skill`), one-time install steps for the owner
  (`agentbox.skillkit.actions`); "needs exec" ones only run scripts of their own folder; the rest
  run other programs, which need a shell;
- ready: agentbox's label now, for an agent without `allow_exec` (requirements, plus what the
  instructions need); ready with exec: the same for an agent with it.

The reading of commands is a heuristic; --show prints each sampled skill's verdict to check by eye.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentbox.config import AgentConfig, Config
from agentbox.skillkit.actions import Needs, analyse
from agentbox.skillkit.gating import apply_gating, unmet_requirements
from agentbox.skillkit.loader import load_skill
from agentbox.skillkit.registry import SkillRegistry

MANIFESTS = ("SKILL.md", "skill.md", "Skill.md")
SHELL_FENCES = {"", "sh", "bash", "shell", "zsh", "console", "terminal", "shellscript", "fish"}
HTTP = {"curl", "wget", "http", "https", "xh"}
HELPERS = {
    "echo", "printf", "jq", "export", "cd", "sleep", "set", "unset", "source", ".", "date", "true",
    "test", "[", "read", "base64", "grep", "sed", "awk", "head", "tail", "wc", "sort", "tr", "cut", "#",
}  # fmt: skip
INTERPRETERS = {"python", "python3", "node", "bash", "sh", "zsh", "bun", "deno", "ruby", "perl", "tsx", "ts-node"}
SETUP = re.compile(
    r"^(?:pip3?|pipx|npm|pnpm|yarn|brew|apt(?:-get)?|go|cargo|gem|uv|clawhub|clawdhub|openclaw|npx\s+clawhub)\s+"
    r"(?:install|add|i|tool\s+install|pip\s+install)\b|^(?:uv\s+)?pip\s+install\b|^git\s+clone\b|^chmod\b|^mkdir\b"
)
AGENT_TOOLS = re.compile(
    r"\b(?:use|call|invoke|with)\s+(?:the\s+)?`?(browser|message|cron|nodes|canvas|gateway|sessions_\w+|"
    r"memory_\w+|apply_patch|process|image_generate)`?\s+tool\b",
    re.I,
)
FENCE = re.compile(r"^```\s*([\w+-]*)[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"(?<!`)`([^`\n]{3,200})`(?!`)")
LOCAL_PATH = re.compile(r"(?:^|\s|>|=)(~/|\$HOME|/Users/|/home/|/tmp/|/etc/)")


# -- what OpenClaw reads (src/markdown/frontmatter.ts + local-loader.ts) -------------------------


def openclaw_reads(text: str, folder: Path) -> bool:
    """True when OpenClaw would load a skill from this SKILL.md text (name may fall back to the folder)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.startswith("---"):
        return False
    end = text.find("\n---", 3)
    if end == -1:
        return False
    block = text[4:end]
    lines = _line_fields(block)
    try:
        parsed = yaml.safe_load(block)
    except yaml.YAMLError:
        parsed = None
    if not isinstance(parsed, dict):
        fields = lines
    else:
        fields = {str(k).strip(): c for k, v in parsed.items() if (c := _coerce(v)) is not None}
        for key, value in lines.items():  # OpenClaw's fix-up: a line read as a nested mapping stays text
            nested = fields.get(key, "").startswith("{") and "\n" not in value and value not in ("|", ">")
            if value.startswith(("{", "[")) or nested:
                fields[key] = value
    description = (fields.get("description") or "").strip()
    name = (fields.get("name") or "").strip() or folder.name.strip()
    return bool(name and description)


def _coerce(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return json.dumps(value, default=str)


def _line_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    lines = block.split("\n")
    index = 0
    while index < len(lines):
        match = re.match(r"^([\w-]+):\s*(.*)$", lines[index])
        index += 1
        if not match:
            continue
        value = match.group(2).strip()
        if not value:
            block_lines = []
            while index < len(lines) and (not lines[index] or lines[index][0] in " \t"):
                block_lines.append(lines[index])
                index += 1
            value = "\n".join(block_lines).strip()
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if value:
            fields[match.group(1)] = value
    return fields


# -- the measurement --------------------------------------------------------------------------


def skill_files(archive: Path) -> list[Path]:
    """Every SKILL.md (any case ClawHub accepts) in the archive, sorted."""
    found = []
    for folder, dirs, files in os.walk(archive):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder) / name for name in files if name in MANIFESTS]
    return sorted(found)


def verdict(needs: Needs) -> str:
    return "needs a shell" if needs.needs_shell else "needs exec" if needs.needs_exec else "acts"


def measure(paths: list[Path], registries: dict[bool, SkillRegistry], show: bool) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    programs: Counter[str] = Counter()
    failures: list[str] = []
    config = registries[False].config
    for path in paths:
        counts["files"] += 1
        text = path.read_bytes().decode("utf-8", errors="replace")
        reads = path.name == "SKILL.md" and openclaw_reads(text, path.parent)
        counts["openclaw reads"] += reads
        skill = load_skill(path.parent, "path")
        if skill.error:
            if reads:
                failures.append(f"{path}: {skill.error}")
            continue
        counts["loads"] += 1
        env = {var: "set-by-owner" for var in skill.declared_env}
        if not unmet_requirements(skill, config, env) or skill.always:
            counts["ready by requirements"] += 1
            needs = analyse(skill)
            found = verdict(needs)
            counts[f"requirements-ready, {found}"] += 1
            programs.update(needs.programs if found == "needs a shell" else ())
        apply_gating(skill, config, env)
        for allow_exec, registry in registries.items():
            if registry.as_seen_by(skill, "main").status == "ready":
                counts["ready with exec" if allow_exec else "ready"] += 1
        _show(show, path, registries[False].as_seen_by(skill, "main").status_text(), [])
    by_requirements = counts["ready by requirements"] or 1
    return {
        "files": counts["files"],
        "openclaw_reads": counts["openclaw reads"],
        "loads": counts["loads"],
        "openclaw_reads_but_agentbox_fails": failures,
        "ready_by_requirements": counts["ready by requirements"],
        "of_those_act_without_exec": counts["requirements-ready, acts"],
        "of_those_need_exec": counts["requirements-ready, needs exec"],
        "of_those_need_a_shell": counts["requirements-ready, needs a shell"],
        "act_share_of_ready_by_requirements": round(counts["requirements-ready, acts"] / by_requirements, 3),
        "ready": counts["ready"],
        "ready_with_exec": counts["ready with exec"],
        "programs_that_need_a_shell": programs.most_common(12),
    }


def _show(show: bool, path: Path, status: str, why: list[str]) -> None:
    if show:
        print(f"{path.parent}: {status[:160]}", file=sys.stderr)


def unpack_git(git_dir: Path, into: Path) -> None:
    """HEAD's files of a git directory without a work tree (blobs the copy lacks are skipped)."""
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "HEAD"], capture_output=True, check=True
    ).stdout
    entries = [entry.split(b"\t", 1) for entry in listing.split(b"\0") if entry]
    blobs = [(meta.split()[2], path.decode()) for meta, path in entries if meta.split()[1] == b"blob"]
    process = subprocess.Popen(["git", f"--git-dir={git_dir}", "cat-file", "--batch"], stdin=-1, stdout=-1)
    assert process.stdin is not None and process.stdout is not None
    for sha, relative in blobs:
        process.stdin.write(sha + b"\n")
        process.stdin.flush()
        header = process.stdout.readline()
        if header.endswith(b"missing\n"):
            continue
        data = process.stdout.read(int(header.split()[2]))
        process.stdout.read(1)
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    process.stdin.close()
    process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", action="store_true", help="print each sampled skill's verdict on stderr")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        archive = args.archive
        if (archive / "HEAD").is_file() and (archive / "objects").is_dir():
            unpack_git(archive, Path(scratch))
            archive = Path(scratch)
        paths = skill_files(archive)
        registries = {
            allow: SkillRegistry(Config(agents={"main": AgentConfig(allow_exec=allow)}), include_bundled=False)
            for allow in (False, True)
        }
        everything = measure(paths, registries, show=False)
        folders = sorted({path.parent for path in paths})
        sampled = random.Random(args.seed).sample(folders, min(args.sample, len(folders)))
        sample_paths = [next(p for p in paths if p.parent == folder) for folder in sorted(sampled)]
        sample = measure(sample_paths, registries, show=args.show)
    result = {"archive": str(args.archive), "seed": args.seed, "all": everything, "sample": sample}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for label, figures in (("every SKILL.md", everything), (f"random sample of {len(sample_paths)}", sample)):
        print(f"\n{label}:")
        for key, value in figures.items():
            shown = len(value) if key == "openclaw_reads_but_agentbox_fails" else value
            print(f"  {key:36} {shown}")


if __name__ == "__main__":
    main()
