"""Shared fixtures: fake platform servers on 127.0.0.1, an isolated AGENTBOX_HOME, a real store."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: it is a wall-clock assertion, and this suite runs on shared, noisy machines
# (a 48 ms example once took 384 ms under load). CI runs each property test on the same examples every
# time (a red build must be reproducible); locally hypothesis explores new examples on every run.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")


E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ runs real gateway processes: mark it `e2e` (see pyproject's markers)."""
    for item in items:
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the internet: refuse connections to anything but loopback."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _own_lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-token locks live in a per-user directory; each test gets its own, so two test runs on
    one machine (or a developer's running gateway) never hold each other's fake tokens."""
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))


@pytest.fixture(autouse=True)
def _no_secrets_from_earlier_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts, like a process, knowing no secret: the shared redactor would otherwise
    collect every earlier test's keys and tokens, and each one slows the scan of a long text."""
    from agentbox import redaction

    monkeypatch.setattr(redaction, "_shared", redaction.Redactor())


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AGENTBOX_HOME; no config file, no stray env from the developer's shell."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("AGENTBOX_HOME", str(path))
    for name in list(os.environ):
        if name.startswith(("AIMLAPI_", "TELEGRAM_", "SLACK_", "DISCORD_")) or name == "AGENTBOX_CONFIG":
            monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
async def store(home: Path) -> AsyncIterator[object]:
    from agentbox.store import Store

    db = await Store.open(home / "agentbox.db")
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def fake_aimlapi() -> Iterator[object]:
    from tests.fakes.aimlapi import FakeAimlapi

    with FakeAimlapi() as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[object]:
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def fake_slack() -> Iterator[object]:
    from tests.fakes.slack import FakeSlack

    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def fake_discord() -> Iterator[object]:
    from tests.fakes.discord import FakeDiscord

    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def processes() -> Iterator[list[object]]:
    """Gateway subprocesses a test starts (append them); any still running at the end are killed."""
    started: list[object] = []
    yield started
    for process in started:
        if process.proc.poll() is None:  # type: ignore[attr-defined]
            process.kill()  # type: ignore[attr-defined]
