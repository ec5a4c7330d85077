"""`agentbox hooks list|test`: the signed webhooks of `[[hooks]]`, and a signed test delivery to the gateway."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from agentbox.cli.common import config_or_exit, fail, print_json

app = typer.Typer(
    help="Signed webhooks (the hooks tables of config.toml): list them, send a test delivery.", no_args_is_help=True
)


@app.command("list")
def list_hooks(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each hook: its URL path, kind, agent, where results go, and whether its secret is set."""
    hooks = config_or_exit().hooks
    items = [
        {
            "name": hook.name,
            "path": f"/hooks/{hook.name}",
            "kind": hook.kind,
            "agent": hook.agent,
            "deliver_to": hook.deliver_to,
            "secret_env": hook.secret_env,
            "secret_set": bool(os.environ.get(hook.secret_env, "").strip()),
        }
        for hook in hooks
    ]
    if as_json:
        print_json(items)
        return
    if not items:
        typer.echo("No hooks. Add a [[hooks]] table to config.toml (see docs/webhooks.md).")
        return
    from agentbox.cli.tables import print_keyed

    rows = [
        (
            str(item["path"]),
            str(item["kind"]),
            str(item["agent"]),
            str(item["deliver_to"]),
            f"{item['secret_env']} " + ("set" if item["secret_set"] else "NOT SET"),
        )
        for item in items
    ]
    print_keyed(("hook", "kind", "agent", "deliver to", "secret"), rows)


@app.command("test")
def test_hook(
    name: str,
    payload: Annotated[Path, typer.Option("--payload", help="A JSON file: the body to sign and send.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the gateway's answer as JSON.")] = False,
) -> None:
    """Sign FILE with the hook's secret and post it to the running gateway, as the sender would."""
    from agentbox.cli.gateway_client import gateway_url
    from agentbox.hooks.signature import sign

    config = config_or_exit()
    hook = next((hook for hook in config.hooks if hook.name == name), None)
    if hook is None:
        known = ", ".join(hook.name for hook in config.hooks) or "none configured"
        fail(f"no hook named {name!r} (hooks: {known})", 2)
    secret = os.environ.get(hook.secret_env, "").strip()
    if not secret:
        fail(f"${hook.secret_env} is not set: export it (or put it in AGENTBOX_HOME/.env), as the gateway has it", 2)
    try:
        body = payload.read_bytes()
        json.loads(body)
    except OSError as exc:
        fail(f"--payload {payload}: cannot read it ({exc.strerror or exc})", 2)
    except ValueError as exc:
        fail(f"--payload {payload}: not JSON ({exc})", 2)
    headers = {
        "Content-Type": "application/json",
        "X-Agentbox-Signature": sign(secret, body),
        "Idempotency-Key": f"test-{uuid.uuid4().hex}",
    }
    status, answer = _post(f"{gateway_url(config)}/hooks/{name}", body, headers)
    if as_json:
        print_json({"status": status, **answer})
    elif status in (200, 202):
        typer.echo(f"Accepted: delivery {answer.get('id')} of hook {name} ({answer.get('status')}).")
        typer.echo("The gateway handles it now; `agentbox logs` shows how it went.")
    if status not in (200, 202):
        fail(f"the gateway answered {status}: {answer.get('error', answer)}")


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request  # ~7 ms (http.client, email): not paid by every `agentbox` start

    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {"error": exc.reason}
    except (OSError, ValueError):
        fail(f"no gateway answers on {url.split('/hooks/')[0]}; start one with `agentbox gateway run`")
