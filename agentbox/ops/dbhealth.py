"""A database file SQLite cannot use: how to recognize it, and the exact fix to print.

Shared by every CLI command (through `agentbox.cli.common`) and by `agentbox doctor`, so the
advice is worded once. stdlib only: commands import it before anything heavy.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# SQLite's extended result codes for a damaged file or one that is not a database at all.
_BROKEN_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def is_broken_database(exc: BaseException) -> bool:
    """True when the file itself is damaged (not merely locked, read-only or out of space)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    if str(getattr(exc, "sqlite_errorname", "")).startswith(_BROKEN_CODES):
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def move_aside_command(path: Path) -> str:
    """The shell command that moves a damaged database (and its WAL, which must go with it) aside."""
    command = f"mv {path} {path}.broken"
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    if wal.exists():  # a new database must not replay the old file's write-ahead log
        command += f" && mv {wal} {path}.broken-wal"
    if shm.exists():
        command += f" && rm {shm}"
    return command


def broken_database_fix(path: Path) -> str:
    return (
        f"stop the gateway if it runs (`agentbox daemon status`), move the file aside with "
        f"`{move_aside_command(path)}` and run the command again: agentbox starts a new, empty database. "
        "Sessions and pairings in the old file are lost unless you restore a backup."
    )
