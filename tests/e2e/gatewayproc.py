"""Run a real `agentbox gateway run` subprocess against the fakes, and wait on conditions with deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import cli_env, write_config


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy and return it; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def gateway_config(fake_telegram: Any, extra: str = "") -> str:
    return (
        "[channels.telegram]\n"
        "enabled = true\n"
        f'api_base_url = "{fake_telegram.url}"\n'
        "poll_timeout = 1\n"
        f"{extra}\n"
        "[gateway]\n"
        "port = 0\n"
        "grace_period = 5\n"
        "outbox_retry_initial = 0.2\n"  # the outbox tests wait out its backoff
    )


class GatewayProcess:
    """`agentbox gateway run` in a subprocess; stderr goes to a log file the assertions can show."""

    def __init__(self, home: Path, env: dict[str, str], channel: str = "telegram") -> None:
        self.home = home
        self.env = env
        self.channel = channel  # whose connector state means "ready"
        self.log_path = home.parent / f"gateway-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # closed in terminate()/kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentbox.cli.main", "gateway", "run"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def status(self, token: str | None = "file") -> tuple[int, dict[str, Any]]:
        """GET /status; `token="file"` reads AGENTBOX_HOME/gateway.token, None sends no token."""
        bound = json.loads((self.home / "gateway.json").read_text())
        headers = {}
        if token == "file":
            token = (self.home / "gateway.token").read_text().strip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"http://127.0.0.1:{bound['port']}/status", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def connector_state(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.log}")
        try:
            if json.loads((self.home / "gateway.json").read_text())["pid"] != self.proc.pid:
                return None  # a previous gateway's file
            return str(self.status()[1]["connectors"][self.channel]["state"])
        except (OSError, ValueError, KeyError):
            return None

    def wait_ready(self, timeout: float = 20.0) -> GatewayProcess:
        wait_for(lambda: self.connector_state() == "ready", timeout, f"the gateway to be ready; log:\n{self.log}")
        return self

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._log.close()


def gateway_env(home: Path, fake_aimlapi: Any, fake_telegram: Any, **extra: str) -> dict[str, str]:
    run_dir = home.parent / "run"
    run_dir.mkdir(mode=0o700, exist_ok=True)
    # XDG_RUNTIME_DIR: the Telegram connector's per-token lock lives there; keep it per test.
    return cli_env(home, fake_aimlapi, TELEGRAM_BOT_TOKEN=fake_telegram.token, XDG_RUNTIME_DIR=str(run_dir), **extra)


def start_gateway(home: Path, fake_aimlapi: Any, fake_telegram: Any, extra_config: str = "") -> GatewayProcess:
    write_config(home, gateway_config(fake_telegram, extra_config))
    return GatewayProcess(home, gateway_env(home, fake_aimlapi, fake_telegram))


def alive(process: GatewayProcess) -> bool:
    return process.proc.poll() is None and os.path.exists(process.home / "gateway.json")
