"""`agentbox logs [-f] [-n N]`: the last lines of AGENTBOX_HOME/logs/agentbox.log, optionally followed."""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Annotated

import typer


def tail(path: Path, lines: int) -> list[str]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return list(deque(handle, maxlen=lines)) if lines > 0 else []


def follow(path: Path, *, poll: float = 0.5) -> None:
    """Print lines as they are appended; reopens the file when it rotates."""
    handle = path.open("r", encoding="utf-8", errors="replace")
    handle.seek(0, os.SEEK_END)
    inode = os.fstat(handle.fileno()).st_ino
    try:
        while True:
            line = handle.readline()
            if line:
                typer.echo(line, nl=False)
                continue
            time.sleep(poll)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if stat.st_ino != inode or stat.st_size < handle.tell():  # rotated or truncated
                handle.close()
                handle = path.open("r", encoding="utf-8", errors="replace")
                inode = os.fstat(handle.fileno()).st_ino
    except KeyboardInterrupt:
        pass
    finally:
        handle.close()


def logs_command(
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many recent lines to show.")] = 50,
) -> None:
    """Show the gateway log (secrets are masked when written)."""
    from agentbox.logs import log_file

    path = log_file()
    # Every command creates the file on start, so a fresh home has an empty one.
    if not path.exists() or path.stat().st_size == 0:
        typer.echo(f"no log yet (the gateway writes {path} once it runs)", err=follow_)
        if not follow_ or not path.exists():
            return
    for line in tail(path, lines):
        typer.echo(line, nl=False)
    if follow_:
        follow(path)
