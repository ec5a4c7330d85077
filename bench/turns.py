"""Benchmark the turn pipeline (issue 2) against the fake AI/ML API in another process.

Prints:
  - turns per second through the full pipeline (CLI excluded), fake model at 0 ms
  - agentbox-side overhead per turn (turn wall time minus the fake's latency), p50/p99,
    with the fake at 0 ms and at 200 ms
  - wall time for 1,000 sessions each taking one turn with a 1 s model delay
  - start-up time and peak memory of `agentbox --help` and `agentbox agent -m hi`

Run: `python -m bench.turns` (add `--quick` for a smaller run).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.fakes import ROOT, fake_aimlapi_process


def _env(home: Path, base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"AGENTBOX_HOME": str(home), "AIMLAPI_API_KEY": "bench-key", "AIMLAPI_BASE_URL": base_url})
    return env


async def _pipeline(base_url: str, home: Path, turns: int, sessions: int, latency: float) -> dict[str, float]:
    os.environ.update(_env(home, base_url))
    from agentbox.config import load_config
    from agentbox.runtime import open_runtime
    from agentbox.turn.runner import TurnRequest

    config = load_config()
    durations: list[float] = []
    async with open_runtime(config) as rt:
        await rt.runner.run(TurnRequest("warmup", "hi"))

        async def one(i: int) -> None:
            start = time.perf_counter()
            result = await rt.runner.run(TurnRequest(f"bench:{i % sessions}", f"message {i}"))
            durations.append(time.perf_counter() - start)
            assert result.ok, result.reply

        async def session_worker(s: int) -> None:
            for i in range(s, turns, sessions):
                await one(i)

        start = time.perf_counter()
        await asyncio.gather(*(session_worker(s) for s in range(sessions)))
        wall = time.perf_counter() - start
    overhead = sorted(d - latency for d in durations)
    return {
        "turns": turns,
        "wall_s": wall,
        "turns_per_s": turns / wall,
        "overhead_p50_ms": 1000 * statistics.median(overhead),
        "overhead_p99_ms": 1000 * overhead[int(0.99 * (len(overhead) - 1))],
    }


# A fork of this (big) process would count our pages in the child's peak RSS until it execs:
# a tiny wrapper interpreter starts the command and reports its wall time and peak RSS instead.
_MEASURE = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
"""


def _run_child(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    wall, rss, code = out.stdout.split()
    if code != "0":
        raise RuntimeError(f"{args} failed")
    return float(wall), float(rss)


def _startup(base_url: str, home: Path, repeats: int) -> None:
    exe = str(Path(sys.executable).with_name("agentbox"))
    env = _env(home, base_url)
    for label, args in [("agentbox --help", [exe, "--help"]), ("agentbox agent -m hi", [exe, "agent", "-m", "hi"])]:
        runs = [_run_child(args, env) for _ in range(repeats)]
        walls = sorted(r[0] for r in runs)
        print(
            f"{label:24s} start-up median {statistics.median(walls) * 1000:7.0f} ms  "
            f"min {walls[0] * 1000:6.0f} ms  peak RSS {max(r[1] for r in runs):6.1f} MiB  ({repeats} runs)"
        )


def main() -> None:
    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        with fake_aimlapi_process(0.0) as url:
            stats = asyncio.run(_pipeline(url, home / "a", turns=200 if quick else 1000, sessions=20, latency=0.0))
            print(
                f"pipeline, fake at 0 ms:   {stats['turns_per_s']:7.1f} turns/s over {stats['turns']} turns "
                f"(20 concurrent sessions); overhead p50 {stats['overhead_p50_ms']:.1f} ms, "
                f"p99 {stats['overhead_p99_ms']:.1f} ms"
            )
            _startup(url, home / "b", 3 if quick else 7)
        with fake_aimlapi_process(0.2) as url:
            stats = asyncio.run(_pipeline(url, home / "c", turns=50 if quick else 200, sessions=1, latency=0.2))
            print(
                f"pipeline, fake at 200 ms: overhead per turn p50 {stats['overhead_p50_ms']:.1f} ms, "
                f"p99 {stats['overhead_p99_ms']:.1f} ms ({stats['turns']} sequential turns)"
            )
        with fake_aimlapi_process(1.0) as url:
            n = 200 if quick else 1000
            stats = asyncio.run(_pipeline(url, home / "d", turns=n, sessions=n, latency=1.0))
            print(
                f"{n} sessions x 1 turn, fake at 1 s: wall {stats['wall_s']:.2f} s "
                f"(overhead p50 {stats['overhead_p50_ms']:.0f} ms, p99 {stats['overhead_p99_ms']:.0f} ms)"
            )


if __name__ == "__main__":
    main()
