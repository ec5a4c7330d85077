"""Gateway benchmark: a real `agentbox gateway run` process, the fake Telegram, a zero-latency fake model.

    python -m bench.gateway [--messages 300] [--senders 50]

Reports: sequential round trips (one message at a time: end-to-end latency p50/p99, which with a
zero-latency model is the gateway's overhead plus Telegram long-poll and send), throughput with
many senders at once (messages per second end to end), and the gateway's RSS idle and loaded.
Not part of the test suite; prints one small table.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.stats import percentile
from tests.e2e.gatewayproc import start_gateway, wait_for
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.telegram import FakeTelegram

_TAG = re.compile(r"bench-[a-z]+[0-9]*")


def rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Replies:
    """Tag → arrival time of the sendMessage answering it; scans only new requests (cheap polling)."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self._telegram = telegram
        self._seen = 0
        self.times: dict[str, float] = {}

    def __call__(self) -> dict[str, float]:
        requests = self._telegram.requests[self._seen :]
        self._seen += len(requests)
        for request in requests:
            if request.path.endswith("/sendMessage"):
                for tag in _TAG.findall(request.text):  # a batched answer echoes several messages
                    self.times.setdefault(tag, request.time)
        return self.times


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--sequential", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeAimlapi() as model, FakeTelegram() as telegram:
        home = Path(tmp) / "home"
        home.mkdir()
        gateway = start_gateway(home, model, telegram, "dm_policy = 'open'\nstreaming = 'off'")
        try:
            gateway.wait_ready(timeout=60)
            time.sleep(1.0)
            idle = rss_mb(gateway.proc.pid)

            # warm-up turn (first request opens connections)
            reply_times = Replies(telegram)
            telegram.push_text(1, "bench-warm")
            wait_for(lambda: "bench-warm" in reply_times(), 30, "warm-up")

            latencies: list[float] = []
            for i in range(args.sequential):
                tag = f"bench-seq{i}"
                sent = time.monotonic()
                telegram.push_text(2, tag)
                arrived = wait_for(lambda tag=tag: reply_times().get(tag), 30, tag)
                latencies.append(arrived - sent)

            peak = [0.0]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], rss_mb(gateway.proc.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            tags = [f"bench-load{i}" for i in range(args.messages)]
            start = time.monotonic()
            cpu_before = cpu_seconds(gateway.proc.pid)
            for i, tag in enumerate(tags):
                telegram.push_text(1000 + i % args.senders, tag, from_id=1000 + i % args.senders)
            wait_for(lambda: all(t in reply_times() for t in tags), 120, "all load replies")
            times = reply_times()
            elapsed = max(times[t] for t in tags) - start
            cpu = cpu_seconds(gateway.proc.pid) - cpu_before
            done.set()
            sampler.join()
            loaded = peak[0]
            chat_requests = len(model.chat_requests())
        finally:
            gateway.terminate()
    rows: list[tuple[str, Any]] = [
        ("sequential round trip p50", f"{statistics.median(latencies) * 1000:.1f} ms"),
        ("sequential round trip p99", f"{percentile(latencies, 99) * 1000:.1f} ms"),
        (f"throughput ({args.messages} msgs, {args.senders} senders)", f"{args.messages / elapsed:.1f} msg/s"),
        ("model requests during load", f"{chat_requests - args.sequential - 1} (batched queued messages)"),
        ("gateway CPU during load", f"{cpu:.1f} s of {elapsed:.1f} s ({cpu / args.messages * 1000:.1f} ms/msg)"),
        ("RSS idle", f"{idle:.1f} MB"),
        ("RSS peak under load", f"{loaded:.1f} MB"),
    ]
    for name, value in rows:
        print(f"{name:<45} {value}")


if __name__ == "__main__":
    main()
