"""A full disk, recognized and told to the owner once in a while instead of as a stream of tracebacks.

SQLite reports it as "database or disk is full" (SQLITE_FULL), file writes as ENOSPC. The gateway
keeps the message pending and tries again later; the owner gets one clear line saying what to do.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

PRUNE_HINT = "`agentbox sessions prune --older-than 90d` deletes old history and media nobody refers to"


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's "database or disk is full" and for ENOSPC, also when wrapped in another error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlite3.OperationalError) and (
            getattr(seen, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(seen)
        ):
            return True
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def free_bytes(path: Path) -> int | None:
    target = path
    while not target.exists() and target != target.parent:
        target = target.parent
    try:
        return shutil.disk_usage(target).free
    except OSError:
        return None


class DiskFullAlarm:
    """Logs the disk-full problem at most once every `every` seconds."""

    def __init__(self, home: Path, *, every: float = 600.0) -> None:
        self.home = home
        self.every = every
        self.count = 0
        self._last: float | None = None

    def report(self, what: str) -> None:
        self.count += 1
        moment = time.monotonic()
        if self._last is not None and moment - self._last < self.every:
            return
        self._last = moment
        free = free_bytes(self.home)
        left = f"{free / 1_048_576:.0f} MB free" if free is not None else "free space unknown"
        log.error(
            "disk full: agentbox cannot write to %s (%s; %s). Messages stay queued and are retried; "
            "free space on that disk: %s.",
            self.home,
            what,
            left,
            PRUNE_HINT,
        )
