"""Webhook signatures: HMAC-SHA256 of the raw request body, hex, as `sha256=<hex>`.

Senders put it in `X-Agentbox-Signature`; GitHub's `X-Hub-Signature-256` (the same scheme) is
accepted too. The check is constant-time and runs before the body is parsed or stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADERS = ("X-Agentbox-Signature", "X-Hub-Signature-256")


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on `body`: `sha256=<hex>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when a signature header carries the HMAC of `body` under `secret` (any bytes just fail)."""
    given = next((headers[name] for name in SIGNATURE_HEADERS if name in headers), "")
    # aiohttp hands over bytes that are not UTF-8 as surrogates; "surrogatepass" encodes any str.
    return hmac.compare_digest(given.strip().lower().encode("utf-8", "surrogatepass"), sign(secret, body).encode())
