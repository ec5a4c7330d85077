"""Run `agentbox` in-process with Typer's CliRunner (fast) and leave the logging setup as it was."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.helpers import cli_env


def invoke(home: Path, *args: str, input: str | None = None, columns: int = 80, **env: str) -> Result:
    """`agentbox ARGS` against `home`, as on a terminal `columns` wide; stdout and stderr kept apart."""
    from agentbox.cli.main import app

    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook)
    environment = {**cli_env(home), "COLUMNS": str(columns), "LINES": "50", **env}
    try:
        return CliRunner().invoke(app, list(args), input=input, env=environment, catch_exceptions=False)
    finally:
        for handler in root.handlers[:]:
            if handler not in saved[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(saved[1])
        sys.excepthook = saved[2]
