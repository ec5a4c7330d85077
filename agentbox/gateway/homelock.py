"""One gateway per AGENTBOX_HOME: an exclusive flock on `gateway.lock`, held for the process lifetime.

flock (not a pid file) so a gateway killed with -9 never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from agentbox.errors import AgentboxError

LOCK_FILE = "gateway.lock"


class AlreadyRunning(AgentboxError):
    """Another gateway holds this home; the message names its pid when known."""


def acquire_home_lock(home: Path) -> IO[str]:
    """Lock `home/gateway.lock` or raise AlreadyRunning. Keep the returned handle open."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = home / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # held open for the process lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip()
        handle.close()
        who = f" (pid {pid})" if pid else ""
        raise AlreadyRunning(
            f"another gateway is already running on {home}{who}; stop it first "
            "(two gateways would answer every message twice)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
