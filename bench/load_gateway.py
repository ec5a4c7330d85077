"""Load benchmark (issue 7): a real `agentbox gateway run` process under 200 senders / 2,000 messages.

The messages go in through the fake Telegram Bot API (the real python-telegram-bot long-polls it)
as fast as the gateway takes them; the fake AI/ML API answers `echo: <text>` after 0 ms and after
500 ms. For each run it prints:

  - throughput: messages answered per second (first message queued → last answer sent)
  - gateway overhead per message, p50/p95/p99: the time a message spends in agentbox outside the
    model call and outside its own session's queue = (model request start − the moment it could
    start: max(queued, previous answer in its chat)) + (answer sent − model reply done)
  - peak memory (VmHWM) of the gateway process
  - the check: every message got exactly one answer, in per-chat order

Streaming edits are off and batching of queued messages is off, so one message ⇒ one turn ⇒ one
sendMessage (what the check counts). The fakes share this process; their time counts as overhead.

Run: `python -m bench.load_gateway` (`--quick`: 20 senders, 200 messages).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from tests.e2e.gatewayproc import GatewayProcess, gateway_config, gateway_env  # noqa: E402
from tests.fakes.aimlapi import FakeAimlapi  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.helpers import write_config  # noqa: E402

FIRST_SENDER = 100_000_000


class TimedTelegram(FakeTelegram):
    """The fake Bot API, also noting when each answer arrived (monotonic clock, like the fakes' logs)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.answers: list[tuple[float, int, str]] = []
        self._answers_lock = threading.Lock()

    async def _m_sendmessage(self, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        result = await super()._m_sendmessage(params, uploads)
        with self._answers_lock:
            self.answers.append((time.monotonic(), int(params["chat_id"]), str(params.get("text") or "")))
        return result


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _wait_answers(telegram: TimedTelegram, total: int, *, stall: float = 30.0) -> None:
    """Until every message is answered, or no answer came for `stall` seconds (lost ones are reported)."""
    last_count, last_change = -1, time.monotonic()
    while len(telegram.answers) < total and time.monotonic() - last_change < stall:
        if len(telegram.answers) != last_count:
            last_count, last_change = len(telegram.answers), time.monotonic()
        time.sleep(0.2)


def _inbox_counts(home: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{home / 'agentbox.db'}?mode=ro", uri=True, timeout=30)
    try:
        return dict(conn.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall())
    finally:
        conn.close()


def run(senders: int, messages: int, latency: float, keep: Path | None = None) -> dict[str, Any]:
    per_sender = messages // senders
    with (
        nullcontext(tempfile.mkdtemp(dir=keep)) if keep else tempfile.TemporaryDirectory() as tmp,
        FakeAimlapi(latency=latency) as aimlapi,
        TimedTelegram() as telegram,
    ):
        home = Path(tmp) / "home"
        home.mkdir(mode=0o700)
        extra = "dm_policy = 'open'\nstreaming = 'off'"
        write_config(home, gateway_config(telegram, extra) + "batch_queued = false\n")
        gateway = GatewayProcess(home, gateway_env(home, aimlapi, telegram))
        try:
            gateway.wait_ready(timeout=60)
            sent_at: dict[str, float] = {}
            order: dict[int, list[str]] = defaultdict(list)
            started = time.monotonic()
            for i in range(per_sender):  # round-robin: every chat has work queued from the start
                for s in range(senders):
                    chat = FIRST_SENDER + s
                    text = f"s{s}-m{i}"
                    sent_at[text] = time.monotonic()
                    telegram.push_text(chat, text, from_id=chat, username=None, first_name=f"u{s}")
                    order[chat].append(text)
            total = per_sender * senders
            _wait_answers(telegram, total)
            time.sleep(1.0)  # any duplicate would arrive now
            inbox = _inbox_counts(home)
            finished = max(t for t, _, _ in telegram.answers)
            peak = _peak_rss_mib(gateway.proc.pid)
        finally:
            exit_code = gateway.terminate()
        model_start = {}
        for request in aimlapi.requests_to("/chat/completions"):
            user = [m for m in request.json["messages"] if m["role"] == "user"][-1]["content"]
            model_start.setdefault(user if isinstance(user, str) else json.dumps(user), request.time)

    answers: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for t, chat, text in sorted(telegram.answers):
        answers[chat].append((t, text))
    in_order = all([text for _, text in answers[chat]] == [f"echo: {m}" for m in order[chat]] for chat in order)
    exactly_one = sum(len(v) for v in answers.values()) == total and set(answers) == set(order)
    answered_at = {text.removeprefix("echo: "): t for t, _, text in telegram.answers}
    overheads = []
    for texts in order.values():
        previous_answer = 0.0
        for text in texts:
            if text not in answered_at:
                continue  # lost: counted in `answered`, not in the overhead figures
            ready = max(sent_at[text], previous_answer)
            begin = model_start.get(text, ready)
            overheads.append((begin - ready) + (answered_at[text] - (begin + latency)))
            previous_answer = answered_at[text]
    ms = [o * 1000 for o in overheads]
    return {
        "latency_ms": latency * 1000,
        "messages": total,
        "answered": sum(len(v) for v in answers.values()),
        "inbox": inbox,
        "senders": senders,
        "seconds": finished - started,
        "throughput": len(telegram.answers) / (finished - started),
        "overhead_p50_ms": percentile(ms, 50),
        "overhead_p95_ms": percentile(ms, 95),
        "overhead_p99_ms": percentile(ms, 99),
        "overhead_mean_ms": statistics.fmean(ms),
        "peak_rss_mib": peak,
        "exactly_one_answer_in_order": exactly_one and in_order,
        "gateway_exit": exit_code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 senders, 200 messages")
    parser.add_argument("--latency", type=float, nargs="*", default=[0.0, 0.5], help="fake model latencies (s)")
    parser.add_argument("--keep", type=Path, help="keep each run's AGENTBOX_HOME (logs, database) under this folder")
    args = parser.parse_args()
    senders, messages = (20, 200) if args.quick else (200, 2000)
    ok = True
    for latency in args.latency:
        r = run(senders, messages, latency, args.keep)
        ok = ok and r["exactly_one_answer_in_order"]
        print(
            f"model {r['latency_ms']:.0f} ms: {r['messages']} messages from {r['senders']} senders in "
            f"{r['seconds']:.1f} s = {r['throughput']:.0f} msg/s; overhead p50 {r['overhead_p50_ms']:.0f} ms, "
            f"p95 {r['overhead_p95_ms']:.0f} ms, p99 {r['overhead_p99_ms']:.0f} ms; peak RSS "
            f"{r['peak_rss_mib']:.0f} MiB; answered {r['answered']} (inbox {r['inbox']}); "
            f"exactly one answer in order: {r['exactly_one_answer_in_order']}; "
            f"gateway exit {r['gateway_exit']}",
            flush=True,
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
