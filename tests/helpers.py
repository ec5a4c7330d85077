"""Shared test helpers: run the real `agentbox` CLI as a subprocess, build a runtime on the fakes."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

API_KEY = "sk-aimlapi-test-key-0123456789"


def cli_env(home: Path, fake_aimlapi: Any | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIMLAPI_", "AGENTBOX_", "TELEGRAM_", "SLACK_", "DISCORD_"))
    }
    env["AGENTBOX_HOME"] = str(home)
    env["AIMLAPI_API_KEY"] = API_KEY
    if fake_aimlapi is not None:
        env["AIMLAPI_BASE_URL"] = fake_aimlapi.url + "/v1"
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`agentbox ARGS` as a real process: for tests of the process itself (entry point, imports, a
    whole session). Argument and output tests use its in-process twin, `tests.clirun.invoke_cli`."""
    return subprocess.run(
        [sys.executable, "-m", "agentbox.cli.main", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@asynccontextmanager
async def runtime_on(fake_aimlapi: Any, home: Path, config_text: str = "") -> AsyncIterator[Any]:
    """A real Runtime (store, runner, model client) pointed at the fake AI/ML API."""
    from agentbox.config import load_config
    from agentbox.runtime import open_runtime

    if config_text:
        write_config(home, config_text)
    config = load_config(
        home / "config.toml", env={"AIMLAPI_API_KEY": API_KEY, "AIMLAPI_BASE_URL": fake_aimlapi.url + "/v1"}
    )
    async with open_runtime(config) as rt:
        yield rt


def database_before(path: Path, marker: str) -> sqlite3.Connection:
    """A database migrated up to (not including) the first migration containing `marker`, as the release
    before it left one; the open connection lets the test add rows (use it as a context manager)."""
    from agentbox.store.schema import MIGRATIONS

    mine = next(i for i, script in enumerate(MIGRATIONS) if marker in script)
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:mine]):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {number + 1}")
    return conn


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG (no Pillow needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo what `setup_logging` does to this process (root handlers, level, excepthook) afterwards."""
    root = logging.getLogger()
    handlers, level, hook = root.handlers[:], root.level, sys.excepthook
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        sys.excepthook = hook
