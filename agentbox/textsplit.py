"""Split long replies into chunks under a platform's limit, at the nicest boundary.

Guarantees: no chunk exceeds `limit`; joining the chunks gives back the text, except
that whitespace at a split point may be dropped and, with `code_aware`, a fenced code
block cut in two is closed at the end of one chunk and reopened at the start of the next.
"""

from __future__ import annotations

import re

_BOUNDARIES = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")
_FENCE = re.compile(r"^```([^\n`]*)$", re.MULTILINE)


def _cut_point(text: str, limit: int) -> int:
    """Index to cut at: the last good boundary within `limit`, else a hard cut."""
    window = text[:limit]
    for boundary in _BOUNDARIES:
        index = window.rfind(boundary)
        if index > limit // 3:  # a boundary too early would make a tiny chunk
            return index + len(boundary)
    return limit


def split_text(text: str, limit: int) -> list[str]:
    """Plain split: boundaries preferred, order and every non-space character kept."""
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        head, rest = rest[:cut], rest[cut:]
        if head.strip():
            chunks.append(head.rstrip() if head.strip() else head)
        rest = rest.lstrip("\n") if rest.strip() else rest
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks


def _open_fence(text: str) -> str | None:
    """The info string of a code fence left open at the end of `text`, else None."""
    state: str | None = None
    for match in _FENCE.finditer(text):
        state = match.group(1) if state is None else None
    return state


def split_markdown(text: str, limit: int) -> list[str]:
    """Like `split_text`, but a code block cut in two stays a valid code block in each chunk."""
    reserve = 8  # room for a closing "\n```" and its info string on reopening
    if limit <= reserve * 4:
        return split_text(text, limit)
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        prefix_len = 0
        cut = _cut_point(rest, limit - reserve)
        line_start = rest.rfind("\n", 0, cut) + 1
        if rest.startswith("```", line_start) and "\n" not in rest[line_start:cut] and line_start > 0:
            cut = line_start  # never cut through a fence line: move it whole to the next chunk
        while cut > 1 and rest[cut] == "`" and rest[cut - 1] != "\n":
            cut -= 1  # a chunk must not start with backticks that were mid-line (they would open a block)
        head, tail = rest[:cut], rest[cut:]
        fence = _open_fence(head)
        if fence is not None:
            opener = f"```{fence}\n"
            closing = "\n```"
            if len(head.rstrip("\n")) + len(closing) > limit:
                cut = limit - len(closing)
                head, tail = rest[:cut], rest[cut:]
            head = head.rstrip("\n") + closing
            tail = opener + tail.lstrip("\n")
            prefix_len = len(opener)
            if len(tail) - prefix_len <= 0:
                tail = ""
        if head.strip():
            chunks.append(head.rstrip())
        rest = tail if fence is not None else tail.lstrip("\n")
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks
