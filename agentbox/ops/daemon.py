"""The gateway as a user service: a systemd user unit (Linux) or a launchd agent (macOS).

The unit/plist content is generated here and tested by content. Calling systemctl/launchctl is
best effort: where they are missing the file is still written and the message says what to do.
Secrets are never written into the unit: the gateway reads config.toml and `.env` itself.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentbox import paths

UNIT_NAME = "agentbox.service"
LAUNCHD_LABEL = "dev.agentbox.gateway"

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)


def agentbox_executable() -> Path:
    """The absolute path of this installation's `agentbox` script (a venv's, not whatever is on PATH)."""
    beside = Path(sys.executable).parent / "agentbox"
    if beside.exists():
        return beside.absolute()
    found = shutil.which("agentbox")
    if found:
        return Path(found).resolve()
    return Path(sys.argv[0]).resolve()


def service_env() -> dict[str, str]:
    env = {"AGENTBOX_HOME": str(paths.home().absolute())}
    if config := os.environ.get("AGENTBOX_CONFIG"):
        env["AGENTBOX_CONFIG"] = str(Path(config).expanduser().absolute())
    return env


def _systemd_quote(value: str) -> str:
    # systemd expands % specifiers and splits on spaces; quote and escape both.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


def systemd_unit(executable: Path, env: dict[str, str], *, stop_timeout: float = 30.0) -> str:
    environment = "\n".join(f"Environment={_systemd_quote(f'{k}={v}')}" for k, v in sorted(env.items()))
    return f"""[Unit]
Description=agentbox assistant gateway
After=network-online.target
Wants=network-online.target
# A gateway that keeps crashing (bad token, broken config) stops retrying instead of looping forever.
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=simple
ExecStart={_systemd_quote(str(executable))} gateway run
{environment}
Restart=on-failure
RestartSec=5
# SIGTERM lets running turns finish within [gateway] grace_period.
KillSignal=SIGTERM
TimeoutStopSec={int(stop_timeout)}
UMask=0077

[Install]
WantedBy=default.target
"""


def launchd_plist(executable: Path, env: dict[str, str], log_dir: Path) -> str:
    data = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [str(executable), "gateway", "run"],
        "EnvironmentVariables": env,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a crash, not after a clean stop
        "ThrottleInterval": 10,
        "ProcessType": "Background",
        "Umask": 0o077,
        "StandardErrorPath": str(log_dir / "launchd.err.log"),
        "StandardOutPath": str(log_dir / "launchd.out.log"),
    }
    return plistlib.dumps(data).decode()


@dataclass(slots=True)
class ServiceResult:
    """The outcome of an `agentbox daemon` action: whether it worked, and the lines to show the user."""

    ok: bool
    messages: list[str]


class UserService:
    """install / uninstall / status for the current platform ("linux" or "darwin")."""

    def __init__(self, platform: str | None = None, run: Runner = _run, home: Path | None = None) -> None:
        self.platform = platform or sys.platform
        self.run = run
        self.user_home = home or Path.home()

    @property
    def supported(self) -> bool:
        return self.platform.startswith(("linux", "darwin"))

    @property
    def path(self) -> Path:
        if self.platform == "darwin":
            return self.user_home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        config_home = os.environ.get("XDG_CONFIG_HOME") or str(self.user_home / ".config")
        return Path(config_home) / "systemd" / "user" / UNIT_NAME

    def render(self, *, stop_timeout: float = 30.0) -> str:
        exe, env = agentbox_executable(), service_env()
        if self.platform == "darwin":
            return launchd_plist(exe, env, paths.home().absolute() / "logs")
        return systemd_unit(exe, env, stop_timeout=stop_timeout)

    def _tool(self, name: str, args: list[str], messages: list[str]) -> bool:
        if shutil.which(name) is None:
            messages.append(f"{name} not found: the service file is written but not loaded.")
            return False
        try:
            done = self.run([name, *args])
        except (OSError, subprocess.SubprocessError) as exc:
            messages.append(f"`{name} {' '.join(args)}` could not run: {exc}")
            return False
        if done.returncode != 0:
            err = (done.stderr or done.stdout).strip().splitlines()
            messages.append(f"`{name} {' '.join(args)}` failed: {err[-1] if err else f'exit {done.returncode}'}")
            return False
        return True

    def install(self, *, start: bool = True, stop_timeout: float = 30.0) -> ServiceResult:
        if not self.supported:
            return ServiceResult(False, [f"no user service support on {self.platform}: run `agentbox gateway run`"])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.render(stop_timeout=stop_timeout), encoding="utf-8")
        messages = [f"Wrote {self.path}"]
        if not start:
            messages.append("Not started (--no-start).")
            return ServiceResult(True, messages)
        if self.platform == "darwin":
            uid = os.getuid()
            ok = self._tool("launchctl", ["bootstrap", f"gui/{uid}", str(self.path)], messages)
            if ok:
                messages.append(f"Loaded {LAUNCHD_LABEL}; it starts at login and restarts after a crash.")
            return ServiceResult(ok, messages)
        ok = self._tool("systemctl", ["--user", "daemon-reload"], messages) and self._tool(
            "systemctl", ["--user", "enable", UNIT_NAME], messages
        )
        if ok:
            # A re-install (say, after the key was fixed) must start afresh: `enable --now` would leave a
            # running or crash-looping unit as it is, so clear the start limit (best effort) and restart.
            self._tool("systemctl", ["--user", "reset-failed", UNIT_NAME], [])
            ok = self._tool("systemctl", ["--user", "restart", UNIT_NAME], messages)
        if ok:
            messages.append(f"Started {UNIT_NAME}. To keep it running after you log out: loginctl enable-linger $USER")
        else:
            messages.append("Start it by hand: systemctl --user enable --now agentbox.service")
        return ServiceResult(ok, messages)

    def uninstall(self) -> ServiceResult:
        messages: list[str] = []
        if self.platform == "darwin":
            self._tool("launchctl", ["bootout", f"gui/{os.getuid()}/{LAUNCHD_LABEL}"], messages)
        elif self.supported:
            self._tool("systemctl", ["--user", "disable", "--now", UNIT_NAME], messages)
        if self.path.exists():
            self.path.unlink()
            messages.append(f"Removed {self.path}")
            if self.platform != "darwin":
                self._tool("systemctl", ["--user", "daemon-reload"], messages)
        else:
            messages.append(f"No service file at {self.path}")
        return ServiceResult(True, messages)

    def status(self) -> ServiceResult:
        if not self.path.exists():
            return ServiceResult(False, [f"Not installed ({self.path} absent): `agentbox daemon install`"])
        messages = [f"Installed: {self.path}"]
        if self.platform == "darwin":
            cmd = ["launchctl", "print", f"gui/{os.getuid()}/{LAUNCHD_LABEL}"]
        else:
            cmd = ["systemctl", "--user", "is-active", UNIT_NAME]
        if shutil.which(cmd[0]) is None:
            messages.append(f"{cmd[0]} not found: cannot tell whether it runs.")
            return ServiceResult(False, messages)
        done = self.run(cmd)
        state = (done.stdout or done.stderr).strip().splitlines()
        active = done.returncode == 0
        messages.append(f"State: {'running' if active else 'not running'} ({state[0] if state else done.returncode})")
        return ServiceResult(active, messages)
