"""The CLI's side of the gateway's control endpoint: find the running gateway, call it with its token
(status, pairing notices, schedules changed or run now).

Standard library only (urllib), so `agentbox status` and `agentbox pairing approve` stay instant.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from agentbox.errors import AgentboxError

if TYPE_CHECKING:
    from agentbox.config import Config


class GatewaySchedules:
    """The running gateway's scheduler seen from a CLI process (`agentbox chat`, `agentbox agent`):
    the schedule tools there write SQLite, then tell the gateway with `POST /schedules/wake`."""

    def __init__(self, config: Config) -> None:
        self._config = config

    async def changed(self) -> bool:
        """Tell the gateway; False when none runs (the schedule fires once one starts)."""
        import asyncio

        return await asyncio.to_thread(wake_schedules, self._config)


def wake_schedules(config: Config) -> bool:
    """Ask the running gateway to re-read its schedules now; False when no gateway is running."""
    try:
        call_gateway(config, "/schedules/wake", post=True)
    except NoGateway:
        return False
    return True


class NoGateway(AgentboxError):
    """No gateway answers for this AGENTBOX_HOME; the message says why, for the user."""

    status: int | None = None  # the HTTP status when a gateway answered with an error


def gateway_address(config: Config) -> tuple[str, int]:
    """Where the running gateway listens: the address it bound (port 0 picks a free one), else the config's."""
    from agentbox.gateway.control import ADDRESS_FILE

    host, port = config.gateway.host, config.gateway.port
    try:
        bound = json.loads((config.home / ADDRESS_FILE).read_text(encoding="utf-8"))
        host, port = bound["host"], int(bound["port"])
    except (OSError, ValueError, KeyError):
        pass
    return ("127.0.0.1" if host in ("0.0.0.0", "::", "") else host), port


def gateway_url(config: Config) -> str:
    host, port = gateway_address(config)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def call_gateway(config: Config, path: str, *, post: bool = False, timeout: float = 5.0) -> dict[str, Any]:
    """GET (or POST) `path` on the running gateway; raises NoGateway with a user-facing reason."""
    from agentbox.gateway.control import read_token

    host, port = gateway_address(config)
    token = read_token(config.home)
    if token is None:
        raise NoGateway(
            f"no gateway running (no token at {config.home / 'gateway.token'}; start one with `agentbox gateway run`)"
        )
    request = urllib.request.Request(
        gateway_url(config) + path,
        headers={"Authorization": f"Bearer {token}"},
        method="POST" if post else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        error = NoGateway(f"the gateway on {host}:{port} answered {exc.code}: {exc.reason}")
        error.status = exc.code
        raise error from None
    except (OSError, ValueError):
        raise NoGateway(
            f"no gateway running (nothing answers on {host}:{port}); start one with `agentbox gateway run`"
        ) from None
