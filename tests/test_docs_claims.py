"""What the docs claim is true: every `agentbox ...` command they show exists, every TOML snippet loads.

Commands are taken from inline code spans and fenced shell blocks in README.md and docs/*.md; each
is resolved in the real Typer app and run with `--help` in-process. TOML snippets go through the
real config loader, so a documented key the loader would reject fails here, not on a user's machine.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agentbox.cli.main import app
from agentbox.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]+)`")


def _shell_lines(text: str) -> list[str]:
    lines: list[str] = []
    for lang, body in _FENCE.findall(text):
        if lang in ("", "sh", "bash", "shell", "console"):
            lines += [line.strip().removeprefix("$ ") for line in body.splitlines()]
    prose = _FENCE.sub("", text)
    for span in _INLINE.findall(prose):
        lines += _alternatives(span)
    return lines


def _alternatives(span: str) -> list[str]:
    """In Markdown tables `agentbox daemon install\\|uninstall` lists alternatives for one word."""
    if "\\|" not in span:
        return [span]
    head, _, choices = span.rpartition(" ")
    return [f"{head} {choice}" for choice in choices.split("\\|")]


def documented_commands() -> list[tuple[str, tuple[str, ...]]]:
    """(doc name, command path) for every `agentbox <words>` the docs show, deduplicated."""
    seen: dict[tuple[str, ...], str] = {}
    for doc in DOCS:
        for line in _shell_lines(doc.read_text(encoding="utf-8")):
            for segment in re.split(r"&&|\|\||;|\|", line):
                try:
                    words = shlex.split(segment, comments=True)
                except ValueError:
                    words = segment.split()
                while words and ("=" in words[0] or words[0] == "sudo"):
                    words = words[1:]  # env assignments such as AIMLAPI_API_KEY=... before the command
                if words and words[0].split("/")[-1] == "agentbox":
                    seen.setdefault(tuple(words[1:]), doc.name)
    return sorted(((doc, words) for words, doc in seen.items()), key=lambda item: item[1])


def _is_group(command: Any) -> bool:
    # Typer bundles its own click; a group is whatever has subcommands.
    return isinstance(getattr(command, "commands", None), dict)


def _command_path(words: tuple[str, ...]) -> list[str]:
    """The longest prefix of `words` that names a command or group in the app."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    for word in words:
        if not _is_group(command) or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    return path


@pytest.mark.parametrize(
    ("doc", "words"), documented_commands(), ids=lambda value: " ".join(value) if isinstance(value, tuple) else value
)
def test_documented_command_exists(doc: str, words: tuple[str, ...]) -> None:
    path = _command_path(words)
    group = typer.main.get_command(app)
    first = words[0] if words else ""
    if not words or first.startswith("-"):
        return  # `agentbox --help`, `agentbox --version`: the root command
    assert path, f"{doc} shows `agentbox {' '.join(words)}`, but there is no command {first!r}"
    target: Any = group
    for word in path:
        target = target.commands[word]
    rest = words[len(path) :]
    if _is_group(target):
        assert not rest or rest[0].startswith("-"), f"{doc}: `agentbox {' '.join(words)}`: no subcommand {rest[0]!r}"
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    options = {
        opt for param in target.params for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])
    }
    for word in rest:
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            assert name in options, (
                f"{doc} shows `agentbox {' '.join(words)}`, but {' '.join(path)} has no option {name}"
            )


def documented_toml() -> list[tuple[str, int, str]]:
    snippets = []
    for doc in DOCS:
        for index, (lang, body) in enumerate(_FENCE.findall(doc.read_text(encoding="utf-8"))):
            if lang == "toml":
                snippets.append((doc.name, index, body))
    return snippets


@pytest.mark.parametrize(("doc", "index", "body"), documented_toml(), ids=lambda value: str(value)[:20])
def test_documented_toml_snippet_is_accepted(doc: str, index: int, body: str, tmp_path: Path) -> None:
    parse_config(body, source=tmp_path / f"{doc}-snippet-{index}.toml")


_ROW = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def markdown_tables(text: str) -> tuple[list[list[str]], list[str]]:
    """The tables (their body rows) in `text`, and every row that belongs to no table (no header above it)."""
    lines = _FENCE.sub("\n", text).splitlines()
    tables: list[list[str]] = []
    orphans: list[str] = []
    in_table = False
    for index, line in enumerate(lines):
        if not _ROW.match(line) or _SEPARATOR.match(line):
            in_table = in_table and bool(_SEPARATOR.match(line))
            continue
        if in_table:
            tables[-1].append(line)
        elif index + 1 < len(lines) and _SEPARATOR.match(lines[index + 1]):
            tables.append([])
            in_table = True
        else:
            orphans.append(line)  # GitHub renders it as text: a blank line split its table
    return tables, orphans


def _row_command(row: str) -> tuple[str, ...] | None:
    """The command a table row documents: the command path of its first cell's `agentbox ...` span."""
    span = _INLINE.search(row.strip().strip("|").split(" | ")[0])
    words = span.group(1).replace("\\|", " ").split() if span else []
    if not words or words[0] != "agentbox":
        return None
    return tuple(_command_path(tuple(words[1:]))) or tuple(words[1:2])


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_tables_are_whole_and_list_each_command_once(doc: Path) -> None:
    tables, orphans = markdown_tables(doc.read_text(encoding="utf-8"))
    assert not orphans, f"{doc.name}: table rows outside any table (a blank line inside a table?): {orphans}"
    for rows in tables:
        commands = [command for command in map(_row_command, rows) if command]
        repeated = sorted({" ".join(c) for c in commands if commands.count(c) > 1})
        assert not repeated, f"{doc.name}: one table lists `agentbox {repeated[0]}` twice"


def test_the_table_checks_see_a_split_and_a_repeat() -> None:
    tables, orphans = markdown_tables(
        "| A | B |\n|---|---|\n| `agentbox chat` | x |\n\n| `agentbox chat [--x]` | y |\n"
    )
    assert orphans == ["| `agentbox chat [--x]` | y |"] and tables == [["| `agentbox chat` | x |"]]
    assert _row_command("| `agentbox sessions list [--json]` / `show KEY` | x |") == ("sessions", "list")
    assert _row_command("| `agentbox daemon install\\|uninstall` | x |") == ("daemon", "install")


def test_the_docs_show_commands_and_snippets() -> None:
    # Guards the extractors: if they found nothing, the tests above would pass vacuously.
    assert len(documented_commands()) > 20
    assert len(documented_toml()) >= 5


# `agentbox` on PyPI is another project: an install command naming it would replace this one.
PYPI_AGENTBOX = re.compile(r"pip install\s+(?:-\S+\s+)*['\"]?agentbox(?![\w-])")


@pytest.mark.parametrize(
    "doc", [*DOCS, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "skills").glob("*/SKILL.md"))], ids=lambda doc: doc.name
)
def test_no_doc_installs_agentbox_from_the_package_index(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert [
        m.group(0) for m in PYPI_AGENTBOX.finditer(text) if "Never" not in text[max(0, m.start() - 8) : m.start()]
    ] == []


def test_the_pypi_check_sees_the_forms_people_write() -> None:
    for line in ("pip install 'agentbox[test]'", 'pip install -U "agentbox[browser]"', "pip install agentbox"):
        assert PYPI_AGENTBOX.search(line), line
    assert not PYPI_AGENTBOX.search("pip install '.[browser]'") and not PYPI_AGENTBOX.search("pip install agentbox-x")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    setup = [block for block in blocks if block.startswith("python3 -m venv")]
    assert len(setup) == 2, "the README holds exactly two set-up commands: run, and test"
    [test_command] = [block for block in setup if "pytest" in block]
    ci = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert ci[-1] == test_command
