"""`agentbox doctor [--online] [--json]`: exit 0 only when no check fails (warnings pass)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentbox.cli.common import print_json
from agentbox.plural import plural

SYMBOL = {"ok": "✓", "warn": "!", "fail": "✗"}


def doctor_command(
    online: Annotated[bool, typer.Option("--online", help="Also make one cheap authenticated API call.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check config, API key, tokens, database, permissions and disk; print a fix for each problem."""
    from agentbox.config import ConfigError, load_config
    from agentbox.logs import Redactor, collect_secrets
    from agentbox.ops.doctor import run_checks

    checks = run_checks(online=online)
    try:
        config = load_config()
    except ConfigError:
        config = None
    redact = Redactor(collect_secrets(config))  # belt and braces: no check should hold a secret anyway
    failed = sum(check.status == "fail" for check in checks)
    if as_json:
        print_json(
            {
                "ok": not failed,
                "checks": [{k: redact(v) if isinstance(v, str) else v for k, v in c.as_json().items()} for c in checks],
            }
        )
    else:
        for check in checks:
            typer.echo(redact(f"{SYMBOL[check.status]} {check.name}: {check.detail}"))
            if check.fix and check.status != "ok":
                typer.echo(redact(f"    fix: {check.fix}"))
        warned = sum(check.status == "warn" for check in checks)
        typer.echo(f"\n{len(checks) - failed - warned} ok, {plural(warned, 'warning')}, {plural(failed, 'problem')}")
    raise typer.Exit(1 if failed else 0)
