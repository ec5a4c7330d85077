"""One process per bot token: an exclusive flock on a file named after a hash of the token.

Two pollers on one Telegram token make Telegram answer 409 Conflict; two Discord or Slack
clients on one token answer every message twice. Gateways on different AGENTBOX_HOMEs
share this per-user lock directory, so the lock holds across homes too.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO

from agentbox.messages import ConnectorError


def runtime_dir() -> Path:
    """Per-user directory for lock files: $XDG_RUNTIME_DIR/agentbox, else <tmp>/agentbox-<uid>."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "agentbox"
    return Path(tempfile.gettempdir()) / f"agentbox-{os.getuid()}"


def acquire_token_lock(
    channel: str, token: str, directory: Path | None = None, *, verb: str = "using", why: str = ""
) -> IO[str]:
    """Hold an exclusive flock named after a hash of `token` (never the token itself).

    Returns the open file: keep it for as long as the token is in use; closing it releases
    the lock. Raises `ConnectorError(fatal=True)` when another process holds it.
    """
    directory = directory or runtime_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    # a shared /tmp: refuse a directory another user (or a symlink) could have planted
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ConnectorError(f"{channel}: lock directory {directory} is not a directory owned by you", fatal=True)
    digest = hashlib.sha256(f"agentbox-{channel}:{token}".encode()).hexdigest()[:24]
    path = directory / f"{channel}-{digest}.lock"
    handle = open(path, "a+", encoding="utf-8")  # held open (and locked) for the connector's lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise ConnectorError(
            f"{channel}: another agentbox process (pid {holder}) is already {verb} this bot token; "
            f"stop it first{why}. Lock file: {path}",
            fatal=True,
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
