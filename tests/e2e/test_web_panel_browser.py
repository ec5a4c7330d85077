"""The web panel in a real browser: Debian's Chromium driven by Playwright against a real
`agentbox gateway run` process, the real Telegram connector on the fake Bot API and the fake AI/ML API.

One owner's session, page by page: log in through the one-time link `agentbox dashboard` prints,
approve a stranger and see their next message answered on Telegram, chat with a streamed answer
(an image in and out, a tool call shown collapsed), open a transcript, read the usage chart's
totals, and see a request without the CSRF token and one with a forged Host refused. Every page
is saved as a screenshot under the test's temporary directory (look at them when changing pages).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentbox.humanize import money
from tests.e2e.gatewayproc import GatewayProcess, start_gateway, wait_for
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import png_bytes, run_cli

CHROMIUM = next((p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or importlib.util.find_spec("playwright") is None,
        reason="the web panel's browser test needs Debian's chromium and the playwright package "
        "(apt install chromium; pip install -e '.[test]'); CI installs both",
    ),
]
# As the project runs Chromium elsewhere: no sandbox as root, nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
STRANGER = 555000111
MARKDOWN_REPLY = (
    "Here is **your plan**:\n\n| day | task |\n|---|---|\n| Mon | write |\n\n"
    "<script>window.owned = 1</script> <b>not bold</b> and [a link](javascript:alert(1)). "
    + " ".join(f"word{i}" for i in range(40))
)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def login_link(gateway: GatewayProcess) -> str:
    printed = run_cli("dashboard", env=gateway.env)
    assert printed.returncode == 0, printed.stderr
    found = re.search(r"http://127\.0\.0\.1:\d+/login/\S+", printed.stdout)
    assert found, printed.stdout
    return found.group(0)


def shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def seed_turns(database: Path, rows: list[tuple[str, str, float, int, int]]) -> None:
    """Turns on earlier days (day, model, usd, tokens in, tokens out), as if answered then."""
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT OR IGNORE INTO sessions(key, channel, chat_id, agent, created_at, updated_at)"
            " VALUES ('telegram:dm:7', 'telegram', '7', 'main', 0, 0)"
        )
        for day, model, usd, tokens_in, tokens_out in rows:
            at = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() + 3600
            db.execute(
                "INSERT INTO turns(session_key, epoch, started_at, finished_at, status, model, sender_id,"
                " input_tokens, output_tokens, usd) VALUES ('telegram:dm:7', 0, ?, ?, 'ok', ?, '7', ?, ?, ?)",
                (at, at, model, tokens_in, tokens_out, usd),
            )


def recorded_usd(database: Path) -> float:
    with sqlite3.connect(database) as db:
        return float(db.execute("SELECT SUM(COALESCE(usd, 0)) FROM turns").fetchone()[0] or 0.0)


def days_ago(days: int) -> str:
    now = time.time()
    return datetime.fromtimestamp(now - now % 86400 - days * 86400, UTC).date().isoformat()


def test_the_owner_runs_the_gateway_from_a_browser(
    processes: list[Any], home: Path, fake_aimlapi: Any, fake_telegram: Any, tmp_path: Path, browser: Any
) -> None:
    screens = tmp_path / "screens"
    screens.mkdir()
    gateway = start_gateway(home, fake_aimlapi, fake_telegram)
    processes.append(gateway)
    gateway.wait_ready()
    base = "http://127.0.0.1:" + str(json.loads((home / "gateway.json").read_text())["port"])

    # A stranger writes and gets a pairing code.
    fake_telegram.push_text(
        STRANGER, "hello, can you help me?", from_id=STRANGER, username="stranger", first_name="Sam"
    )
    wait_for(lambda: any("pairing code" in t for t in fake_telegram.sent_messages(STRANGER)), what="a pairing code")

    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(base + "/")
    assert "You are not logged in" in page.content()  # no page without a login
    shot(page, screens, "0-not-logged-in")

    # Log in through the one-time link; the cookie is HttpOnly and SameSite=Strict.
    link = login_link(gateway)
    page.goto(link)
    assert page.url == base + "/"
    [cookie] = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    row = page.locator("#attention tr", has_text=str(STRANGER))
    assert row.count() == 1 and "stranger" in row.inner_text()
    shot(page, screens, "1-home")

    # Approve: the stranger is told, and their next message is answered through Telegram.
    row.get_by_role("button", name="Approve").click()
    assert f"Approved telegram sender {STRANGER}" in page.locator(".notice").inner_text()
    wait_for(lambda: any("approved" in t for t in fake_telegram.sent_messages(STRANGER)), what="the approval notice")
    fake_telegram.push_text(
        STRANGER, "what is the capital of France?", from_id=STRANGER, username="stranger", first_name="Sam"
    )
    wait_for(
        lambda: any("echo: what is the capital of France?" in t for t in fake_telegram.sent_messages(STRANGER)),
        what="the approved stranger's answer",
    )
    shot(page, screens, "2-approved")

    # The link worked once.
    other = browser.new_context().new_page()
    other.goto(link)
    assert "expired or was already used" in other.content()
    other.context.close()

    # Chat: an image in, a tool call, a streamed Markdown answer, an image out.
    fake_aimlapi.chunk_delay = 0.02
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a plan on paper"})]),
        Reply(text=MARKDOWN_REPLY),
    )
    page.goto(base + "/ui/chat")
    page.get_by_role("button", name="New chat").click()
    assert re.fullmatch(re.escape(base) + r"/ui/chat/[0-9a-f]{12}", page.url)
    chat_url = page.url
    picture = tmp_path / "photo.png"
    picture.write_bytes(png_bytes(40, 30))
    page.set_input_files("#composer input[type=file]", str(picture))
    page.fill("#composer textarea", "plan my week from this photo")
    page.keyboard.press("Enter")
    bubble = page.locator(".msg.bot").last
    bubble.locator("xpath=self::*[@data-done='1']").wait_for(timeout=30_000)
    assert int(bubble.get_attribute("data-deltas") or 0) > 5  # the answer arrived as many events
    assert bubble.locator("table td", has_text="write").count() == 1  # Markdown rendered
    assert "<b>not bold</b>" in bubble.inner_text() and page.evaluate("window.owned") is None
    assert bubble.locator("a[href^=javascript]").count() == 0 and bubble.locator("script").count() == 0
    assert bubble.locator("details.tool summary").inner_text().endswith("used generate_image")
    assert bubble.locator("details.tool").get_attribute("open") is None  # collapsed
    assert bubble.locator("img.out").evaluate("img => img.complete && img.naturalWidth > 0")
    sent_images = [
        p["image_url"]["url"] for p in fake_aimlapi.chat_requests()[-2]["messages"][-1]["content"] if "image_url" in p
    ]
    assert len(sent_images) == 1 and sent_images[0].startswith("data:image/png;base64,")
    shot(page, screens, "3-chat")

    # The chat is a session like any other: its transcript shows the same turn after a reload.
    page.goto(base + "/ui/sessions")
    shot(page, screens, "4-sessions")
    page.get_by_role("link", name=f"telegram:dm:{STRANGER}").click()
    assert page.locator(".msg.user .text", has_text="what is the capital of France?").count() == 1
    assert page.locator(".msg.bot", has_text="echo: what is the capital of France?").count() == 1
    shot(page, screens, "5-transcript")
    page.goto(base + "/ui/sessions?q=capital+of+France")
    assert page.locator(".hits li").count() == 1  # one turn: the question and its echoed answer

    # Usage: the chart's totals are what the turns recorded.
    seed_turns(
        home / "agentbox.db",
        [
            (days_ago(3), "gpt-4o", 1.25, 1000, 200),
            (days_ago(3), "claude", 0.5, 300, 30),
            (days_ago(10), "gpt-4o", 2.0, 5, 5),
        ],
    )
    page.goto(base + "/ui/usage")
    total = recorded_usd(home / "agentbox.db")
    assert page.locator("#total-usd").inner_text() == money(total)
    titles = page.locator("svg.chart rect.bar title").evaluate_all("nodes => nodes.map(n => n.textContent)")
    assert f"{days_ago(3)} · gpt-4o: $1.25" in titles and f"{days_ago(3)} · claude: $0.50" in titles
    assert f"{days_ago(10)} · gpt-4o: $2.00" in titles
    assert page.locator("#by-day tr", has_text=days_ago(3)).locator("td").last.text_content() == "$1.75"
    shot(page, screens, "6-usage")

    page.goto(base + "/ui/access")
    assert page.locator("tr", has_text=str(STRANGER)).get_by_role("button", name="Revoke").count() == 1
    shot(page, screens, "7-access")
    page.goto(base + "/ui/ops")
    assert "image-generation" in page.content()
    shot(page, screens, "8-operations")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    for path, name in [("/", "9-phone-home"), ("/ui/usage", "9-phone-usage"), (chat_url, "9-phone-chat")]:
        page.goto(base + path if path.startswith("/") else path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        shot(page, screens, name)
    page.set_viewport_size({"width": 1100, "height": 800})

    # A state-changing request without the CSRF token is refused, even with the session cookie.
    refused = page.evaluate(
        """async (sender) => {
            const r = await fetch('/ui/access/revoke', {method: 'POST',
                headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                body: 'channel=telegram&sender_id=' + sender});
            return [r.status, await r.text()];
        }""",
        STRANGER,
    )
    assert refused[0] == 403 and "CSRF token is missing" in refused[1]
    page.goto(base + "/ui/access")
    assert page.locator("tr", has_text=str(STRANGER)).get_by_role("button", name="Revoke").count() == 1

    # A page asked for under another name (DNS rebinding) is refused before anything else.
    forged = urllib.request.Request(base + "/", headers={"Host": "attacker.example:80", "Cookie": _cookie(context)})
    with pytest.raises(urllib.error.HTTPError) as refused_host:
        urllib.request.urlopen(forged, timeout=5)
    assert refused_host.value.code == 421
    context.close()
    assert gateway.terminate() == 0


def _cookie(context: Any) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
