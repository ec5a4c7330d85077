"""Run the real `agentbox` CLI on a pseudo-terminal, as a person at a terminal would.

The process becomes the session leader of a new pty (its controlling terminal), so what is
typed into the master side (`\\x03`, `\\x04`, answers to prompts) arrives exactly as from a
keyboard: Ctrl-C is SIGINT, Ctrl-D end-of-file, and `isatty()` is true.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

WAIT = 60.0  # generous: the machine is shared; nothing asserts on how long things take
# Become the session leader, take the pty as controlling terminal, then exec the real CLI. Ctrl-C
# acts as at a terminal even when pytest runs in the background (`cmd &` starts it with SIGINT ignored).
LAUNCHER = (
    "import fcntl, os, signal, sys, termios\n"
    "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    "os.setsid()\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'agentbox.cli.main', *sys.argv[1:]])\n"
)


class PtyProcess:
    """`agentbox ARGS` on a pty; `expect` reads until a text appears, `type` sends keystrokes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "dumb", "COLUMNS": "80"},
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.output = ""

    def _read(self, timeout: float) -> bool | None:
        """True: read something; False: the terminal is closed; None: nothing within `timeout`."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return None
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # the child closed the terminal
            chunk = b""
        self.output += chunk.decode("utf-8", "replace")
        return bool(chunk)

    def expect(self, text: str, *, after: int = 0) -> int:
        """Read until `text` appears after offset `after`; returns the offset just past it."""
        deadline = time.monotonic() + WAIT
        while (found := self.output.find(text, after)) < 0:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; output so far:\n{self.output}"
            assert self._read(remaining) is not False, f"the process ended before {text!r}; output:\n{self.output}"
        return found + len(text)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def exit_code(self) -> int:
        """Wait for the process to end (draining the terminal so it never blocks on output)."""
        deadline = time.monotonic() + WAIT
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, f"the process did not exit; output:\n{self.output}"
            self._read(0.2)
        while self._read(0) is True:  # what it printed last
            pass
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
