"""Run a stdio MCP server so it can never outlive the agentbox process that started it.

agentbox starts every stdio server as `python -I guard.py PARENT_PID -- COMMAND ARGS...` in a
process group of its own (the MCP SDK's `start_new_session`). The guard starts COMMAND in that
group with the pipes it was given, so the protocol flows straight through, and then watches:

- when agentbox goes away, even by `kill -9` (this process is re-parented: `getppid()` changes),
  the guard stops the whole group: SIGTERM, then SIGKILL after a grace period;
- when the server exits, the guard ends what it left behind in the group and exits with its code.

A clean stop needs nothing from the guard: the SDK closes the server's stdin and, if it lingers,
signals the group. Standard library only, and it never writes to stdout (the protocol channel).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_SECONDS = 0.25
GRACE_SECONDS = 3.0


def _signal_group(sig: int) -> None:
    try:
        os.killpg(os.getpgid(0), sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group (the guard shrugs it off), wait a little for the server, then SIGKILL everyone."""
    _signal_group(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(signal.SIGKILL)  # the guard too: nothing of the group survives


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: guard.py PARENT_PID -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    parent, command = int(argv[1]), argv[3:]
    try:
        os.setsid()  # already a group leader when the SDK started us; a group of our own otherwise
    except OSError:
        pass
    # A handler, not SIG_IGN: an ignored signal stays ignored in the child across exec, a handler does not.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"agentbox: cannot start the MCP server {command[0]!r}: {exc}", file=sys.stderr)
        return 127
    while True:
        code = child.poll()
        if code is not None:
            _signal_group(signal.SIGTERM)  # anything the server left running in its group
            return code if code >= 0 else 128 - code
        if os.getppid() != parent:
            _stop(child)
            return 137
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
