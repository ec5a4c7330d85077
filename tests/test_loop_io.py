"""A turn keeps blocking file IO off the event loop (it serves every chat at once).

Produced media (megabytes for a video) is hashed and written in a worker thread, and the check
for edited skills (a directory scan of every skill root on every turn) runs there too. Python's
audit events ("open", "os.scandir") show which thread touched which path.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agentbox.skillkit.registry import bundled_root
from agentbox.turn.runner import TurnRequest
from tests.fakes.aimlapi import TINY_PNG, Reply, ToolCall
from tests.helpers import runtime_on

_recorded: list[tuple[str, str, int]] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _recorded is not None and event in ("open", "os.scandir") and args and isinstance(args[0], str | Path):
        _recorded.append((event, str(args[0]), threading.get_ident()))


_hooked = False


@dataclass
class FileIO:
    on_loop: list[str] = field(default_factory=list)  # by the calling thread: the event loop's
    elsewhere: list[str] = field(default_factory=list)  # by worker threads


@contextmanager
def file_io(*roots: Path) -> Iterator[FileIO]:
    """Files opened and directories scanned under `roots` while the block runs, by thread."""
    global _recorded, _hooked
    if not _hooked:  # hooks cannot be removed: installed on first use, it records only inside this block
        sys.addaudithook(_audit)
        _hooked = True
    seen = FileIO()
    _recorded = []
    try:
        yield seen
    finally:
        events, _recorded = _recorded, None
        here = threading.get_ident()
        for event, path, thread in events:
            if any(path.startswith(str(root)) for root in roots):
                (seen.on_loop if thread == here else seen.elsewhere).append(f"{event} {path}")


async def test_produced_media_is_written_off_the_event_loop(fake_aimlapi, home: Path) -> None:
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest("tg:7", "hi"))  # builds the agent (its first scan may block: once)
        fake_aimlapi.script(
            Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a lighthouse at dusk"})]), Reply(text="Here.")
        )
        with file_io(home / "media") as io:
            result = await rt.runner.run(TurnRequest("tg:7", "draw a lighthouse"))
    [image] = result.attachments
    assert image.path is not None and await asyncio.to_thread(Path(image.path).read_bytes) == TINY_PNG
    assert io.on_loop == [] and io.elsewhere == [f"open {image.path}"]


async def test_the_per_turn_skill_check_runs_off_the_event_loop(fake_aimlapi, home: Path) -> None:
    skill_roots = (bundled_root(), home / "skills", home / "workspace" / "skills")
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest("tg:8", "hi"))
        with file_io(*skill_roots) as io:
            second = await rt.runner.run(TurnRequest("tg:8", "and again"))
    assert second.ok
    assert io.on_loop == []
    assert f"os.scandir {home / 'workspace' / 'skills'}" in io.elsewhere  # still checked on every turn
