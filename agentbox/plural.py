"""Counts in user-facing text: `1 turn`, `2 turns`, `1 problem` (never `1 turns`)."""

from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, pluralized with `-s` or with `many` for irregular nouns; thousands separated."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"
