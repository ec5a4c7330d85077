"""SKILL.md front matter, read as leniently as OpenClaw reads it.

Many published skills have front matter that is not valid YAML: an unquoted `: ` inside a
description, a stray tab, a character YAML refuses. OpenClaw reads those anyway, because it
falls back to reading `key: value` lines one by one when YAML fails; a skill that works there
must load here too. So:

1. the header is parsed as YAML; when that yields a mapping, it is used as is, except that a
   one-line value YAML turned into a mapping (`description: Use when: asked`) is read back as
   the plain text of its line;
2. when YAML fails, every top-level `key: value` line is read on its own: inline `{...}` /
   `[...]` values are parsed as JSON (or YAML flow), indented blocks under a key as YAML, and
   anything else is kept as text. The skill loads, with a warning saying so.

A header that cannot be found at all (no opening or closing `---`) is still an error: OpenClaw
does not load such a file either.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from agentbox.errors import AgentboxError

_KEY_LINE = re.compile(r"^([\w-]+):\s*(.*)$")
_BLOCK_SCALARS = frozenset({"|", ">", "|-", ">-", "|+", ">+"})
# Keys whose value is prose: an indented block under them is text, never a nested mapping.
_TEXT_KEYS = frozenset({"name", "description"})


class SkillFormatError(AgentboxError, ValueError):
    """SKILL.md cannot be understood; the message says what to fix."""


@dataclass(slots=True)
class FrontMatter:
    """The header's fields, and what had to be guessed to read them."""

    data: dict[str, Any]
    body: str
    warnings: list[str] = field(default_factory=list)


def split_front_matter(text: str) -> tuple[str, str]:
    """`(header, body)`; raises SkillFormatError when there is no `---` fenced header."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if not lines[0].startswith("---"):
        raise SkillFormatError("SKILL.md must start with a '---' line opening the YAML front matter")
    for index, line in enumerate(lines[1:], start=1):
        if line.startswith("---"):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]).strip()
    raise SkillFormatError("the YAML front matter is not closed by a '---' line")


def read_front_matter(text: str) -> FrontMatter:
    """Split and parse a SKILL.md: YAML when it is valid, else OpenClaw's line-by-line reading."""
    header, body = split_front_matter(text)
    lines = _line_fields(header)
    try:
        data = yaml.safe_load(header)
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        warning = f"front matter is not valid YAML ({problem[:160]}); read line by line as OpenClaw does"
        return FrontMatter({key: _line_value(key, raw) for key, raw in lines.items()}, body, [warning])
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SkillFormatError("the front matter must be a mapping of fields (name, description, ...)")
    merged = {str(key).strip(): value for key, value in data.items()}
    for key, raw in lines.items():
        if isinstance(merged.get(key), Mapping) and raw.inline and not raw.inline.startswith(("{", "[")):
            # YAML read an unquoted colon as a nested key: the author meant the plain line.
            merged[key] = _unquote(raw.inline)
    return FrontMatter(merged, body)


@dataclass(slots=True)
class _RawField:
    inline: str
    block: list[str]


def _line_fields(header: str) -> dict[str, _RawField]:
    """Top-level `key: value` lines, each with the indented lines that follow it."""
    fields: dict[str, _RawField] = {}
    current: _RawField | None = None
    for line in header.split("\n"):
        match = _KEY_LINE.match(line)
        if match:
            current = fields[match.group(1)] = _RawField((match.group(2) or "").strip(), [])
        elif current is not None and (line[:1] in (" ", "\t") or not line.strip()):
            current.block.append(line)
        else:
            current = None  # a stray line ends the block it would otherwise extend
    return fields


def _line_value(key: str, raw: _RawField) -> Any:
    block = textwrap.dedent("\n".join(raw.block).expandtabs(2)).strip()
    if raw.inline in _BLOCK_SCALARS:
        return block if raw.inline.startswith("|") else " ".join(block.split())
    if raw.inline:
        return parse_structured(raw.inline) if raw.inline.startswith(("{", "[")) else _unquote(raw.inline)
    if not block:
        return None
    if key in _TEXT_KEYS:
        return " ".join(block.split())
    parsed = parse_structured(block)
    return parsed if isinstance(parsed, Mapping | list) else block


def parse_structured(text: str) -> Any:
    """A JSON value, else a YAML one (flow style covers JSON5's unquoted keys and trailing commas);
    the text itself when neither reads it."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
