"""Run `agentbox` in-process with Typer's CliRunner: the fast layer for argument and output tests.

Each call sees what a fresh `agentbox` process would: exactly the environment given, `run()`'s
owner-only umask, no secret registered for masking yet and nothing loaded from `.env` yet. What a
command leaves behind in this process (logging handlers and levels, the excepthook, the umask,
signal handlers, the working directory, environment variables) is undone afterwards.

Use `tests.helpers.run_cli` (a real subprocess) where the process itself is under test: the real
entry point, a pty, signals, a crash's traceback, what gets imported, or a full session in one process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.helpers import cli_env, logging_restored

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def fresh_process(environ: Mapping[str, str]) -> Iterator[None]:
    """This process as a new `agentbox` process with `environ` would start; everything restored after."""
    from agentbox import envfile, logs, redaction

    saved_environ, saved_cwd = dict(os.environ), os.getcwd()
    saved_signals = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    saved_levels = {name: logging.getLogger(name).level for name in logs.NOISY_LIBRARIES}
    saved_redactor, saved_loaded, saved_filter = redaction._shared, envfile._loaded_into_process, logs._active_filter
    os.environ.clear()
    os.environ.update(environ)
    redaction._shared = redaction.Redactor()  # a real process starts knowing no secret
    envfile._loaded_into_process = {}
    umask = os.umask(0o077)  # what `agentbox.cli.main.run` sets before the app runs
    try:
        with logging_restored():
            yield
    finally:
        os.umask(umask)
        redaction._shared, envfile._loaded_into_process, logs._active_filter = (
            saved_redactor,
            saved_loaded,
            saved_filter,
        )
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        for sig, handler in saved_signals.items():
            if signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)


def _run(args: Sequence[str], environ: Mapping[str, str], input: str | None) -> Result:
    from agentbox.cli.main import app

    def call() -> Result:
        with fresh_process(environ):
            return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    # From an async test: the CLI runs its own event loop, so it needs a thread without one. The
    # test's loop waits meanwhile, as it did while a `run_cli` subprocess ran.
    with ThreadPoolExecutor(1, thread_name_prefix="agentbox-cli") as worker:
        return worker.submit(call).result()


def invoke_cli(*args: str, env: Mapping[str, str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`run_cli`'s in-process twin: the same arguments and the same result, without a new interpreter.

    An exception the CLI does not handle fails the test with its traceback (a subprocess would
    print it and exit 1), so a test written for `run_cli` asserts at least as much here.
    """
    result = _run(args, env, input)
    return subprocess.CompletedProcess(["agentbox", *args], result.exit_code, result.stdout, result.stderr)


def invoke(home: Path, *args: str, input: str | None = None, columns: int = 80, **env: str) -> Result:
    """`agentbox ARGS` against `home`, as on a terminal `columns` wide; stdout and stderr kept apart."""
    return _run(args, {**os.environ, **cli_env(home), "COLUMNS": str(columns), "LINES": "50", **env}, input)
