"""API keys: `abx-` and 43 random URL-safe characters, shown once; the store keeps their SHA-256.

`ApiKeyAuthenticator` is what the gateway's server asks on every `token` route: it answers only
on `/v1/` paths, so a key opens the API and nothing else (not `/status`, not the web panel).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from agentbox.gateway.control import Principal
from agentbox.store.api_keys import ApiKeyRepo

PREFIX = "abx-"
API_PATHS = "/v1/"
KIND = "api_key"


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_hint(key: str) -> str:
    """What `agentbox tokens list` shows of a key: enough to tell keys apart, nothing to use."""
    return key[: len(PREFIX) + 6] + "…"


class ApiKeyAuthenticator:
    """Accepts `Authorization: Bearer abx-…` on the API's paths: the key's name and agent as the principal."""

    def __init__(self, keys: ApiKeyRepo) -> None:
        self._keys = keys

    async def __call__(self, request: Any) -> Principal | None:
        if not request.path.startswith(API_PATHS):
            return None
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key.startswith(PREFIX):
            return None
        found = await self._keys.find(key_hash(key))
        if found is None:
            return None
        await self._keys.touch(found)
        return Principal(KIND, found.name, agent=found.agent)
