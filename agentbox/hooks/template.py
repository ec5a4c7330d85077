"""Hook templates: the message a webhook becomes, built from its JSON payload by placeholders only.

`{{payload.repository.full_name}}` walks the payload (a number walks into a list:
`{{payload.commits.0.message}}`), `{{headers.X-GitHub-Event}}` reads a request header,
`{{hook.name}}` is the hook's name and `{{payload}}` the whole payload as JSON. Nothing is
evaluated: a missing value renders as nothing, an object as JSON, and text coming from the
payload is inserted as it is (a `{{...}}` inside it stays text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_PATH = re.compile(r"^(payload|headers|hook)(\.[^.\s]+)*$")


def check_template(template: str) -> None:
    """Raise ValueError naming the first placeholder that is not payload.…, headers.… or hook.name."""
    for match in PLACEHOLDER.finditer(template):
        path = match.group(1)
        if not _PATH.match(path) or (path.startswith("hook") and path != "hook.name"):
            raise ValueError(
                f"unknown placeholder {match.group(0)!r}: use {{{{payload.a.b}}}}, {{{{headers.Name}}}} or {{{{hook.name}}}}"
            )
        if path.startswith("headers") and path.count(".") != 1:
            raise ValueError(f"{match.group(0)!r}: a header is one name, e.g. {{{{headers.X-GitHub-Event}}}}")


def render(template: str, *, payload: Any, headers: Mapping[str, str], hook: str) -> str:
    """The template with every placeholder replaced by its value from this delivery."""

    def value(match: re.Match[str]) -> str:
        root, *path = match.group(1).split(".")
        if root == "hook":
            return hook
        if root == "headers":
            return headers.get(path[0], "") if path else ""
        return as_text(walk(payload, path))

    return PLACEHOLDER.sub(value, template)


def walk(node: Any, path: list[str]) -> Any:
    for key in path:
        if isinstance(node, Mapping):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, indent=2)
