"""Another process's side: tell the running gateway that schedules changed (`POST /schedules/wake`).

The CLI (`agentbox cron ...`, the tools in `agentbox chat`) writes SQLite directly and then calls this,
like `agentbox pairing approve` calls `/pairing/notify`; the gateway also re-reads everything on start.
Standard library only, so `agentbox cron list` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentbox.config import Config


def wake_gateway(config: Config) -> bool:
    """Ask the gateway to re-read its schedules now; False when no gateway is running."""
    from agentbox.cli.gateway_client import NoGateway, call_gateway

    try:
        call_gateway(config, "/schedules/wake", post=True)
    except NoGateway:
        return False
    return True


def run_on_gateway(config: Config, schedule_id: int) -> dict[str, Any]:
    """Have the running gateway fire schedule `schedule_id` now; NoGateway when none runs."""
    from agentbox.cli.gateway_client import call_gateway

    return call_gateway(config, f"/schedules/{schedule_id}/run", post=True)
