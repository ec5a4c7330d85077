"""`agentbox pairing list|approve|revoke|allowed`: quick (no pydantic-ai, no connector SDK).

They work while the gateway runs: same SQLite file, and the gateway reads approvals per message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from agentbox.cli.common import ago, config_or_exit, fail, print_json, run_async

app = typer.Typer(help="Approve who may talk to the assistant (DM pairing).", no_args_is_help=True)

CHANNELS = ("telegram", "slack", "discord")
T = TypeVar("T")


def _channel(name: str) -> str:
    lowered = name.strip().lower()
    if lowered not in CHANNELS:
        fail(f"unknown channel {name!r}: use one of {', '.join(CHANNELS)}")
    return lowered


def _with_pairing(fn: Callable[[Any], Awaitable[T]]) -> T:
    async def go() -> T:
        from agentbox.access import PairingService
        from agentbox.store import Store

        config = config_or_exit()
        store = await Store.open(config.database_path)
        try:
            return await fn(PairingService(store.pairing))
        finally:
            await store.close()

    return run_async(go())


@app.command("list")
def list_requests(
    channel: Annotated[str | None, typer.Argument(help="telegram, slack or discord; default all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pending pairing requests: channel, sender, name, code, age, expiry."""
    only = _channel(channel) if channel else None
    requests = _with_pairing(lambda service: service.pending(only))
    now = time.time()
    if as_json:
        print_json(
            [
                {
                    "channel": r.channel,
                    "sender_id": r.sender_id,
                    "sender_name": r.sender_name,
                    "code": r.code,
                    "created_at": r.created_at,
                    "expires_at": r.expires_at,
                    "age_s": round(now - r.created_at, 1),
                    "expires_in_s": round(r.expires_at - now, 1),
                }
                for r in requests
            ]
        )
        return
    if not requests:
        typer.echo("No pending pairing requests.")
        return
    typer.echo(f"{'CHANNEL':<9} {'SENDER':<20} {'NAME':<20} {'CODE':<9} {'AGE':>5} {'EXPIRES IN':>10}")
    for r in requests:
        typer.echo(
            f"{r.channel:<9} {r.sender_id:<20} {(r.sender_name or '-')[:20]:<20} {r.code:<9}"
            f" {ago(now - r.created_at):>5} {ago(r.expires_at - now):>10}"
        )
    typer.echo(f"\nApprove with: agentbox pairing approve {requests[0].channel} {requests[0].code}")


@app.command("approve")
def approve(
    channel: Annotated[str, typer.Argument(help="telegram, slack or discord")],
    code: Annotated[str, typer.Argument(help="The pairing code the bot sent (case-insensitive).")],
) -> None:
    """Approve the sender who got CODE; their next message gets a real answer (no restart needed)."""
    from agentbox.access import PairingError

    name = _channel(channel)

    async def go(service: Any) -> Any:
        try:
            return await service.approve(name, code)
        except PairingError as exc:
            return exc

    result = _with_pairing(go)
    if isinstance(result, PairingError):
        fail(str(result))
    typer.echo(f"Approved {name} sender {result.sender_id}.")


@app.command("revoke")
def revoke(
    channel: Annotated[str, typer.Argument(help="telegram, slack or discord")],
    sender_id: Annotated[str, typer.Argument(help="The sender id (see `agentbox pairing allowed`).")],
) -> None:
    """Withdraw an approval; the sender has to pair again. (allow_from in config.toml is not touched.)"""
    from agentbox.access import PairingError

    name = _channel(channel)

    async def go(service: Any) -> PairingError | None:
        try:
            await service.revoke(name, sender_id)
        except PairingError as exc:
            return exc
        return None

    if (error := _with_pairing(go)) is not None:
        fail(str(error))
    typer.echo(f"Revoked {name} sender {sender_id}.")


@app.command("allowed")
def allowed(
    channel: Annotated[str | None, typer.Argument(help="telegram, slack or discord; default all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Senders approved by pairing (senders in a channel's allow_from are listed in config.toml)."""
    only = _channel(channel) if channel else None
    senders = _with_pairing(lambda service: service.allowed(only))
    if as_json:
        print_json(
            [
                {"channel": s.channel, "sender_id": s.sender_id, "sender_name": s.sender_name,
                 "approved_at": s.approved_at}
                for s in senders
            ]
        )  # fmt: skip
        return
    if not senders:
        typer.echo("No approved senders yet.")
        return
    now = time.time()
    for s in senders:
        typer.echo(
            f"{s.channel:<9} {s.sender_id:<20} {(s.sender_name or '-'):<20} approved {ago(now - s.approved_at)} ago"
        )
