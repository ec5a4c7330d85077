"""Helpers for skill tests: write skill folders, read what the fake AI/ML API was sent."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import yaml


def write_skill(
    root: Path,
    name: str,
    *,
    description: str = "A test skill.",
    body: str = "Instructions for the test skill.",
    metadata: dict[str, Any] | None = None,
    tools: str | None = None,
    front_matter: str | None = None,
    folder: str | None = None,
) -> Path:
    """Create `<root>/<folder or name>/SKILL.md` (and tools.py when given)."""
    path = root / (folder or name)
    path.mkdir(parents=True, exist_ok=True)
    if front_matter is None:
        data: dict[str, Any] = {"name": name, "description": description}
        if metadata is not None:
            data["metadata"] = metadata
        front_matter = yaml.safe_dump(data, sort_keys=False)
    (path / "SKILL.md").write_text(f"---\n{front_matter}---\n{body}\n", encoding="utf-8")
    if tools is not None:
        (path / "tools.py").write_text(textwrap.dedent(tools), encoding="utf-8")
    return path


def requires(**fields: list[str]) -> dict[str, Any]:
    """`metadata` with `openclaw.requires` set, e.g. requires(env=["X"], bins=["curl"])."""
    return {"openclaw": {"requires": fields}}


def sent_tools(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tools of a chat request body by name: {"name": {"description", "parameters"}}."""
    return {tool["function"]["name"]: tool["function"] for tool in body.get("tools") or []}


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(
        m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
        for m in body["messages"]
        if m["role"] in ("system", "developer")
    )


def tool_outputs(body: dict[str, Any]) -> list[str]:
    """Contents of the `role: tool` messages in a chat request, in order."""
    return [str(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]


def config_text(*sections: str) -> str:
    return "\n".join(textwrap.dedent(section).strip() + "\n" for section in sections)
