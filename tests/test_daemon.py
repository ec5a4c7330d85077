"""`agentbox daemon`: the generated unit and plist, and best-effort service manager calls."""

from __future__ import annotations

import plistlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from agentbox.ops import daemon
from agentbox.ops.daemon import LAUNCHD_LABEL, UserService, launchd_plist, systemd_unit
from tests.clirun import invoke_cli
from tests.helpers import cli_env


def test_systemd_unit_content() -> None:
    unit = systemd_unit(Path("/opt/my env/bin/agentbox"), {"AGENTBOX_HOME": "/home/u/.agentbox"}, stop_timeout=30)
    lines = unit.splitlines()
    assert 'ExecStart="/opt/my env/bin/agentbox" gateway run' in lines
    assert 'Environment="AGENTBOX_HOME=/home/u/.agentbox"' in lines
    assert "Restart=on-failure" in lines and "TimeoutStopSec=30" in lines and "WantedBy=default.target" in lines
    assert lines.index("[Unit]") < lines.index("[Service]") < lines.index("[Install]")


def test_systemd_escapes_percent_and_quotes() -> None:
    unit = systemd_unit(Path("/x/agentbox"), {"AGENTBOX_HOME": '/h/100%"x'})
    assert 'Environment="AGENTBOX_HOME=/h/100%%\\"x"' in unit


def test_launchd_plist_content(tmp_path: Path) -> None:
    data = plistlib.loads(
        launchd_plist(Path("/opt/bin/agentbox"), {"AGENTBOX_HOME": "/Users/u/.agentbox"}, tmp_path).encode()
    )
    assert data["Label"] == LAUNCHD_LABEL
    assert data["ProgramArguments"] == ["/opt/bin/agentbox", "gateway", "run"]
    assert data["EnvironmentVariables"] == {"AGENTBOX_HOME": "/Users/u/.agentbox"}
    assert data["KeepAlive"] == {"SuccessfulExit": False} and data["RunAtLoad"] is True


class Recorder:
    def __init__(self, returncode: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(cmd))
        return subprocess.CompletedProcess(list(cmd), self.returncode, "active\n", "")


def test_install_start_uninstall_on_linux(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(daemon.shutil, "which", lambda name: f"/usr/bin/{name}")
    runner = Recorder()
    service = UserService("linux", run=runner, home=tmp_path)
    result = service.install(start=True)
    unit_path = tmp_path / "xdg" / "systemd" / "user" / "agentbox.service"
    assert result.ok and unit_path.exists()
    assert f'Environment="AGENTBOX_HOME={home}"' in unit_path.read_text()
    assert runner.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "agentbox.service"],
        ["systemctl", "--user", "reset-failed", "agentbox.service"],  # a re-install starts afresh
        ["systemctl", "--user", "restart", "agentbox.service"],
    ]
    assert service.status().ok
    assert service.uninstall().ok and not unit_path.exists()
    assert ["systemctl", "--user", "disable", "--now", "agentbox.service"] in runner.calls


def test_missing_systemctl_is_reported_not_fatal(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(daemon.shutil, "which", lambda name: None)
    result = UserService("linux", run=Recorder(), home=tmp_path).install(start=True)
    assert not result.ok and any("systemctl not found" in m for m in result.messages)
    assert (tmp_path / "xdg" / "systemd" / "user" / "agentbox.service").exists()


def test_macos_install_writes_plist_and_bootstraps(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon.shutil, "which", lambda name: f"/bin/{name}")
    runner = Recorder()
    result = UserService("darwin", run=runner, home=tmp_path).install(start=True)
    plist = tmp_path / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    assert result.ok and plistlib.loads(plist.read_bytes())["ProgramArguments"][1:] == ["gateway", "run"]
    assert runner.calls[0][:2] == ["launchctl", "bootstrap"]


def test_cli_install_no_start(home: Path, tmp_path: Path) -> None:
    env = cli_env(home, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    (home / ".env").write_text(f"AIMLAPI_API_KEY={env['AIMLAPI_API_KEY']}\n")  # where the service reads it
    done = invoke_cli("daemon", "install", "--no-start", env=env)
    assert done.returncode == 0, done.stderr
    unit = (tmp_path / "xdg" / "systemd" / "user" / "agentbox.service").read_text()
    assert "gateway run" in unit and "TimeoutStopSec=30" in unit  # grace_period 20 s + 10
    exec_path = unit.split('ExecStart="', 1)[1].split('"', 1)[0]
    assert Path(exec_path).is_absolute() and Path(exec_path).name == "agentbox"
    status = invoke_cli("daemon", "status", env=env)
    assert "Installed:" in status.stdout
