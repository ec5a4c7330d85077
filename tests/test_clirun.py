"""The in-process CLI runner (tests/clirun.py) leaves this process as it found it, so tests stay independent."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from agentbox import envfile, logs, redaction
from tests.clirun import invoke, invoke_cli
from tests.fakes.aimlapi import FakeAimlapi
from tests.helpers import API_KEY, cli_env

FROM_ENV_FILE = "987654321:AAHtokenFromTheEnvFile_0123456789"


def process_state() -> dict[str, Any]:
    root = logging.getLogger()
    umask = os.umask(0o022)
    os.umask(umask)
    return {
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": umask,
        "handlers": list(root.handlers),
        "level": root.level,
        "excepthook": sys.excepthook,
        "library levels": {name: logging.getLogger(name).level for name in logs.NOISY_LIBRARIES},
        "signals": {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)},
        "redactor": redaction.shared_redactor(),
        "masked": redaction.redact(f"{API_KEY} {FROM_ENV_FILE}"),
        "from .env": dict(envfile._loaded_into_process),
        "log filter": logs.redacting_filter(),
    }


def test_a_run_leaves_the_process_as_it_was(home: Path, fake_aimlapi: FakeAimlapi) -> None:
    (home / ".env").write_text(f"TELEGRAM_BOT_TOKEN={FROM_ENV_FILE}\n")
    before = process_state()
    # -vv: library loggers at DEBUG, handlers, excepthook; the key and the .env token registered as secrets.
    done = invoke_cli("-vv", "agent", "-m", "hi", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0 and done.stdout == "echo: hi\n", done.stderr
    assert " DEBUG aiosqlite " in done.stderr  # the run did change all that
    assert process_state() == before
    shown = invoke(home, "-vv", "sessions", "list")
    assert shown.exit_code == 0 and "cli:default" in shown.stdout
    assert process_state() == before


def test_each_run_starts_as_a_new_process_would(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    redaction.register_secrets("sk-known-to-this-process-only-42")
    monkeypatch.setenv("AGENTBOX_LEFT_OVER", "from the test process")
    seen: dict[str, Any] = {}
    setup_logging = logs.setup_logging

    def watched(*args: Any, **kwargs: Any) -> Any:  # every command calls it first: look around from there
        umask = os.umask(0o077)
        os.umask(umask)
        seen.update(env=dict(os.environ), umask=umask, masked=redaction.redact("sk-known-to-this-process-only-42"))
        return setup_logging(*args, **kwargs)

    monkeypatch.setattr(logs, "setup_logging", watched)
    previous = os.umask(0o022)  # a permissive test process
    try:
        done = invoke_cli("sessions", "list", env=cli_env(home))
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr
    assert "AGENTBOX_LEFT_OVER" not in seen["env"] and seen["env"]["AGENTBOX_HOME"] == str(home)
    assert seen["umask"] == 0o077  # what `agentbox.cli.main.run` sets
    assert seen["masked"] == "sk-known-to-this-process-only-42"  # no secret carried over from this process
