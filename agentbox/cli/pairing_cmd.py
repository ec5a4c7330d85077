"""`agentbox pairing list|approve|deny|revoke|allowed|approve-group|revoke-group`: quick (no pydantic-ai, no SDK).

They work while the gateway runs: same SQLite file, and the gateway reads approvals per message.
Names and ids come from chat platforms, so everything printed passes through `terminal_safe`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentbox.channels import CHANNEL_NAMES, CHANNELS, get_channel, names_text
from agentbox.cli.common import ago, config_or_exit, fail, print_json, with_store
from agentbox.cli.termsafe import terminal_safe

if TYPE_CHECKING:
    from agentbox.store import Store

app = typer.Typer(help="Approve who may talk to the assistant (DM pairing, groups).", no_args_is_help=True)

# Telegram group ids are negative: `-100123` is an argument, not an unknown option.
NEGATIVE_IDS = {"ignore_unknown_options": True}
CHANNEL_HELP = names_text()
REFUSAL_REASONS = {
    "full": "while {max} were pending",
    "cooldown": "during the cooldown after an expired code",
    "groups full": "from groups while {max} group codes were pending",
}


def _channel(name: str) -> str:
    lowered = name.strip().lower()
    if lowered not in CHANNEL_NAMES:
        fail(f"unknown channel {name!r}: use one of {', '.join(CHANNEL_NAMES)}")
    return lowered


def _cell(text: str | None, width: int) -> str:
    """One table cell of untrusted text: control characters neutralized, cut to `width`."""
    return f"{terminal_safe(text or '-', single_line=True)[:width]:<{width}}"


def _pairing(store: Store) -> Any:
    """The pairing service on `store`; its PairingError ends a command with exit 1 and the message."""
    from agentbox.gateway.access import PairingService

    return PairingService(store.pairing)


def _groups(store: Store) -> Any:
    from agentbox.gateway.group_pairing import GroupPairing

    return GroupPairing(store.groups, store.pairing)


def _row(channel: str, item_id: str, name: str, tail: str) -> str:
    return f"{channel:<9} {_cell(item_id, 20)} {_cell(name, 20)} {tail}"


@app.command("list")
def list_requests(
    channel: Annotated[str | None, typer.Argument(help=f"{CHANNEL_HELP}; default all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pending pairing requests (senders and groups), and how many requests were refused."""
    only = _channel(channel) if channel else None

    async def load(store: Store) -> tuple[Any, Any, dict[str, dict[str, int]]]:
        service = _pairing(store)
        return await service.pending(only), await _groups(store).requests(only), await service.refusals(only)

    requests, groups, refused = with_store(load)
    now = time.time()
    if as_json:
        print_json(
            [
                {
                    "kind": "sender",
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
            + [
                {"kind": "group", "channel": g.channel, "group_id": g.group_id, "group_name": g.group_name,
                 "code": g.code, "created_at": g.created_at, "age_s": round(now - g.created_at, 1)}
                for g in groups
            ]
        )  # fmt: skip
        return
    if not requests and not groups:
        typer.echo("No pending pairing requests.")
    if requests:
        typer.echo(f"{'CHANNEL':<9} {'SENDER':<20} {'NAME':<20} {'CODE':<9} {'AGE':>5} {'EXPIRES IN':>10}")
        for r in requests:
            typer.echo(
                _row(r.channel, r.sender_id, r.sender_name, f"{r.code:<9} {ago(now - r.created_at):>5}")
                + f" {ago(r.expires_at - now):>10}"
            )
        typer.echo(f"\nApprove with: agentbox pairing approve {requests[0].channel} {requests[0].code}")
    if groups:
        typer.echo(f"\nGroups asking to be opened to everyone in them:\n{'CHANNEL':<9} {'GROUP':<20} {'NAME':<20} CODE")
        for g in groups:
            typer.echo(_row(g.channel, g.group_id, g.group_name, g.code))
        typer.echo(f"\nOpen one with: agentbox pairing approve-group {groups[0].channel} {groups[0].code}")
    _echo_refusals(refused)


def _echo_refusals(refused: dict[str, dict[str, int]]) -> None:
    from agentbox.gateway.access import MAX_PENDING

    for name, reasons in refused.items():
        parts = ", ".join(
            f"{count} {REFUSAL_REASONS.get(reason, reason).format(max=MAX_PENDING)}"
            for reason, count in reasons.items()
        )
        typer.echo(f"\nRefused on {name}: {sum(reasons.values())} ({parts})")


@app.command("approve")
def approve(
    channel: Annotated[str, typer.Argument(help=CHANNEL_HELP)],
    code: Annotated[str, typer.Argument(help="The pairing code the bot sent (case-insensitive).")],
) -> None:
    """Approve the sender who got CODE; the running gateway tells them at once (no restart needed)."""
    name = _channel(channel)
    request = with_store(lambda store: _pairing(store).approve(name, code))
    typer.echo(f"Approved {name} sender {terminal_safe(request.sender_id, single_line=True)}.")
    typer.echo(_tell_gateway(name))


def _tell_gateway(channel: str) -> str:
    """Ask the running gateway to send the "you're approved" notice now."""
    from agentbox.cli.gateway_client import NoGateway, call_gateway

    try:
        answer = call_gateway(config_or_exit(), "/pairing/notify", post=True)
    except NoGateway:
        return "No gateway is running: they are told they can talk when it starts."
    if answer.get("sent"):
        return "They were told they can talk now."
    return f"They are told they can talk as soon as the {channel} connector is ready."


@app.command("deny")
def deny(
    channel: Annotated[str, typer.Argument(help=CHANNEL_HELP)],
    code: Annotated[str, typer.Argument(help="The pairing code the bot sent (case-insensitive).")],
) -> None:
    """Refuse the sender who got CODE: the code stops working and they get no new one for 6 hours."""
    name = _channel(channel)
    request = with_store(lambda store: _pairing(store).deny(name, code))
    typer.echo(f"Denied {name} sender {terminal_safe(request.sender_id, single_line=True)}.")


@app.command("revoke", context_settings=NEGATIVE_IDS)
def revoke(
    channel: Annotated[str, typer.Argument(help=CHANNEL_HELP)],
    sender_id: Annotated[str, typer.Argument(help="The sender id (see `agentbox pairing allowed`).")],
) -> None:
    """Withdraw an approval; the sender has to pair again. (allow_from in config.toml is not touched.)"""
    name = _channel(channel)
    with_store(lambda store: _pairing(store).revoke(name, sender_id))
    typer.echo(f"Revoked {name} sender {terminal_safe(sender_id, single_line=True)}.")


@app.command("approve-group", context_settings=NEGATIVE_IDS)
def approve_group(
    channel: Annotated[str, typer.Argument(help=CHANNEL_HELP)],
    code_or_id: Annotated[str, typer.Argument(help="The code the bot posted in the group, or the group's chat id.")],
) -> None:
    """Open a group to everyone in it (a Discord server, a Slack channel, a Telegram group)."""
    name = _channel(channel)
    result = with_store(lambda store: _groups(store).approve(name, code_or_id))
    label = terminal_safe(result.group_id, single_line=True)
    if result.group_name:
        label += f" ({terminal_safe(result.group_name, single_line=True)})"
    verb = "was already open" if result.already else "is now open to everyone in it"
    typer.echo(f"{name} group {label} {verb}.")


@app.command("revoke-group", context_settings=NEGATIVE_IDS)
def revoke_group(
    channel: Annotated[str, typer.Argument(help=CHANNEL_HELP)],
    group_id: Annotated[str, typer.Argument(help="The group's id (see `agentbox pairing allowed`).")],
) -> None:
    """Close a group opened with approve-group: only paired senders are answered there again."""
    name = _channel(channel)
    with_store(lambda store: _groups(store).revoke(name, group_id))
    typer.echo(f"Closed {name} group {terminal_safe(group_id, single_line=True)}.")
    if group_id.strip() in get_channel(name).settings_in(config_or_exit()).groups:
        typer.echo(f"It is also listed in groups under [channels.{name}] in config.toml: remove it there too.")


@app.command("allowed")
def allowed(
    channel: Annotated[str | None, typer.Argument(help=f"{CHANNEL_HELP}; default all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Senders approved by pairing and groups opened to everyone (allow_from is in config.toml)."""
    only = _channel(channel) if channel else None

    config = config_or_exit()
    listed = [(c.name, g) for c in CHANNELS if only in (None, c.name) for g in c.settings_in(config).groups]

    async def load(store: Store) -> tuple[Any, Any]:
        return await _pairing(store).allowed(only), await _groups(store).allowed(only)

    senders, groups = with_store(load, config)
    if as_json:
        print_json(
            [
                {"kind": "sender", "channel": s.channel, "sender_id": s.sender_id, "sender_name": s.sender_name,
                 "approved_at": s.approved_at}
                for s in senders
            ]
            + [
                {"kind": "group", "channel": g.channel, "group_id": g.group_id, "group_name": g.group_name,
                 "approved_at": g.approved_at}
                for g in groups
            ]
            + [{"kind": "group", "channel": n, "group_id": g, "source": "config"} for n, g in listed]
        )  # fmt: skip
        return
    now = time.time()
    if not senders:
        typer.echo("No approved senders yet.")
    for s in senders:
        typer.echo(_row(s.channel, s.sender_id, s.sender_name, f"approved {ago(now - s.approved_at)} ago"))
    if groups or listed:
        typer.echo("\nGroups open to everyone in them:")
    for g in groups:
        typer.echo(_row(g.channel, g.group_id, g.group_name, f"approved {ago(now - g.approved_at)} ago"))
    for n, g in listed:
        typer.echo(_row(n, g, "", f"groups in config.toml{' (every group)' if g == '*' else ''}"))
