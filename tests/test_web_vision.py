"""Web page vision: the SSRF guard (URL check and guarding proxy) and an end-to-end run in real Chromium."""

from __future__ import annotations

import base64
import importlib.util
import ipaddress
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agentbox.skillkit.guardproxy import GuardProxy
from agentbox.skillkit.netguard import BlockedURL, check_url, is_public
from agentbox.turn.runner import TurnRequest
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import runtime_on
from tests.skills_helpers import tool_outputs

# -- the URL check ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "javascript:alert(1)",
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://10.0.0.5/",
        "http://172.16.3.4/",
        "http://192.168.1.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http:///nohost",
    ],
)
async def test_private_and_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedURL):
        await check_url(url)


async def test_public_literal_address_passes_and_private_allowed_when_configured() -> None:
    assert await check_url("https://93.184.216.34/page") == "93.184.216.34"
    assert await check_url("http://127.0.0.1:9/", allow_private=True) == "127.0.0.1"


async def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def mixed(host: str) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address("93.184.216.34"), ipaddress.IPv4Address("10.1.2.3")]

    monkeypatch.setattr("agentbox.skillkit.netguard.resolve", mixed)
    with pytest.raises(BlockedURL, match=r"10\.1\.2\.3"):
        await check_url("https://rebind.example/")


def test_is_public_handles_mapped_ipv6() -> None:
    assert not is_public(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert is_public(ipaddress.ip_address("2606:4700::1111"))


# -- a local site: a page, an image, a redirect to a "private" address ------------------------

PAGE = b"""<html><head><title>Agentbox test page</title></head>
<body style="background:#fff"><h1>Hello agentbox</h1><p>Plan: Pro, 12 EUR per month</p></body></html>"""


class Site:
    def __init__(self, host: str) -> None:
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.append(self.path)
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", self.path.split("to=", 1)[1])
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(PAGE)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site("127.0.0.1")
    yield s
    s.close()


@pytest.fixture
def private_site() -> Iterator[Site]:
    s = Site("127.0.0.2")  # stands in for an internal service the guard must protect
    yield s
    s.close()


def only_127_0_0_1(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return str(address) == "127.0.0.1"


async def test_guard_proxy_blocks_redirects_to_private_addresses(site: Site, private_site: Site) -> None:
    async with GuardProxy(address_allowed=only_127_0_0_1) as proxy:
        async with httpx.AsyncClient(proxy=proxy.url, follow_redirects=True) as client:
            ok = await client.get(site.url + "/page")
            assert ok.status_code == 200 and b"Hello agentbox" in ok.content
            blocked = await client.get(f"{site.url}/redirect?to={private_site.url}/secret")
    assert blocked.status_code == 403 and blocked.headers["x-agentbox-blocked"] == "1"
    assert private_site.hits == []
    assert proxy.blocked == ["127.0.0.2 resolves to 127.0.0.2, a private/loopback/link-local/reserved address"]


# -- real Chromium (skipped with a reason when absent) -----------------------------------------

CHROMIUM = next((p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or importlib.util.find_spec("playwright") is None,
    reason="web page vision e2e needs Debian's chromium and the playwright package (apt install chromium; "
    "pip install playwright)",
)


@needs_browser
async def test_web_page_vision_end_to_end(fake_aimlapi, home: Path, site: Site) -> None:
    fake_aimlapi.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "view_web_page",
                    {"url": site.url + "/pricing", "question": "What plan is shown?", "send_screenshot": True},
                )
            ]
        ),
        Reply(text="The page shows the Pro plan at 12 EUR per month."),
        Reply(text="It is the Pro plan, 12 EUR a month."),
    )
    cfg = f'[skills]\nallow_private_urls = true\nchromium_path = "{CHROMIUM}"\nvision_model = "gpt-4o"\n'
    async with runtime_on(fake_aimlapi, home, cfg) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:vision", text="what's on this page?"))
    assert result.ok, result.error
    assert result.reply == "It is the Pro plan, 12 EUR a month."
    assert "/pricing" in site.hits
    vision = fake_aimlapi.chat_requests()[1]
    assert vision["model"] == "gpt-4o"
    text_part, image_part = vision["messages"][-1]["content"]
    assert "Title: Agentbox test page" in text_part["text"] and "What plan is shown?" in text_part["text"]
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]).startswith(b"\x89PNG")
    output = tool_outputs(fake_aimlapi.last_chat())[0]
    assert "The page shows the Pro plan at 12 EUR per month." in output
    [shot] = result.attachments
    assert shot.kind == "image" and shot.path and shot.path.endswith(".png")


@needs_browser
async def test_browser_redirect_to_private_address_is_refused(site: Site, private_site: Site) -> None:
    from agentbox.skillkit.loader import load_skill
    from agentbox.skillkit.registry import bundled_root
    from agentbox.skillkit.toolsets import import_tools_module

    module = import_tools_module(load_skill(bundled_root() / "web-page-vision", "bundled"))
    take_screenshot, page_error = module.take_screenshot, module.PageError
    shot = await take_screenshot(
        site.url + "/", executable=CHROMIUM, allow_private=False, address_allowed=only_127_0_0_1
    )
    assert shot.title == "Agentbox test page"
    with pytest.raises(page_error, match=r"refused: 127\.0\.0\.2 resolves to 127\.0\.0\.2"):
        await take_screenshot(
            f"{site.url}/redirect?to={private_site.url}/secret",
            executable=CHROMIUM,
            allow_private=False,
            address_allowed=only_127_0_0_1,
        )
    assert private_site.hits == []


@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="the skill needs the playwright package")
async def test_tool_refuses_private_url_without_opening_a_browser(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("view_web_page", {"url": "http://169.254.169.254/latest", "question": "?"})]),
        Reply(text="I can't open that."),
    )
    async with runtime_on(fake_aimlapi, home, '[skills]\nchromium_path = "/bin/true"\n') as rt:
        await rt.runner.run(TurnRequest(session_key="t:ssrf", text="open the metadata page"))
    output = tool_outputs(fake_aimlapi.last_chat())[0]
    assert output.startswith("Refused to open http://169.254.169.254/latest:")
