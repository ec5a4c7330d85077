"""What a channel's online probe reports to `agentbox doctor --online`, and the GET it usually makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class OnlineCheck:
    """The platform's verdict on a token: `detail` never holds the token; `fix` says what to do when not ok."""

    ok: bool
    detail: str
    fix: str | None = None


def get_json(url: str, *, base: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]] | OnlineCheck:
    """GET `url`: (status, JSON object or {}), or a failed check naming `base` (the URL may hold the token)."""
    import httpx

    try:
        response = httpx.get(url, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:  # the message could carry the URL: the type only
        return OnlineCheck(False, f"cannot reach {base}: {type(exc).__name__}", "check the network")
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}
