"""Pages from templates (Jinja2, autoescaped), Markdown rendered safely, and the static files' URLs.

Model output is Markdown written by a model that may have read anything: it is rendered with
raw HTML off (tags show as text), links limited to markdown-it's safe schemes (no
`javascript:`), and the page's Content-Security-Policy keeps remote images and any script out.
"""

from __future__ import annotations

import functools
import hashlib
import time
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web
from markupsafe import Markup

from agentbox.humanize import money

if TYPE_CHECKING:
    import jinja2
    from markdown_it import MarkdownIt

STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png"}


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        tokens[idx].attrSet("target", "_blank")
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


def markdown_html(text: str) -> Markup:
    """Markdown as HTML with no raw HTML from the text itself."""
    return Markup(_markdown().render(text or ""))


def static_bytes(name: str) -> bytes | None:
    """A shipped static file, or None for anything else (no paths, no dot files)."""
    if "/" in name or "\\" in name or name.startswith(".") or not any(name.endswith(ext) for ext in STATIC_TYPES):
        return None
    return _static_bytes(name)


@functools.cache
def _static_bytes(name: str) -> bytes | None:
    try:
        return (resources.files("agentbox.web") / "static" / name).read_bytes()
    except OSError:
        return None


@functools.cache
def static_url(name: str) -> str:
    """`/ui/static/<name>?v=<hash>`: cached for a year, and a new release changes the URL."""
    data = static_bytes(name) or b""
    return f"/ui/static/{name}?v={hashlib.sha256(data).hexdigest()[:12]}"


def ago(timestamp: float | None, now: float | None = None) -> str:
    """`3 min ago`, `2 h ago`, `5 d ago` (`just now` under a minute)."""
    if not timestamp:
        return "never"
    seconds = max(0, int((now or time.time()) - timestamp))
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def utc_time(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def tokens(count: int | float) -> str:
    """`950`, `12.3k`, `4.5M`: token counts at a glance."""
    count = int(count)
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 10_000:
        return f"{count / 1000:.0f}k"
    if count >= 1000:
        return f"{count / 1000:.1f}k"
    return str(count)


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agentbox.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(money=money, ago=ago, utc=utc_time, tokens=tokens, markdown=markdown_html)
    env.globals.update(static=static_url)
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def page(name: str, *, status: int = 200, **context: Any) -> web.Response:
    return web.Response(text=render(name, **context), status=status, content_type="text/html", charset="utf-8")
