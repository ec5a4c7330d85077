"""Connector tokens: which env vars hold them, what a well-formed one looks like, how to show one.

Each channel's settings model lists its own (`ChannelConfig.token_specs()`, in connectors/<name>/settings.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """One secret a channel needs: the env var holding it, its expected shape and where to get it."""

    channel: str
    label: str  # what the platform calls it
    env_name: str  # the variable the config says holds it
    shape: re.Pattern[str]
    shape_hint: str
    required: bool = True
    source: str = ""  # where the owner gets (or gets again) this token

    def problem(self, value: str) -> str | None:
        """Why `value` cannot be this token (phrased for the user, never quoting it), or None."""
        if not value.strip():
            return f"the {self.channel} {self.label} is empty"
        if any(ch.isspace() for ch in value.strip()):
            return f"the {self.channel} {self.label} contains spaces (copy it again, without the label around it)"
        if not self.shape.match(value.strip()):
            return (
                f"that does not look like a {self.channel} {self.label} ({self.shape_hint}; {len(value)} chars given)"
            )
        return None


def mask(secret: str | None) -> str:
    """How a secret is shown anywhere: whether it is set and its length, never a character of it."""
    return f"set ({len(secret)} chars)" if secret else "(not set)"
