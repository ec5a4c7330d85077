"""The Operations page's log: the last lines of the gateway log, then new ones as they are written (SSE).

The file is redacted when written (`agentbox.logs`); each line is redacted again on the way
out, so a secret registered since it was written is masked too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from pathlib import Path

from aiohttp import web

from agentbox.gateway.control import Route
from agentbox.redaction import redact
from agentbox.web.guard import secured
from agentbox.web.state import PanelState

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
MAX_LINE = 2000  # characters of one line shown


def _log_file() -> Path:
    from agentbox.logs import log_file

    return log_file()


def _clean(line: str) -> str:
    return redact(line.rstrip("\n"))[:MAX_LINE]


def last_lines(count: int) -> list[str]:
    """The log's last `count` lines, redacted; empty when there is no log yet (blocking: run in a thread)."""
    try:
        with _log_file().open("r", encoding="utf-8", errors="replace") as handle:
            return [_clean(line) for line in deque(handle, maxlen=count)]
    except OSError:
        return []


class LogFollower:
    """Reads what was appended since the last call; starts at the end and follows rotations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._inode: int | None = None
        self._offset = 0

    def start(self) -> None:
        try:
            stat = self.path.stat()
        except OSError:
            return
        self._inode, self._offset = stat.st_ino, stat.st_size

    def read_new(self) -> list[str]:
        """New complete lines (blocking: run in a thread)."""
        try:
            stat = self.path.stat()
        except OSError:
            return []
        if stat.st_ino != self._inode or stat.st_size < self._offset:  # rotated or truncated
            self._inode, self._offset = stat.st_ino, 0
        if stat.st_size == self._offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read(1_000_000)
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        return [_clean(line) for line in complete.decode("utf-8", errors="replace").splitlines()]


class LogTail:
    """`GET /ui/ops/log`: an event stream of new log lines until the browser leaves or the gateway stops."""

    def __init__(self, state: PanelState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route("GET", "/ui/ops/log", self.stream)]

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = secured(web.StreamResponse(headers={"Content-Type": "text/event-stream"}))
        await response.prepare(request)
        follower = LogFollower(_log_file())
        await asyncio.to_thread(follower.start)
        try:
            await response.write(b": following " + os.fsencode(follower.path.name) + b"\n\n")
            while not self.state.closing.is_set():
                for line in await asyncio.to_thread(follower.read_new):
                    await response.write(f"data: {json.dumps(line)}\n\n".encode())
                try:
                    await asyncio.wait_for(self.state.closing.wait(), POLL_SECONDS)
                except TimeoutError:
                    continue
        except ConnectionResetError:
            pass  # the browser left: nothing to clean up
        return response
