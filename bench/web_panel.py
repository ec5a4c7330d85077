"""Web panel benchmark: page weight and speed from a warm gateway (a real `agentbox gateway run` process).

    python -m bench.web_panel [--sessions 300] [--turns 6000] [--requests 40]

The database is seeded with realistic history first (sessions over 30 days, several models and
senders, three pending pairing requests). Reports, per page: the HTML size and the server's
response time (p50/p95 over `--requests` warm requests); the first page's whole weight (HTML +
CSS + script); and, when Debian's Chromium is installed, what a browser measures for the landing
page once its static files are cached: DOMContentLoaded, first contentful paint and load.
The issue's budget: the first page under 100 KB, rendered in under 300 ms. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.stats import percentile
from tests.e2e.gatewayproc import start_gateway
from tests.fakes.aimlapi import FakeAimlapi
from tests.fakes.telegram import FakeTelegram
from tests.helpers import run_cli

PAGES = ["/", "/ui/access", "/ui/sessions", "/ui/usage", "/ui/ops", "/ui/chat", "/ui/sessions?q=invoice"]
MODELS = ["gpt-4o-mini", "gpt-4o", "anthropic/claude-sonnet-4.6", "google/gemini-3-flash-preview", "flux/schnell"]
WORDS = "the invoice meeting plan travel code review budget photo recipe weather schedule answer".split()


def seed(database: Path, sessions: int, turns: int, rng: random.Random) -> None:
    now = time.time()
    with sqlite3.connect(database) as db:
        for i in range(sessions):
            db.execute(
                "INSERT OR IGNORE INTO sessions(key, channel, chat_id, agent, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (
                    f"telegram:dm:{1000 + i}",
                    "telegram",
                    str(1000 + i),
                    "main",
                    now - 30 * 86400,
                    now - rng.random() * 86400,
                ),
            )
        rows = []
        for _ in range(turns):
            i = rng.randrange(sessions)
            at = now - rng.random() * 30 * 86400
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
            rows.append(
                (f"telegram:dm:{1000 + i}", at, at + 2, rng.choice(MODELS), str(1000 + i % 40), text, text * 3,
                 rng.randint(200, 8000), rng.randint(20, 900), rng.random() * 0.02)
            )  # fmt: skip
        db.executemany(
            "INSERT INTO turns(session_key, epoch, started_at, finished_at, status, model, sender_id, user_text, reply,"
            " input_tokens, output_tokens, usd) VALUES (?, 0, ?, ?, 'ok', ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        for n in range(3):
            db.execute(
                "INSERT INTO pairing_requests(channel, sender_id, sender_name, code, created_at, expires_at, chat_id)"
                " VALUES ('telegram', ?, ?, ?, ?, ?, ?)",
                (str(9000 + n), f"stranger{n}", f"ABCDEF{n}{n}", now, now + 3600, str(9000 + n)),
            )


def fetch(url: str, cookie: str) -> tuple[float, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie, "Accept": "text/html"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read()
    return time.perf_counter() - started, body


def login(base: str, env: dict[str, str]) -> str:
    """The session cookie a browser gets from `agentbox dashboard`'s link."""
    printed = run_cli("dashboard", env=env)
    link = re.search(r"http://\S+/login/\S+", printed.stdout)
    assert link, printed.stdout + printed.stderr

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    try:
        urllib.request.build_opener(Keep).open(link.group(0), timeout=10)
    except urllib.error.HTTPError as answer:  # the 303 carries the cookie
        return str(answer.headers["Set-Cookie"]).split(";", 1)[0]
    raise AssertionError("the login link did not redirect")


def server_times(base: str, cookie: str, requests: int) -> None:
    print(f"{'page':<24} {'HTML KB':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for page in PAGES:
        for _ in range(3):  # warm: templates compiled, SQLite pages cached
            fetch(base + page, cookie)
        timings, body = [], b""
        for _ in range(requests):
            seconds, body = fetch(base + page, cookie)
            timings.append(seconds * 1000)
        print(f"{page:<24} {len(body) / 1024:>8.1f} {percentile(timings, 50):>8.1f} {percentile(timings, 95):>8.1f}")


def first_page_weight(base: str, cookie: str) -> None:
    _, html = fetch(base + "/", cookie)
    assets = re.findall(rb'(?:href|src)="(/ui/static/[^"]+)"', html)
    total = len(html) + sum(len(fetch(base + asset.decode(), cookie)[1]) for asset in assets)
    print(f"\nfirst page weight (HTML + {len(assets)} static files): {total / 1024:.1f} KB (budget 100 KB)")


def browser_times(base: str, cookie: str, loads: int = 10) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("browser: no chromium here (apt install chromium); skipped")
        return
    from playwright.sync_api import sync_playwright

    name, value = cookie.split("=", 1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context()
        context.add_cookies([{"name": name, "value": value, "url": base + "/"}])
        page = context.new_page()
        page.goto(base + "/")  # warm: static files cached (immutable)
        marks: dict[str, list[float]] = {"domcontentloaded": [], "first paint": [], "load": []}
        for _ in range(loads):
            page.goto(base + "/", wait_until="load")
            timing = json.loads(
                page.evaluate(
                    "JSON.stringify({nav: performance.getEntriesByType('navigation')[0].toJSON(),"
                    " paint: performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)})"
                )
            )
            marks["domcontentloaded"].append(timing["nav"]["domContentLoadedEventEnd"])
            marks["load"].append(timing["nav"]["loadEventEnd"])
            if timing["paint"]:
                marks["first paint"].append(timing["paint"][0])
        browser.close()
    print(f"\nbrowser (Chromium, warm gateway, cached static files; {loads} loads of /):")
    for mark, values in marks.items():
        if values:
            print(f"  {mark:<17} p50 {percentile(values, 50):6.1f} ms   max {max(values):6.1f} ms (budget 300 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--turns", type=int, default=6000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    rng = random.Random(18)
    with tempfile.TemporaryDirectory() as tmp, FakeAimlapi() as aimlapi, FakeTelegram() as telegram:
        home = Path(tmp) / "home"
        home.mkdir()
        gateway = start_gateway(home, aimlapi, telegram)
        try:
            gateway.wait_ready(timeout=60)
            seed(home / "agentbox.db", args.sessions, args.turns, rng)
            base = "http://127.0.0.1:" + str(json.loads((home / "gateway.json").read_text())["port"])
            cookie = login(base, gateway.env)
            print(f"web panel: {args.sessions} sessions, {args.turns} turns over 30 days, 3 pending pairings\n")
            server_times(base, cookie, args.requests)
            first_page_weight(base, cookie)
            browser_times(base, cookie)
        finally:
            gateway.terminate()


if __name__ == "__main__":
    main()
