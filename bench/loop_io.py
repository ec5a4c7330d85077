"""How long a turn's file IO holds up the event loop (which serves every chat), on it vs in a thread.

Prints, in one run so the noisy machine treats both sides alike (median of several rounds):
  - saving produced media (a 20 MB video, random bytes): the longest loop stall when written on
    the loop (what `save_media` did) and when `save_media` hands it to a worker thread;
  - the per-turn check for edited skills (bundled skills + 20 user skills): loop-thread CPU per
    check when `SkillRegistry.signature` runs on the loop, and when the turn runs it in a thread.

Run: `python -m bench.loop_io`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

ROUNDS = 7
MEDIA_BYTES = 20 * 1024 * 1024
CHECKS = 500
USER_SKILLS = 20
TICK = 0.001


async def _longest_stall(work: Awaitable[object]) -> float:
    """Milliseconds of the longest gap between 1 ms ticks of another task while `work` runs."""
    longest = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            longest = max(longest, now - last - TICK)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(TICK * 3)  # the ticker is running before the work starts
    await work
    done.set()
    await ticking
    return longest * 1000


async def _media_stalls(directory: Path) -> tuple[float, float]:
    from agentbox.messages import Attachment
    from agentbox.turn.runner import _write_media, save_media

    def video() -> Attachment:  # fresh bytes each time: a file already saved is not written again
        return Attachment("video", data=os.urandom(MEDIA_BYTES), media_type="video/mp4", filename="video.mp4")

    async def on_loop(item: Attachment) -> None:  # what save_media did before
        assert item.data is not None
        _write_media(directory, item, item.data)

    before, after = [], []
    for _ in range(ROUNDS):
        before.append(await _longest_stall(on_loop(video())))
        after.append(await _longest_stall(save_media(directory, video())))
    return statistics.median(before), statistics.median(after)


def _skill_home(root: Path) -> Path:
    home = root / "home"
    for index in range(USER_SKILLS):
        folder = home / "skills" / f"team-skill-{index:02d}"
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(
            f"---\nname: team-skill-{index:02d}\ndescription: Skill {index}.\n---\nBody.\n"
        )
        (folder / "tools.py").write_text("def noop() -> str:\n    return 'ok'\n")
    (home / "config.toml").write_text("")
    return home


async def _skill_check_cpu(home: Path) -> tuple[float, float]:
    """Loop-thread CPU microseconds per skill check: on the loop vs handed to a thread."""
    from agentbox.config import load_config
    from agentbox.skillkit import SkillRegistry

    registry = SkillRegistry(load_config(home / "config.toml", env={"AGENTBOX_HOME": str(home)}))
    registry.signature()
    before, after = [], []
    for _ in range(ROUNDS):
        start = time.thread_time()
        for _ in range(CHECKS):
            registry.signature()
        before.append((time.thread_time() - start) / CHECKS * 1e6)
        start = time.thread_time()
        for _ in range(CHECKS):
            await asyncio.to_thread(registry.signature)
        after.append((time.thread_time() - start) / CHECKS * 1e6)
    return statistics.median(before), statistics.median(after)


async def _main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        before, after = await _media_stalls(Path(tmp) / "media")
        print(
            f"saving a {MEDIA_BYTES // 2**20} MB video: longest loop stall {before:.1f} ms on the loop, {after:.1f} ms in a thread"
        )
        before, after = await _skill_check_cpu(_skill_home(Path(tmp)))
        print(
            f"skill check per turn ({USER_SKILLS} user skills + bundled): loop-thread CPU {before:.0f} µs on the loop, {after:.0f} µs in a thread"
        )


if __name__ == "__main__":
    asyncio.run(_main())
