"""`agentbox doctor --online`: each enabled chat platform accepts its token, and the gateway port is free.

One cheap authenticated call per platform, against the configured `api_base_url`: Telegram
`getMe`, Slack `auth.test` (plus the scopes docs/slack-app-manifest.yaml grants, and the
Socket Mode app token), Discord `GET /users/@me`. Tokens never enter a `Check`.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentbox.config import Config
from agentbox.ops.doctor import Check
from agentbox.tokens import enabled_channels, token_specs

if TYPE_CHECKING:
    import httpx

TIMEOUT = 10.0


def check_channels_online(config: Config) -> list[Check]:
    probes: dict[str, Callable[[Config, str], Check]] = {
        "telegram": check_telegram,
        "slack": check_slack,
        "discord": check_discord,
    }
    checks = []
    for channel in enabled_channels(config):
        token = os.environ.get(token_specs(config, channel)[0].env_name, "").strip()
        if token:  # a missing token is already a failed `tokens` check
            checks.append(probes[channel](config, token))
    return checks


def _source(config: Config, channel: str) -> str:
    return token_specs(config, channel)[0].source


def check_telegram(config: Config, token: str) -> Check:
    import httpx

    base = config.channels.telegram.api_base_url.rstrip("/")
    env = config.channels.telegram.token_env
    try:
        response = httpx.get(f"{base}/bot{token}/getMe", timeout=TIMEOUT)
    except httpx.HTTPError as exc:  # the message could carry the URL, which carries the token: type only
        return Check("telegram online", "fail", f"cannot reach {base}: {type(exc).__name__}", "check the network")
    if response.status_code in (401, 404):  # Telegram answers 404 for a token that is not even well-formed
        return Check(
            "telegram online",
            "fail",
            f"Telegram rejected the bot token in {env} ({response.status_code})",
            f"copy it again from {_source(config, 'telegram')}",
        )
    username = _json(response).get("result", {}).get("username") if response.status_code == 200 else None
    if not username:
        return Check("telegram online", "fail", f"unexpected answer {response.status_code} from {base}", "retry later")
    return Check("telegram online", "ok", f"the token in {env} belongs to @{username}")


def check_slack(config: Config, token: str) -> Check:
    import asyncio

    from agentbox.connectors.slack.connector import check_auth

    problems = asyncio.run(check_auth(config.channels.slack, os.environ))
    if problems:
        return Check(
            "slack online", "fail", "; ".join(problems), f"see docs/slack.md; tokens: {_source(config, 'slack')}"
        )
    return Check("slack online", "ok", "auth.test accepted the bot token; it has every scope docs/slack.md lists")


def check_discord(config: Config, token: str) -> Check:
    import httpx

    base = config.channels.discord.api_base_url.rstrip("/")
    env = config.channels.discord.token_env
    try:
        response = httpx.get(f"{base}/users/@me", headers={"Authorization": f"Bot {token}"}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return Check("discord online", "fail", f"cannot reach {base}: {type(exc).__name__}", "check the network")
    if response.status_code == 401:
        return Check(
            "discord online",
            "fail",
            f"Discord rejected the bot token in {env} (401)",
            f"copy it again from {_source(config, 'discord')}",
        )
    username = _json(response).get("username") if response.status_code == 200 else None
    if not username:
        return Check("discord online", "fail", f"unexpected answer {response.status_code} from {base}", "retry later")
    return Check("discord online", "ok", f"the token in {env} belongs to {username}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def check_gateway_port(config: Config) -> Check:
    """Can the gateway bind `[gateway] host:port`? (The running gateway itself holding it is fine.)"""
    from agentbox.gateway.control import ADDRESS_FILE, port_in_use

    host, port = config.gateway.host, config.gateway.port
    if port == 0:
        return Check("gateway port", "ok", "port 0: the gateway picks a free port")
    if (pid := _running_gateway_pid(config, ADDRESS_FILE)) is not None:
        return Check("gateway port", "ok", f"{host}:{port} is held by the running gateway (pid {pid})")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the gateway's server does
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return Check("gateway port", "fail", f"{host}:{port} ([gateway] port) is in use", port_in_use(host, port))
        return Check(
            "gateway port", "fail", f"cannot bind {host}:{port}: {exc.strerror or exc}", "check [gateway] host"
        )
    return Check("gateway port", "ok", f"{host}:{port} is free")


def _running_gateway_pid(config: Config, address_file: str) -> int | None:
    try:
        bound = json.loads((config.home / address_file).read_text(encoding="utf-8"))
        pid, bound_port = int(bound["pid"]), int(bound["port"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if bound_port == config.gateway.port else None
