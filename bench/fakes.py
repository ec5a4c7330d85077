"""Run a fake server in its own process, so benchmark figures are not skewed by sharing a GIL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SERVER = """
import sys
from tests.fakes.aimlapi import FakeAimlapi
fake = FakeAimlapi(latency=float(sys.argv[1]), stream_meta=True).start()
print(fake.url, flush=True)
sys.stdin.read()  # until the parent closes our stdin
fake.stop()
"""


@contextmanager
def fake_aimlapi_process(latency: float = 0.0) -> Iterator[str]:
    """Yields the base URL (`.../v1`) of a FakeAimlapi running in a child process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(latency)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            raise RuntimeError("fake AI/ML API did not start")
        yield url + "/v1"
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
