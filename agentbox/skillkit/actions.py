"""What an instructions-only skill needs to do its job: read from the commands its SKILL.md shows.

OpenClaw skills are mostly a page of shell commands for the model to run. agentbox runs no
shell, so each command is sorted by what can carry it out here:

- an HTTP call (`curl`, `wget`, `GET /v1/...`): the `http_request` tool;
- a helper the model does itself (`echo`, `jq`, `export`, `cd`...) or a one-time install step
  for the owner (`pip install`, `brew install`, `git clone`...): nothing needed;
- a script shipped in the skill's own folder (`python3 {baseDir}/scripts/gen.py`,
  `./scripts/run.sh`): the `exec` tool, so the agent needs `allow_exec = true`;
- any other program (`gh`, `docker`, `npx some-cli`, `python3 -c ...`): a general shell, which
  agentbox does not offer, so such a skill is listed as unavailable with the programs named.

Commands are taken from fenced shell blocks (```bash, ```sh, ```console...), from unlabelled
fences and inline `code` only when they start with a program the skill declares in `requires`,
an interpreter, an HTTP client or a path into the skill. This is a reading of prose, so it errs
towards "can act": only a named program marks a skill as needing a shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agentbox.skillkit.model import Skill

SHELL_FENCES = frozenset({"sh", "bash", "shell", "zsh", "console", "terminal", "shellscript", "fish"})
HTTP = frozenset({"curl", "wget", "http", "https", "xh", "GET", "POST", "PUT", "PATCH", "DELETE"})
HELPERS = frozenset(
    "echo printf jq export cd sleep set unset source . date true false test [ [[ read base64 grep sed awk head "
    "tail wc sort uniq tr cut cat ls pwd which command type exit return local declare if then else elif fi for "
    "while until do done case esac function { } time env".split()
)
INTERPRETERS = frozenset({"python", "python3", "node", "bash", "sh", "zsh", "bun", "deno", "ruby", "perl", "tsx"})
RUNNERS = frozenset({"uv", "npx", "pnpm", "yarn", "npm", "bunx"})
SETUP = re.compile(
    r"^(?:sudo\s+)?(?:(?:pip3?|pipx|npm|pnpm|yarn|brew|apt(?:-get)?|go|cargo|gem|uv|bun|clawhub|clawdhub|openclaw)"
    r"\s+(?:install|add|i|tool\s+install|pip\s+install|link)\b|(?:uv\s+)?pip\s+install\b|git\s+clone\b|chmod\b|mkdir\b|"
    r"(?:python3?|uv)\s+-m\s+(?:venv|pip)\b|npx\s+(?:-y\s+)?(?:clawhub|clawdhub|skills)\b)"
)
PROGRAM = re.compile(r"^[A-Za-z][\w.+-]*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)
INLINE = re.compile(r"(?<!`)`([^`\n]{3,300})`(?!`)")
HEREDOC = re.compile(r"(<<-?\s*['\"]?(\w+)['\"]?[^\n]*)\n.*?^\s*\2\s*$", re.M | re.S)
PIPELINE = re.compile(r"\s*(?:&&|\|\||;|\|)\s*")


@dataclass(frozen=True, slots=True)
class Needs:
    """What the commands in a skill's instructions need: HTTP, its own scripts (exec), other programs (a shell)."""

    http_calls: int = 0
    script_calls: int = 0
    program_calls: int = 0
    scripts: tuple[str, ...] = ()  # files in the skill folder the instructions run
    programs: tuple[str, ...] = ()  # other programs, which need a shell agentbox does not have

    @property
    def needs_shell(self) -> bool:
        """Mostly other programs: the odd `open` or `python3 -c` next to many HTTP calls does not count."""
        return self.program_calls > 0 and self.program_calls >= self.http_calls

    @property
    def needs_exec(self) -> bool:
        """Only its own scripts: a skill that also shows the HTTP calls can make them without its scripts."""
        return not self.needs_shell and self.script_calls > 0 and self.http_calls == 0


def analyse(skill: Skill) -> Needs:
    """Sort every command the instructions show; a skill with tools.py acts through its tools instead."""
    if skill.has_tools:
        return Needs()
    declared = set(skill.requires.bins) | set(skill.requires.any_bins)
    kinds: dict[str, dict[str, None]] = {"http": {}, "script": {}, "program": {}}
    calls = {"http": 0, "script": 0, "program": 0}
    for command in commands(skill.body, declared, skill.path):
        for part in PIPELINE.split(command):
            kind, name = classify(part.strip(), skill.path)
            if kind in calls:
                calls[kind] += 1
                kinds[kind][name] = None
                break  # one program per command line: `curl ... | jq` is an HTTP call
    return Needs(calls["http"], calls["script"], calls["program"], tuple(kinds["script"]), tuple(kinds["program"]))


def commands(body: str, declared: set[str], folder: Path) -> list[str]:
    """Command lines shown in the instructions (continuation lines and quoted newlines joined)."""
    found: list[str] = []
    for language, code in FENCE.findall(body):
        labelled = language.lower() in SHELL_FENCES
        if language and not labelled:
            continue
        for command in split_commands(code):
            if labelled or _starts_like_command(command, declared, folder):
                found.append(command)
    prose = FENCE.sub("", body)
    found += [code.strip() for code in INLINE.findall(prose) if _starts_like_command(code, declared, folder)]
    return found


def split_commands(code: str) -> list[str]:
    """Shell text split into commands: newlines end one unless quoted or after a backslash; here-documents
    are data, not commands."""
    code = HEREDOC.sub(r"\1", code)
    out: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for char in code:
        if escaped:
            escaped = False
            current.append(" " if char == "\n" else char)
            continue
        if char == "\\" and quote != "'":
            escaped = True
            continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (not current or current[-1] in " \t"):
            quote = "\n"  # a comment runs to the end of the line
            continue
        if char == "\n" and not quote:
            out.append("".join(current).strip())
            current = []
            continue
        if quote != "\n":
            current.append(char)
    out.append("".join(current).strip())
    return [command.removeprefix("$ ").strip() for command in out if command.strip()]


def first_word(command: str) -> str:
    """The program a command runs: after `$`, `sudo`, `time` and VAR=value prefixes (`X=$(curl ...)` is curl)."""
    for word in command.split():
        if ASSIGNMENT.match(word):
            inner = word.split("=", 1)[1]
            if inner.startswith("$(") and inner[2:]:
                return inner[2:]
            continue
        if word in ("$", "sudo", "time", "env", "exec", "!"):
            continue
        return word.removeprefix("$(")
    return ""


def _starts_like_command(command: str, declared: set[str], folder: Path) -> bool:
    word = first_word(command)
    if " " not in command.strip() and "/" not in word:
        return False
    return (
        word in declared
        or word in HTTP - {"http", "https"}
        or word in INTERPRETERS
        or word in RUNNERS
        or _in_folder(word, folder)
    )


def _in_folder(word: str, folder: Path) -> bool:
    text = word.strip("\"'")
    return str(folder.resolve()) in text or text.startswith(("./scripts/", "scripts/", "{baseDir}"))


def classify(command: str, folder: Path) -> tuple[str, str]:
    """(kind, name): kind is http, helper, setup, script or program."""
    word = first_word(command)
    if not word or word in HELPERS or (not PROGRAM.match(word.lstrip("./")) and not _in_folder(word, folder)):
        return "helper", word
    if SETUP.match(command.removeprefix("sudo ").strip()):
        return "setup", word
    if word in HTTP:
        return "http", word
    if _in_folder(word, folder):
        return "script", Path(word.strip("\"'")).name
    if word in INTERPRETERS or word in RUNNERS:
        target = next(
            (arg for arg in command.split()[1:] if not arg.startswith("-") and arg not in ("run", "exec")), ""
        )
        if _in_folder(target, folder) or _ships(target, folder):
            return "script", Path(target.strip("\"'")).name
    return "program", word


def _ships(target: str, folder: Path) -> bool:
    """The path names a file the skill ships, even written from its author's machine (/Users/x/skills/s/run.py)."""
    parts = Path(target.strip("\"'")).parts
    return any((folder / Path(*parts[index:])).is_file() for index in range(len(parts)) if parts[index] != "/")
