"""Helpers every command shares: the config, running a coroutine, a database that cannot be used, output."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from agentbox.config import Config
    from agentbox.store import Store

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"agentbox: {message}", err=True)
    raise typer.Exit(code)


def config_or_exit() -> Config:
    """The config; a ConfigError ends the command with exit 2 (the CLI's one `AgentboxError` handler prints it)."""
    # Imported here: building the config models costs ~0.2 s that `agentbox --help` need not pay.
    from agentbox.config import load_config

    return load_config()


DATABASE_EXIT = 3  # the database cannot be used: damaged, locked past the timeout, unreadable


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        with database_errors():
            return asyncio.run(coro)
    except KeyboardInterrupt:
        typer.echo("", err=True)
        raise typer.Exit(130) from None


def with_store(work: Callable[[Store], Awaitable[T]], config: Config | None = None) -> T:
    """Run `work` on the opened database, closed afterwards even when it raises (see `run_async`).

    `config` is the one the command already loaded, if any; otherwise it is loaded here.
    """
    path = (config if config is not None else config_or_exit()).database_path

    async def main() -> T:
        from agentbox.store import Store

        store = await Store.open(path)
        try:
            return await work(store)
        finally:
            await store.close()

    return run_async(main())


# json.dumps escapes C0 controls itself; these it leaves raw (DEL, C1 such as the one-byte CSI 0x9B,
# bidirectional overrides). Escaped, the JSON means the same and cannot drive the terminal.
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn an unusable database into two lines (what is wrong, the exact fix) and exit 3, not a traceback."""
    from agentbox import paths

    try:
        yield
    except sqlite3.DatabaseError as exc:
        from agentbox.ops.dbhealth import broken_database_fix, is_broken_database

        path = paths.home() / "agentbox.db"
        if is_broken_database(exc):
            fail(f"the database {path} is damaged ({exc}).\n  fix: {broken_database_fix(path)}", DATABASE_EXIT)
        fail(f"the database {path} cannot be used: {exc} (`agentbox doctor` checks it)", DATABASE_EXIT)


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def json_text(data: Any, *, indent: int | None = None) -> str:
    """JSON that means the same as `data` and cannot drive a terminal it is printed on."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
