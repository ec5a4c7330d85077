"""The `http_request` tool: the HTTP calls curl-style skills describe, without a shell.

Many OpenClaw skills are a page of `curl` commands against one API. This tool lets the model
make those calls itself, with three rules that keep the owner's secrets the owner's:

- the model names the skill whose instructions it follows (`skill`), which must be one of the
  agent's ready, enabled skills;
- secrets appear only as placeholders (`${NOTION_API_KEY}`, or `$NOTION_API_KEY` for a variable
  the skill may read) in the URL, headers, query, form or body; agentbox fills them in after the
  model has written the call, and only from the env vars that skill declares or the owner
  granted it (`[skills.config.<name>] env`). The model never sees a value, and a secret that
  comes back in a response is masked;
- a request that carries a secret may go only to a host the skill's own files name (its API),
  or one the owner lists in `[skills.config.<name>] http_hosts`; redirects elsewhere are not
  followed. A prompt-injected model cannot post a key to a host of its choosing.

Every request passes the SSRF guard of web page vision, with a time limit
(`[skills] http_timeout`) and a response size limit (`[skills] http_max_response_bytes`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import aiohttp
from pydantic_ai import RunContext
from pydantic_ai.toolsets import FunctionToolset

from agentbox.config import Config
from agentbox.errors import AgentboxError
from agentbox.redaction import register_secrets, scrub_error
from agentbox.skillkit.gating import allowed_env, lookup_env, skill_settings
from agentbox.skillkit.httpguard import Answer, HttpPolicy, Outgoing, exchange
from agentbox.skillkit.model import Skill
from agentbox.skillkit.netguard import BlockedURL, is_public
from agentbox.skillkit.skillfiles import list_files
from agentbox.turn.deps import TurnDeps

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)")
URL_HOST = re.compile(r"https?://([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)", re.I)
SCANNED_SUFFIXES = frozenset({".md", ".txt", ".json", ".yaml", ".yml", ".toml", ".py", ".sh", ".js", ".ts", ".mjs"})
SCAN_LIMIT = 2_000_000  # bytes of a skill's files searched for the hosts it names
MAX_REQUEST_BODY = 1_000_000
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class RequestRefused(AgentboxError):
    """The http_request call breaks a rule (unknown skill, undeclared secret, host not allowed); nothing was sent."""


class SecretFiller:
    """Fills `${VAR}` placeholders with one skill's env vars, remembering which it used."""

    def __init__(self, skill: Skill, config: Config) -> None:
        self.skill = skill
        self.config = config
        self.allowed = allowed_env(skill, config)
        self.used: set[str] = set()

    def fill(self, text: str) -> str:
        return PLACEHOLDER.sub(self._value, text)

    def fill_tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.fill(value)
        if isinstance(value, list):
            return [self.fill_tree(item) for item in value]
        if isinstance(value, dict):
            return {key: self.fill_tree(item) for key, item in value.items()}
        return value

    def _value(self, match: re.Match[str]) -> str:
        braced, bare = match.group(1), match.group(2)
        var = braced or bare
        if var not in self.allowed:
            if bare:
                return match.group(0)  # "$USD" in a text is not a placeholder unless the skill may read USD
            raise RequestRefused(
                f"skill {self.skill.name!r} did not declare env {var}; the owner can grant it with "
                f'[skills.config.{self.skill.name}] env = {{{var} = "{var}"}}'
            )
        value = lookup_env(self.config, self.skill.name, var)
        if not value:
            raise RequestRefused(f"env {var} (declared by skill {self.skill.name!r}) is not set; tell the owner")
        register_secrets(value)
        self.used.add(var)
        return value


def named_hosts(skill: Skill, config: Config) -> frozenset[str]:
    """Hosts a request carrying this skill's secrets may reach: those its files name, and `http_hosts`."""
    hosts = {host.lower() for host in _configured_hosts(config, skill.name)}
    budget = SCAN_LIMIT
    for relative in [skill.manifest, *list_files(skill.path)]:
        path = skill.path / relative
        if path.suffix.lower() not in SCANNED_SUFFIXES or budget <= 0:
            continue
        try:
            text = path.read_bytes()[:budget].decode("utf-8", errors="replace")
        except OSError:
            continue
        budget -= len(text)
        hosts.update(host.lower().rstrip(".") for host in URL_HOST.findall(text))
    return frozenset(hosts)


def _configured_hosts(config: Config, skill_name: str) -> list[str]:
    value = skill_settings(config, skill_name).get("http_hosts")
    return [str(item) for item in value] if isinstance(value, list) else []


def host_allowed(host: str, hosts: frozenset[str]) -> bool:
    """The host, or a domain it belongs to, is one of `hosts` (api.notion.com belongs to notion.com)."""
    host = host.lower().rstrip(".")
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


def build_request(
    filler: SecretFiller,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    query: Mapping[str, str] | None,
    json: Any,
    form: Mapping[str, str] | None,
    body: str | None,
) -> Outgoing:
    """The outgoing request with placeholders filled; RequestRefused on a bad combination."""
    if sum(part is not None for part in (json, form, body)) > 1:
        raise RequestRefused("give at most one of json, form and body")
    if body is not None and len(body) > MAX_REQUEST_BODY:
        raise RequestRefused(f"the body is larger than {MAX_REQUEST_BODY} characters")
    full_url = filler.fill(url.strip())
    if query:
        full_url += ("&" if urlsplit(full_url).query else "?") + urlencode(
            {filler.fill(str(k)): filler.fill(str(v)) for k, v in query.items()}
        )
    return Outgoing(
        method=method,
        url=full_url,
        headers={str(k): filler.fill(str(v)) for k, v in (headers or {}).items()},
        json=filler.fill_tree(json) if json is not None else None,
        form={str(k): filler.fill(str(v)) for k, v in form.items()} if form is not None else None,
        body=filler.fill(body) if body is not None else None,
    )


def render(answer: Answer) -> str:
    """The response as the model reads it: status line, useful headers, then the (capped) body."""
    lines = [f"HTTP {answer.status} {answer.reason}".rstrip()]
    for name in ("content-type", "location", "retry-after"):
        if name in answer.headers:
            lines.append(f"{name}: {answer.headers[name]}")
    if answer.stopped_redirect:
        lines.append(
            f"(redirect to {answer.stopped_redirect} not followed: the request carried the skill's secrets "
            "and that host is not one the skill names)"
        )
    content_type = answer.headers.get("content-type", "").lower()
    is_text = not content_type or any(kind in content_type for kind in TEXT_TYPES)
    if answer.body and (not is_text or b"\x00" in answer.body[:4096]):
        lines.append(f"\n(binary body: {len(answer.body)} bytes of {content_type or 'unknown type'}, not shown)")
    elif answer.body:
        lines.append("\n" + answer.body.decode("utf-8", errors="replace"))
    if answer.truncated:
        lines.append(f"\n(body cut at {len(answer.body)} bytes)")
    return "\n".join(lines)


def add_http_request(toolset: FunctionToolset[TurnDeps], lookup: Callable[[str], Skill]) -> None:
    """Register `http_request` on the skills toolset; `lookup` resolves (and checks) the skill name."""
    host_cache: dict[Path, frozenset[str]] = {}

    @toolset.tool
    async def http_request(
        ctx: RunContext[TurnDeps],
        skill: str,
        url: str,
        method: Method = "GET",
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        json: Any = None,
        form: dict[str, str] | None = None,
        body: str | None = None,
    ) -> str:
        """Make an HTTP request that a skill's instructions describe (use it instead of curl).

        Args:
            skill: The name of the skill whose instructions you are following.
            url: The full http(s) URL.
            method: GET, POST, PUT, PATCH or DELETE.
            headers: Request headers. Write secrets as placeholders, e.g. {"Authorization": "Bearer ${NOTION_API_KEY}"}: agentbox fills in the skill's env vars; never ask for or write a secret's value.
            query: Query-string parameters added to the URL.
            json: A JSON body.
            form: A form body (application/x-www-form-urlencoded).
            body: A raw text body (set Content-Type in headers).
        """
        found = lookup(skill)
        config = ctx.deps.config
        filler = SecretFiller(found, config)
        try:
            outgoing = build_request(filler, method, url, headers, query, json, form, body)
            hosts = host_cache.get(found.path)
            if filler.used:
                hosts = host_cache[found.path] = hosts or named_hosts(found, config)
                target = urlsplit(outgoing.url).hostname or ""
                if not host_allowed(target, hosts):
                    raise RequestRefused(
                        f"{target} is not a host skill {found.name!r} names, so its secrets are not sent there; "
                        f"the owner can allow it with [skills.config.{found.name}] http_hosts = [{target!r}]"
                    )
            policy = HttpPolicy(
                timeout=config.skills.http_timeout,
                max_bytes=config.skills.http_max_response_bytes,
                allowed=None if config.skills.allow_private_urls else is_public,
                may_follow=(lambda host: host_allowed(host, hosts or frozenset())) if filler.used else lambda _: True,
            )
            return render(await exchange(outgoing, policy))
        except (RequestRefused, BlockedURL) as exc:
            return f"refused: {exc}"
        except TimeoutError:
            return f"request failed: no complete answer within {config.skills.http_timeout:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
            return f"request failed: {scrub_error(reason)}"
