"""`agentbox gateway run` (the daemon, foreground) and `agentbox status` (asks a running gateway).

`status` stays import-light: urllib against the local endpoint, no pydantic-ai, no SDKs.

Exit codes of `gateway run`: 0 clean stop, 1 another gateway runs or the endpoint cannot bind,
2 config error, 3 no enabled connector can work (each failed for good), 130/143 second signal.
Exit codes of `status`: 0 running and no connector failed, 1 no gateway running,
2 config error, 3 running but a connector has failed.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated, Any

import typer

from agentbox.cli.common import ago, config_or_exit, database_errors, print_json
from agentbox.humanize import local_time, money
from agentbox.plural import plural

app = typer.Typer(help="Run the gateway daemon.", no_args_is_help=True)

EXIT_NO_CONNECTOR = 3  # `gateway run`: no enabled connector can work
EXIT_CONNECTOR_FAILED = 3  # `status`: the gateway runs, but a connector has failed


@app.command("run")
def run(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run the gateway in the foreground: connectors, pairing, sessions, the local status endpoint.

    Ctrl-C (or SIGTERM) lets running turns finish within [gateway] grace_period; a second one exits at once.
    Exits 3 when no enabled connector can work (a missing or rejected token, an unsupported mode).
    """
    import asyncio
    import logging

    from agentbox.gateway.homelock import acquire_home_lock
    from agentbox.logs import setup_logging

    config = config_or_exit()
    setup_logging(config, verbose, stderr_level=logging.INFO)  # the journal should show gateway events
    lock = acquire_home_lock(config.home)  # AlreadyRunning: exit 1
    try:
        with database_errors():
            code = asyncio.run(_serve(config))
    finally:
        lock.close()
    raise typer.Exit(code)


async def _serve(config: Any) -> int:
    import asyncio
    import logging

    from agentbox.gateway.control import ControlError, read_token
    from agentbox.gateway.lifecycle import Gateway, NoConnectorCanWork, load_services
    from agentbox.logs import redacting_filter
    from agentbox.runtime import GATEWAY_SERVICES, open_runtime

    log = logging.getLogger(__name__)
    stop = asyncio.Event()
    signals = {"count": 0}

    def on_signal(signum: int) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            log.info("%s received: finishing running turns (send it again to exit now)", signal.Signals(signum).name)
            stop.set()
        else:
            log.warning("second signal: exiting now; unfinished messages are resumed on the next start")
            os._exit(130 if signum == signal.SIGINT else 143)

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    async with open_runtime(config) as runtime:  # a ConfigError here exits 2
        gateway = Gateway(config, runtime.store, runtime.runner)
        load_services(gateway, GATEWAY_SERVICES)
        try:
            await gateway.run(stop)
        except ControlError as exc:
            log.error("%s", exc)
            await gateway.shutdown()
            return 1
        except NoConnectorCanWork as exc:
            log.error("%s", exc)  # the last line the owner sees: why the gateway gave up
            return EXIT_NO_CONNECTOR
        finally:
            if (token := read_token(config.home)) and (flt := redacting_filter()) is not None:
                flt.add_secret(token)
    return 0


def status(as_json: Annotated[bool, typer.Option("--json", help="Print the raw status JSON.")] = False) -> None:
    """Is a gateway running on this AGENTBOX_HOME, and what does it see?

    Exits 0 when it runs and no connector has failed, 1 when no gateway runs, 3 when a connector has failed.
    """
    from agentbox.cli.gateway_client import call_gateway

    data = call_gateway(config_or_exit(), "/status")  # NoGateway: exit 1
    if as_json:
        print_json(data)
    else:
        _print_status(data)
    connectors = data.get("connectors") or {}
    if any(str(info.get("state", "")).startswith("failed") for info in connectors.values()):
        raise typer.Exit(EXIT_CONNECTOR_FAILED)


def _print_status(data: dict[str, Any]) -> None:
    echo = typer.echo
    echo(
        f"Gateway running · pid {data.get('pid')} · up {ago(data.get('uptime_s', 0))} · agentbox {data.get('version')}"
    )
    connectors = data.get("connectors") or {}
    if not connectors:
        echo("Connectors: none enabled")
    for name, info in connectors.items():
        restarts = f" ({plural(info['restarts'], 'restart')})" if info.get("restarts") else ""
        echo(f"  {name}: {info.get('state')}{restarts}")
    lanes = data.get("lanes", {})
    echo(
        f"Turns running: {lanes.get('busy', 0)} · sessions active: {lanes.get('sessions_active', 0)}"
        f" · queued: {lanes.get('queued', 0)}"
    )
    outbox = data.get("outbox") or {}
    if outbox.get("waiting"):
        channels = ", ".join(f"{name} {count}" for name, count in sorted((outbox.get("by_channel") or {}).items()))
        echo(
            f"Replies waiting for delivery: {outbox['waiting']} ({channels}), "
            f"oldest {ago(outbox.get('oldest_age_s') or 0)} old"
        )
    pairing = data.get("pairing", {})
    echo(
        f"Pending pairing requests: {pairing.get('pending', 0)}"
        + (" (see `agentbox pairing list`)" if pairing.get("pending") else "")
    )
    spend = data.get("spend") or {}
    if spend:
        cap = spend.get("usd_per_day")
        line = f"Spend today (UTC): {money(spend.get('spent_usd', 0))}" + (f" of {money(cap)}" if cap else "")
        if spend.get("total_reached"):
            line += f" · CAP REACHED: no model calls until {local_time(spend['resets_at'])}"
        capped = [s for s in spend.get("senders", []) if s.get("capped")]
        if capped:
            line += f" · {plural(len(capped), 'sender')} at their daily cap"
        echo(line)
    sys.stdout.flush()
