"""`agentbox doctor --online`: each enabled chat platform accepts its token, and the gateway port is free.

One cheap authenticated call per platform, against the configured `api_base_url`, made by the
channel's own probe (`connectors/<name>/probe.py`, named in the channel registry): Telegram
`getMe`, Slack `auth.test` (plus the scopes docs/slack-app-manifest.yaml grants, and the
Socket Mode app token), Discord `GET /users/@me`. Tokens never enter a `Check`.
"""

from __future__ import annotations

import errno
import json
import os
import socket

from agentbox.channels import enabled_channels
from agentbox.config import Config
from agentbox.ops.doctor import Check


def check_channels_online(config: Config) -> list[Check]:
    checks = []
    for channel in enabled_channels(config):
        if not os.environ.get(channel.token_specs(config)[0].env_name, "").strip():
            continue  # a missing token is already a failed `tokens` check
        found = channel.check_online(config, os.environ)
        if found is not None:
            checks.append(Check(f"{channel.name} online", "ok" if found.ok else "fail", found.detail, found.fix))
    return checks


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
