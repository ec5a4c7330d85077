"""A static check of a skill folder for the patterns of known malicious skills, before it is installed.

The ClawHavoc campaign (early 2026) published hundreds of ClawHub skills whose "prerequisites"
told the user or the agent to paste a command: base64 text decoded into a shell, `curl ... | sh`
from a bare IP address, a password-protected zip, quarantine removal on macOS; others read SSH
keys, cloud credentials, browser data or wallets and posted them to a webhook. These rules look
for exactly those shapes in every text file of the skill. A finding is a reason to read the file,
not proof of malice; no finding is not proof of safety. Nothing here runs the skill's code.

`danger` findings stop `agentbox skills install` unless `--force`; `warn` findings are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentbox.skillkit.skillfiles import list_files

Severity = Literal["danger", "warn"]
MAX_FILE = 1_000_000  # bytes of one file scanned
MAX_TOTAL = 20_000_000
EXECUTABLE_MAGIC = (b"\x7fELF", b"MZ", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern, what it means, and how serious it is."""

    name: str
    severity: Severity
    pattern: re.Pattern[str]
    meaning: str


def _rule(name: str, severity: Severity, pattern: str, meaning: str, *, exact_case: bool = False) -> Rule:
    return Rule(name, severity, re.compile(pattern, 0 if exact_case else re.IGNORECASE), meaning)


SHELLS = r"(?:sudo\s+)?(?:ba|z|k|da)?sh\b|python[23]?\b|perl\b|node\b|ruby\b"
RULES: tuple[Rule, ...] = (
    _rule(
        "pipe-to-shell",
        "danger",
        rf"\b(?:curl|wget|fetch)\b[^\n|]*\|\s*(?:{SHELLS})|\b(?:iwr|irm|invoke-webrequest)\b[^\n]*\|\s*iex\b",
        "downloads a script and runs it unseen",
    ),
    _rule(
        "decoded-to-shell",
        "danger",
        rf"base64\s+(?:-d|-D|--decode)\b[^\n]*\|\s*(?:{SHELLS})|\|\s*base64\s+(?:-d|-D|--decode)\b[^\n]*\|\s*(?:{SHELLS})",
        "decodes hidden text and runs it as a program",
    ),
    _rule(
        "eval-decoded",
        "danger",
        r"\b(?:exec|eval)\s*\(\s*(?:base64\.b64decode|atob|bytes\.fromhex|codecs\.decode|zlib\.decompress)|"
        r"\beval\s+\"?\$\((?:echo|printf)\b",
        "runs code it decodes at run time (obfuscated)",
    ),
    _rule(
        "reverse-shell",
        "danger",
        r"/dev/tcp/|\bnc\b[^\n]*\s-e\s|\bbash\s+-i\s*>&|\bmkfifo\b[^\n]*\bnc\b",
        "opens a shell to a remote machine",
    ),
    _rule(
        "quarantine-removal",
        "danger",
        r"\bxattr\b[^\n]*(?:-c\b|-d\s+com\.apple\.quarantine|-r\s+-d)|\bspctl\s+--master-disable",
        "switches off macOS protection for a downloaded program",
    ),
    _rule(
        "credential-files",
        "danger",
        r"\.ssh/id_|\.aws/credentials|\.config/gcloud|\.kube/config|\.docker/config\.json|\.git-credentials|"
        r"\.netrc\b|/etc/shadow|Library/Keychains|security\s+find-(?:generic|internet)-password|"
        r"Login Data|Local State|cookies\.sqlite|wallet\.dat|\.(?:clawdbot|openclaw|moltbot|agentbox)/(?:\.env|credentials)",
        "reads credential, key, browser or wallet files",
        exact_case=True,  # "Local State" is Chrome's file, "local state" is prose
    ),
    _rule(
        "raw-ip-download",
        "warn",
        r"\b(?:curl|wget|iwr|invoke-webrequest)\b[^\n]*https?://\d{1,3}(?:\.\d{1,3}){3}",
        "downloads from a bare IP address",
    ),
    _rule(
        "password-archive",
        "warn",
        r"\b(?:zip|archive|rar|7z)\b[^\n]{0,80}\bpassword\b|\bpassword\b[^\n]{0,80}\.(?:zip|rar|7z)\b",
        "a password-protected archive (hides its content from scanners)",
    ),
    _rule(
        "paste-site",
        "warn",
        r"\b(?:glot\.io|pastebin\.com|rentry\.co|webhook\.site|requestbin|pipedream\.net|discord(?:app)?\.com/api/webhooks)\b",
        "a paste site or webhook (where stolen data or hidden scripts often go)",
    ),
    _rule("base64-blob", "warn", r"[A-Za-z0-9+/]{240,}={0,2}", "a long base64 blob (content hidden from a reader)"),
    _rule("hex-escapes", "warn", r"(?:\\x[0-9a-f]{2}){16,}", "a long run of hex escapes (obfuscated text)"),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One match: which rule, where, and the line it is on (trimmed)."""

    rule: str
    severity: Severity
    meaning: str
    file: str
    line: int
    excerpt: str

    def render(self) -> str:
        return f"{self.severity}: {self.file}:{self.line}: {self.meaning} [{self.rule}]\n    {self.excerpt}"


def scan_text(text: str, file: str) -> list[Finding]:
    """Every rule's matches in one file's text (one finding per rule and line)."""
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for rule in RULES:
            if rule.pattern.search(line):
                excerpt = " ".join(line.split())
                excerpt = excerpt if len(excerpt) <= 120 else excerpt[:117] + "..."
                findings.append(Finding(rule.name, rule.severity, rule.meaning, file, number, excerpt))
    return findings


def scan_folder(folder: Path) -> list[Finding]:
    """Scan every file of a skill folder; dangerous findings first."""
    findings: list[Finding] = []
    budget = MAX_TOTAL
    for relative in list_files(folder, limit=10_000, hidden=True):
        try:
            with open(folder / relative, "rb") as handle:
                data = handle.read(min(MAX_FILE, budget))
        except OSError:
            continue
        budget -= len(data)
        if data.startswith(EXECUTABLE_MAGIC):
            findings.append(Finding("executable", "warn", "a compiled program (cannot be read)", relative, 1, ""))
            continue
        if b"\x00" in data[:8192]:
            continue
        findings.extend(scan_text(data.decode("utf-8", errors="replace"), relative))
        if budget <= 0:
            break
    return sorted(findings, key=lambda f: (f.severity != "danger", f.file, f.line))
