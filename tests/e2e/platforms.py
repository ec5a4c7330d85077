"""Helpers for end-to-end tests of the Slack and Discord connectors inside `agentbox gateway run`.

`PlatformGateway` is `GatewayProcess` watching a named connector's state; `SlackEvents` posts
correctly signed Events API requests to the gateway's Slack endpoint, as Slack does.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.gatewayproc import GatewayProcess, wait_for
from tests.helpers import cli_env, write_config

GATEWAY_SECTION = (
    "[gateway]\nport = 0\ngrace_period = 5\noutbox_retry_initial = 0.2\n"  # the outbox tests wait out its backoff
)
_CODE = r"agentbox pairing approve {channel} ([A-Z2-9]{{8}})\b"


class PlatformGateway(GatewayProcess):
    """A gateway subprocess whose readiness is the state of `channel`'s connector."""

    def __init__(self, home: Path, env: dict[str, str], channel: str) -> None:
        super().__init__(home, env, channel)


def start_platform_gateway(
    home: Path, fake_aimlapi: Any, channel: str, channel_config: str, **env: str
) -> PlatformGateway:
    """Write a config with `[channels.<channel>]` (+ a free control port) and start the gateway."""
    write_config(home, f"[channels.{channel}]\nenabled = true\n{channel_config}\n{GATEWAY_SECTION}")
    return PlatformGateway(home, cli_env(home, fake_aimlapi, **env), channel)


def pairing_code(text: str, channel: str) -> str | None:
    """The code in a pairing reply, if the reply carries the exact approve command."""
    match = re.search(_CODE.format(channel=channel), text)
    return match.group(1) if match else None


def user_text(body: dict[str, Any]) -> str:
    """The last user message's text of a recorded chat completion request."""
    content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


def asked(fake_aimlapi: Any) -> list[str]:
    """What the model was asked, one entry per chat completion request, in order."""
    return [user_text(body) for body in fake_aimlapi.chat_requests()]


def image_urls(body: dict[str, Any]) -> list[str]:
    """The image parts of the last user message of a recorded chat completion request."""
    content = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    if isinstance(content, str):
        return []
    return [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]


def inbox_settled(gateway: GatewayProcess, done: int) -> dict[str, int]:
    """The gateway's inbox counts once `done` messages are marked answered.

    Messages a connector drops never reach the inbox; anything the gateway itself ignored or
    failed shows up under another status, so tests can compare the whole dict.
    """
    counts: dict[str, int] = wait_for(
        lambda: (c := gateway.status()[1]["inbox"]).get("done", 0) >= done and c, what=f"{done} answered message(s)"
    )
    return counts


def slack_signature(secret: str, body: str, timestamp: int) -> str:
    """Slack's request signature: v0= HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackEvents:
    """Posts Events API callbacks to a running gateway's Slack endpoint, signed like Slack signs them."""

    _event_ids = itertools.count(1)
    _ts = itertools.count(100)

    def __init__(self, gateway: GatewayProcess, fake_slack: Any) -> None:
        self.fake = fake_slack
        self.url = wait_for(lambda: self._endpoint(gateway), what=f"the Slack endpoint in the log:\n{gateway.log}")

    @staticmethod
    def _endpoint(gateway: GatewayProcess) -> str | None:
        # The connector logs where it listens once ready (http_port = 0 lets the OS pick the port).
        match = re.search(r"slack connector ready as \S+ \((http://127\.0\.0\.1:\d+/\S+)\)", gateway.log)
        return match.group(1) if match else None

    @classmethod
    def next_ts(cls) -> str:
        return f"1710000000.{next(cls._ts):06d}"

    def post(self, payload: dict[str, Any], *, secret: str | None = None) -> int:
        body = json.dumps(payload)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": slack_signature(secret or self.fake.signing_secret, body, timestamp),
        }
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.read()
            return exc.code

    def event(self, event: dict[str, Any], *, secret: str | None = None) -> int:
        """Post one `event_callback`; returns the HTTP status (bolt acks only after delivery)."""
        envelope = {
            "token": "legacy-verification-token",
            "team_id": self.fake.team_id,
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": f"Ev{next(self._event_ids):06d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.fake.team_id, "user_id": self.fake.bot_user_id, "is_bot": True}],
            "event": event,
        }
        return self.post(envelope, secret=secret)
