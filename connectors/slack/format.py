"""Markdown (as models write it) → Slack mrkdwn, and Slack message text → plain text.

Slack treats `&`, `<` and `>` as control characters: every literal one must be sent as
`&amp;`, `&lt;` or `&gt;`. The converter escapes all of them, so the only raw `<...>` in
its output are the links it builds itself (`<https://url|text>`) and the only raw `>` is
the blockquote marker at the start of a line. Model text can therefore never ping
`<!channel>` or forge a mention.
"""

from __future__ import annotations

import re

from agentbox.messages import Mention

__all__ = ["escape", "markdown_to_mrkdwn", "mrkdwn_to_text", "with_mention"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(\[[ xX]\]\s+)?(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,9})[.)]\s+(.*)$")
_QUOTE = re.compile(r"^ {0,3}(?:>\s*)+(.*)$")  # Slack has no nested quotes: one level
_RULE = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")

# Inline tokens, tried in this order at each position: code spans, images, links, autolinks.
_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_body>.+?)(?P=code)"
    r"|!\[(?P<img_alt>[^\]]*)\]\((?P<img_url>[^)\s]+)(?:\s+\"[^\"]*\")?\)"
    r"|\[(?P<link_text>[^\]]+)\]\((?P<link_url>[^)\s]+)(?:\s+\"[^\"]*\")?\)"
    r"|<(?P<auto_url>https?://[^>\s]+)>"
)
_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s<>|]+$", re.IGNORECASE)

# Emphasis runs on already-escaped text, so `*`, `_` and `~` are the only markup left.
_BOLD_ITALIC = re.compile(r"\*\*\*(?=\S)(.+?)(?<=\S)\*\*\*")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
# Private-use characters stand in for Slack's `*` while single-star italics are rewritten.
_BOLD_MARK = "\ue000"


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def with_mention(chunks: list[str], mention: Mention | None) -> list[str]:
    """mrkdwn `chunks`, the first led by `<@USER>` so Slack notifies that user.

    Added after conversion, which escapes every `<`: only this code, never model text, mentions.
    """
    if mention is None or not _USER_ID.match(mention.user_id):
        return chunks
    tag = f"<@{mention.user_id}>"
    return [f"{tag} {chunks[0]}", *chunks[1:]] if chunks else [tag]


def escape(text: str) -> str:
    """Escape Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _emphasis(escaped: str) -> str:
    text = _BOLD_ITALIC.sub(lambda m: f"{_BOLD_MARK}_{m.group(1)}_{_BOLD_MARK}", escaped)
    text = _BOLD.sub(lambda m: f"{_BOLD_MARK}{m.group(2)}{_BOLD_MARK}", text)
    text = _ITALIC_STAR.sub(lambda m: f"_{m.group(1)}_", text)
    text = _STRIKE.sub(lambda m: f"~{m.group(1)}~", text)
    return text.replace(_BOLD_MARK, "*")


def _link(url: str, label: str) -> str:
    """`<url|label>` when the URL is safe inside Slack's syntax, else readable plain text."""
    label_text = _emphasis(escape(label.replace("|", "/"))) if label else ""
    if _SAFE_URL.match(url):
        target = escape(url)
        return f"<{target}|{label_text}>" if label_text and label != url else f"<{target}>"
    return f"{label_text} ({escape(url)})" if label_text else escape(url)


def _inline(line: str) -> str:
    """Convert one line of Markdown prose (no block syntax) to mrkdwn."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(line):
        out.append(_emphasis(escape(line[position : match.start()])))
        if match.group("code") is not None:
            body = match.group("code_body").replace("`", "'")
            out.append(f"`{escape(body)}`" if body.strip() else escape(match.group(0)))
        elif match.group("img_url") is not None:
            out.append(_link(match.group("img_url"), match.group("img_alt") or "image"))
        elif match.group("link_url") is not None:
            out.append(_link(match.group("link_url"), match.group("link_text")))
        else:
            out.append(_link(match.group("auto_url"), ""))
        position = match.end()
    out.append(_emphasis(escape(line[position:])))
    return "".join(out)


def _strip_emphasis_markers(text: str) -> str:
    """Headings become bold; inner `**` would toggle bold off, so drop it."""
    return text.replace("**", "").replace("__", "")


def _block_line(line: str) -> str:
    if _RULE.match(line):
        return "──────────"
    if heading := _HEADING.match(line):
        title = _inline(_strip_emphasis_markers(heading.group(2)))
        return f"*{title}*" if title.strip() else ""
    if bullet := _BULLET.match(line):
        indent, checkbox, body = bullet.groups()
        box = ""
        if checkbox:
            box = "☑ " if checkbox.strip()[1] in "xX" else "☐ "
        return f"{indent}• {box}{_inline(body)}"
    if ordered := _ORDERED.match(line):
        indent, number, body = ordered.groups()
        return f"{indent}{number}. {_inline(body)}"
    if quote := _QUOTE.match(line):
        # Slack's own quote syntax: a raw `>` at the start of the line.
        return f"> {_block_line(quote.group(1))}" if quote.group(1).strip() else ">"
    return _inline(line)


def markdown_to_mrkdwn(markdown: str) -> str:
    """Convert Markdown to Slack mrkdwn: bold, italics, strike, links, code, lists, headings, quotes.

    Tables become code blocks (Slack has no tables); code block content is escaped but
    otherwise verbatim; an unclosed fence is closed at the end.
    """
    lines = markdown.replace("\r\n", "\n").replace(_BOLD_MARK, "").split("\n")
    out: list[str] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                out.append("```")
                fence = None
            else:
                out.append(escape(line.replace("```", "'''")))
            index += 1
            continue
        if opening := _FENCE.match(line):
            fence = opening.group(1)
            out.append("```")
            index += 1
            continue
        if _TABLE_ROW.match(line) and index + 1 < len(lines) and _TABLE_SEPARATOR.match(lines[index + 1]):
            table: list[str] = []
            while index < len(lines) and _TABLE_ROW.match(lines[index]):
                table.append(escape(lines[index].strip().replace("```", "'''")))
                index += 1
            out.extend(["```", *table, "```"])
            continue
        out.append(_block_line(line))
        index += 1
    if fence is not None:
        out.append("```")
    return "\n".join(out)


_SLACK_TOKEN = re.compile(r"<([^<>]*)>")


def _token_to_text(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        special = target[1:].split("^")[0]
        return f"@{label or special}"
    if label and label != target:
        return f"{label} ({target})"
    return target


def mrkdwn_to_text(text: str, *, strip_user: str | None = None) -> str:
    """Turn Slack message text into plain text for the model.

    `<@U123>` becomes `@U123`, `<url|label>` becomes `label (url)`, entities are unescaped;
    mentions of `strip_user` (the bot itself) are removed.
    """
    if strip_user:
        text = re.sub(rf"<@{re.escape(strip_user)}(\|[^>]*)?>\s*", "", text)
    text = _SLACK_TOKEN.sub(_token_to_text, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()
