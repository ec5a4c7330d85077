"""`agentbox dashboard`: a one-time login link from the running gateway (and `--open` hands it to a browser)."""

from __future__ import annotations

import asyncio
import re
import stat
from pathlib import Path
from typing import Any

import aiohttp

from tests.clirun import invoke_cli
from tests.gatewaykit import wait_until
from tests.helpers import cli_env
from tests.webkit import HTML, running_panel


async def test_dashboard_prints_a_link_that_logs_in_once(fake_aimlapi: Any, home: Path, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    env = cli_env(home, fake_aimlapi, BROWSER=str(browser))
    async with running_panel(fake_aimlapi, home) as panel:
        printed = await asyncio.to_thread(invoke_cli, "dashboard", "--open", env=env)
        assert printed.returncode == 0, printed.stderr
        [url] = re.findall(r"http://\S+", printed.stdout)
        assert url.startswith(panel.base + "/login/") and "works once, within 10 minutes" in printed.stdout
        await wait_until(lambda: opened.exists() and opened.read_text().strip())
        assert opened.read_text().strip() == url  # --open gave the browser the same link
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(url, headers=HTML) as answer:
                assert answer.status == 200 and "Needs your attention" in await answer.text()
            async with http.get(url, headers=HTML, allow_redirects=False) as answer:
                assert answer.status == 403


async def test_dashboard_explains_a_missing_gateway_or_panel(fake_aimlapi: Any, home: Path) -> None:
    env = cli_env(home, fake_aimlapi)
    missing = invoke_cli("dashboard", env=env)
    assert missing.returncode == 1 and "no gateway running" in missing.stderr
    async with running_panel(fake_aimlapi, home, config="[web]\nenabled = false\n"):
        disabled = await asyncio.to_thread(invoke_cli, "dashboard", env=env)
    assert disabled.returncode == 1 and "set enabled = true under [web]" in disabled.stderr
