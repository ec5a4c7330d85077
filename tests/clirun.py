"""Run `agentbox` in-process with Typer's CliRunner (fast) and leave the logging setup as it was."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.helpers import cli_env, logging_restored


def invoke(home: Path, *args: str, input: str | None = None, columns: int = 80, **env: str) -> Result:
    """`agentbox ARGS` against `home`, as on a terminal `columns` wide; stdout and stderr kept apart."""
    from agentbox.cli.main import app

    environment = {**cli_env(home), "COLUMNS": str(columns), "LINES": "50", **env}
    saved = dict(os.environ)  # every command loads AGENTBOX_HOME/.env into the environment
    try:
        with logging_restored():
            return CliRunner().invoke(app, list(args), input=input, env=environment, catch_exceptions=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
