"""Keeping the database (and AGENTBOX_HOME/media) from growing forever.

`prune(store, media_dir, cutoff)` is what `agentbox sessions prune --older-than 90d` runs: old
turns, sessions and answered inbox messages go, then media no remaining turn refers to, in the
database and on disk. The gateway runs `RetentionService` in the background: once a day it prunes
what is older than `storage.retention_days` (when set) and collects unreferenced media either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agentbox.config import Config
from agentbox.store import PruneReport, Store
from agentbox.tasks import TaskSet

if TYPE_CHECKING:
    from agentbox.gateway.lifecycle import Gateway

log = logging.getLogger(__name__)

DAY = 86_400.0
_AGE = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")
_UNIT = {"h": 3600.0, "d": DAY, "w": 7 * DAY}


def parse_age(text: str) -> float:
    """'90d', '12h', '2w' → seconds; ValueError with the accepted forms otherwise."""
    match = _AGE.match(text.lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not an age: use a number and a unit, e.g. 90d, 12h or 2w")
    return int(match.group(1)) * _UNIT[match.group(2)]


async def prune(store: Store, media_dir: Path, cutoff: float, *, dry_run: bool = False) -> tuple[PruneReport, int]:
    """Prune the database, then delete produced media files no remaining turn lists; (report, files)."""
    report = await store.retention.prune(cutoff, dry_run=dry_run)
    keep = await _listed_paths(store)
    files = await asyncio.to_thread(_unlisted_files, media_dir, keep, cutoff, dry_run)
    return report, files


async def _listed_paths(store: Store) -> set[str]:
    paths: set[str] = set()
    async with store.conn.execute("SELECT attachments FROM turns WHERE attachments != '[]'") as cursor:
        async for row in cursor:
            with contextlib.suppress(ValueError, TypeError):
                paths.update(str(item) for item in json.loads(row[0]))
    return paths


def _unlisted_files(media_dir: Path, keep: set[str], cutoff: float, dry_run: bool) -> int:
    if not media_dir.is_dir():
        return 0
    removed = 0
    for path in media_dir.iterdir():
        try:
            old = path.is_file() and path.stat().st_mtime < cutoff
        except OSError:
            continue
        if old and str(path) not in keep:
            if not dry_run:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


class RetentionService:
    """Daily retention and media garbage collection inside the gateway."""

    name = "retention"
    interval = DAY

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self._tasks = TaskSet("retention", log)

    async def start(self) -> None:
        self._tasks.spawn(self._loop(), name="retention")

    async def stop(self) -> None:
        await self._tasks.aclose()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a failed round (a locked or full disk) must not end the service
                log.exception("retention: this round failed; trying again tomorrow")
            await asyncio.sleep(self.interval)

    async def run_once(self) -> None:
        days = self.config.storage.retention_days
        if days is not None:
            report, files = await prune(self.store, self.config.home / "media", time.time() - days * DAY)
            if report != PruneReport() or files:
                log.info("retention: removed %s and %d media files older than %d days", report.describe(), files, days)
            return
        count, size = await self.store.retention.collect_media()
        if count:
            log.info("retention: removed %d unreferenced media (%.1f MB)", count, size / 1_048_576)


def gateway_service(gateway: Gateway) -> RetentionService:
    return RetentionService(gateway.config, gateway.store)
