"""`agentbox doctor`: would the installed user service start with every secret it needs?

Only checked when a unit (systemd) or agent (launchd) is installed for this AGENTBOX_HOME.
"""

from __future__ import annotations

import plistlib
import re
from pathlib import Path

from agentbox import paths
from agentbox.ops.doctor import Check
from agentbox.ops.servicesecrets import describe_gap, service_secrets

_SYSTEMD_HOME = re.compile(r'^Environment="AGENTBOX_HOME=(.*)"$', re.MULTILINE)


def _home_in(text: str, plist: bool) -> str | None:
    if plist:
        try:
            return str(plistlib.loads(text.encode()).get("EnvironmentVariables", {}).get("AGENTBOX_HOME") or "")
        except (plistlib.InvalidFileException, ValueError):
            return None
    match = _SYSTEMD_HOME.search(text)
    return match.group(1).replace('\\"', '"').replace("\\\\", "\\").replace("%%", "%") if match else None


def check_service() -> list[Check]:
    from agentbox.ops.daemon import UserService

    service = UserService()
    if not service.supported or not service.path.exists():
        return []
    try:
        text = service.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Check("service", "warn", f"cannot read {service.path}: {exc}")]
    home = _home_in(text, plist=service.platform == "darwin")
    if home and Path(home) != paths.home().absolute():
        return [Check("service", "ok", f"{service.path} runs another home ({home}); not checked here")]
    gap = [secret for secret in service_secrets(unit_text=text) if not secret.reachable]
    if not gap:
        return [Check("service", "ok", f"{service.path}: the service can read the API key and every token")]
    shell_only = [secret.env_name for secret in gap if secret.where == "shell only"]
    fix = (
        f"`agentbox daemon install --store-key` saves {', '.join(shell_only)} to .env (0600) and restarts it"
        if shell_only
        else f"add NAME=value lines for them to {paths.home() / '.env'}, then `agentbox daemon install`"
    )
    return [Check("service", "fail", f"the installed service would start without them: {describe_gap(gap)}", fix)]
