"""`agentbox tokens create|list|revoke`: API keys for the OpenAI-compatible endpoint (no pydantic-ai import)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentbox.cli.common import ago, config_or_exit, fail, print_json, with_store

if TYPE_CHECKING:
    from agentbox.store import Store

app = typer.Typer(help="API keys for the OpenAI-compatible endpoint (besides the gateway token).", no_args_is_help=True)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. open-webui or ci.")],
    agent: Annotated[str | None, typer.Option("--agent", help="The only agent this key may use.")] = None,
    usd_per_day: Annotated[
        float | None, typer.Option("--usd-per-day", help="This key's spending cap per UTC day, in USD.", min=0.0001)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print it once; only a hash of it is stored."""
    from agentbox.api.keys import key_hash, key_hint, new_key

    config = config_or_exit()
    if not _NAME.match(name):
        fail(f"{name!r}: a key name is 1-64 letters, digits, '.', '-' or '_'", 2)
    if agent is not None and agent not in config.agents:
        fail(f"--agent {agent!r}: no such agent (agents: {', '.join(config.agents)})", 2)
    key = new_key()

    async def add(store: Store) -> bool:
        return await store.api_keys.add(name, key_hash(key), key_hint(key), agent=agent, usd_per_day=usd_per_day)

    if not with_store(add, config):
        fail(f"there is already a key named {name!r} (`agentbox tokens revoke {name}` first)")
    if as_json:
        print_json({"name": name, "key": key, "agent": agent, "usd_per_day": usd_per_day})
        return
    limits = f"agent {agent or 'any'}, " + (f"${usd_per_day:g} a day" if usd_per_day else "no daily cap")
    typer.echo(f"Created API key {name} ({limits}). Copy it now: it is not shown again.\n\n  {key}\n")
    typer.echo(
        f"Use it with any OpenAI client: base URL http://{config.gateway.host}:{config.gateway.port}/v1, "
        f'model "agentbox/{agent or "main"}".'
    )


@app.command("list")
def list_keys(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Keys with their limits, today's spend and when they were last used (never the keys themselves)."""

    async def load(store: Store) -> list[tuple[Any, float]]:
        from agentbox.turn.usage import spent_since, utc_day_start

        since = utc_day_start(time.time())
        keys = await store.api_keys.all()
        return [(k, await spent_since(store.conn, since, channel="api", sender_id=f"key:{k.name}")) for k in keys]

    keys = with_store(load)
    if as_json:
        print_json(
            [
                {
                    "name": k.name,
                    "hint": k.hint,
                    "agent": k.agent,
                    "usd_per_day": k.usd_per_day,
                    "spent_today_usd": round(spent, 6),
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                }
                for k, spent in keys
            ]
        )
        return
    if not keys:
        typer.echo("No API keys (the gateway token works too). `agentbox tokens create NAME` makes one.")
        return
    from agentbox.cli.tables import print_keyed

    now = time.time()
    rows = [
        (
            k.name,
            k.hint,
            k.agent or "any",
            f"${k.usd_per_day:g}" if k.usd_per_day else "-",
            f"${spent:.4f}",
            ago(now - k.last_used_at) + " ago" if k.last_used_at else "never",
        )
        for k, spent in keys
    ]
    print_keyed(("name", "key", "agent", "cap/day", "today", "last used"), rows, numeric=(4,))


@app.command("revoke")
def revoke(name: str) -> None:
    """Delete a key: requests with it get 401 from now on."""
    if not with_store(lambda store: store.api_keys.revoke(name)):
        fail(f"no API key named {name!r} (see `agentbox tokens list`)")
    typer.echo(f"API key {name} revoked.")
