"""The exact command that meets an unmet skill requirement, for this machine.

Every "unavailable: needs ..." that `skills list`, `doctor` and the chat show comes with one of
these, so nobody has to guess which package, extra or variable is meant. Commands name this
interpreter (`<python> -m pip`), so they install into the environment agentbox runs from.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from agentbox import paths

# Python modules that an agentbox extra provides: the extra is the supported way to get them.
EXTRAS: dict[str, str] = {"playwright": "browser"}
# Binaries whose package name or install channel differs by system.
CHROMIUM = {
    "debian": "sudo apt install chromium",
    "ubuntu": "sudo snap install chromium",
    "fedora": "sudo dnf install chromium",
    "arch": "sudo pacman -S chromium",
    "darwin": "brew install --cask chromium",
}


def shell_path(path: str | Path) -> str:
    """A path for a shell command line, `~/...` under the home folder (shorter, and no user name in a chat)."""
    text = str(path)
    home = str(Path.home())
    if text.startswith(home + os.sep) and shlex.quote(text) == text:
        return "~" + text[len(home) :]
    return shlex.quote(text)


def pip_install(module: str) -> str:
    """`<python> -m pip install 'playwright<2,>=1.65'`: the tested range agentbox's extra declares for the module.

    Never `'agentbox[extra]'`: agentbox is installed from its checkout, and that name on PyPI is
    another project, which pip would install over this one.
    """
    targets = _extra_requirements(EXTRAS[module]) if module in EXTRAS else []
    return f"{shell_path(sys.executable)} -m pip install {' '.join(shlex.quote(t) for t in targets or [module])}"


def _extra_requirements(extra: str) -> list[str]:
    """The requirements agentbox's installed metadata lists under `extra` (empty when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    try:
        declared = requires("agentbox") or []
    except PackageNotFoundError:
        return []
    chosen = [Requirement(line) for line in declared]
    return [f"{r.name}{r.specifier}" for r in chosen if r.marker is not None and r.marker.evaluate({"extra": extra})]


def os_family(os_release: Path = Path("/etc/os-release")) -> str:
    """ "darwin", or the Linux distribution family ("debian", "ubuntu", "fedora", "arch"), or ""."""
    if sys.platform == "darwin":
        return "darwin"
    try:
        fields = dict(line.split("=", 1) for line in os_release.read_text(encoding="utf-8").splitlines() if "=" in line)
    except OSError:
        return ""
    names = [fields.get("ID", "").strip('"'), *fields.get("ID_LIKE", "").strip('"').split()]
    for name in names:  # ID first: Ubuntu says ID_LIKE=debian but ships Chromium as a snap
        if name in CHROMIUM:
            return name
    return ""


def _as_root(command: str) -> str:
    return command.removeprefix("sudo ") if hasattr(os, "geteuid") and os.geteuid() == 0 else command


def binary_install(binary: str, family: str | None = None) -> str:
    """The command that installs a program on this system (a best guess for unknown programs)."""
    family = os_family() if family is None else family
    if binary == "chromium":
        command = CHROMIUM.get(family)
        where = "or set [skills] chromium_path in config.toml"
        return f"{_as_root(command)}, {where}" if command else f"install Chromium, {where}"
    if family == "darwin":
        return f"brew install {shlex.quote(binary)}"
    for tool, command in (("apt-get", "sudo apt install"), ("dnf", "sudo dnf install"), ("pacman", "sudo pacman -S")):
        if shutil.which(tool):
            return f"{_as_root(command)} {shlex.quote(binary)}, or install {binary} another way and put it on PATH"
    return f"install {binary} and put it on PATH"


def env_setting(var: str, skill: str) -> str:
    """Where a secret goes so that every agentbox command, the gateway service included, sees it."""
    if var == "AIMLAPI_API_KEY":
        return "agentbox onboard --api-key <key> (keys: https://aimlapi.com/app/keys)"
    return f"add {var}=<value> to {shell_path(paths.home() / '.env')} or to [skills.config.{skill}.env]"


def config_setting(key: str, skill: str) -> str:
    return f"set {key} in [skills.config.{skill}] of {shell_path(paths.config_path())}"
