"""Secret masking in one place: logs, tool results and errors, and stored history all use it.

- `register_secrets(*values)` adds values to the process-wide set: the config's API key and
  connector tokens, the gateway token, `[skills.config.*]` secrets and the env vars skills
  declare (see `logs.collect_secrets` and `SkillRegistry`). One process serves one owner, so
  one set is right, and a secret learnt late (a skill added at run time) is masked everywhere.
- `redact(text)` masks every registered value with `***`.
- `scrub_error(text)` also strips the query string, fragment and `user:password@` from every
  URL: error messages (`raise_for_status()`, connection errors) repeat the URL that failed, and
  APIs put keys there (`?key=...`) that agentbox may never have been told about.
- `redact_tree(value)` masks every string inside JSON-like data (tool results, stored messages).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_SECRET_LEN = 6  # shorter values would mask ordinary words

# scheme://[userinfo@]host/path[?query][#fragment]; the query and fragment run to the next whitespace
# (a quote may legally sit inside a query, so it cannot end one).
_URL = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#\s]*@)?(?P<rest>[^?#\s]*)(?P<tail>[?#]\S*)?"
)


class Redactor:
    """Replaces secret values in text; longest first so a secret containing another is fully masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        new = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN} - self._secrets
        if not new:
            return
        self._secrets |= new
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text


_shared = Redactor()


def shared_redactor() -> Redactor:
    """The process-wide redactor every call below uses."""
    return _shared


def register_secrets(*values: str) -> None:
    """Mask these values from now on, everywhere (values shorter than MIN_SECRET_LEN are ignored)."""
    _shared.add(*values)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    return _shared(text)


def strip_url_secrets(text: str) -> str:
    """Every URL in `text` without its userinfo, query string and fragment (`?…` marks a cut query)."""

    def clean(match: re.Match[str]) -> str:
        cut = "?…" if match["tail"] and match["tail"].startswith("?") else ""
        return match["scheme"] + match["rest"] + cut

    return _URL.sub(clean, text)


def scrub_error(text: str) -> str:
    """Error text made safe to show, store and log: URLs stripped, then secrets masked."""
    return redact(strip_url_secrets(text))


def redact_tree(value: Any) -> Any:
    """Masks secrets in every string of str/list/tuple/dict data and in a pydantic-ai `ToolReturn`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_tree(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_tree(item) for item in value)
    if isinstance(value, dict):
        return {key: redact_tree(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        from pydantic_ai.messages import ToolReturn  # only tool results are dataclasses here

        if isinstance(value, ToolReturn):
            return dataclasses.replace(
                value, return_value=redact_tree(value.return_value), content=redact_tree(value.content)
            )
    return value
