"""Model Markdown → Telegram HTML, and splitting replies under Telegram's length limit.

Pure functions, no Telegram SDK. The converter never produces unbalanced tags: every
construct wraps a recursively converted substring in one matched tag pair, and all other
text is escaped. What it renders:

- `**bold**`, `__bold__` → <b>; `*italic*`, `_italic_` → <i>; `~~strike~~` → <s>
- `` `code` `` → <code>; fenced code blocks (with language) → <pre><code class="language-x">
- `[text](https://...)` → <a href>; other link schemes are written out as text
- headings → bold lines; `> quotes` → <blockquote>; bullet lists → "• " lines
- everything else is text with `<`, `>` and `&` escaped
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from agentbox.messages import Mention
from agentbox.textsplit import split_markdown, split_text

TELEGRAM_MAX_TEXT = 4096
TELEGRAM_MAX_CAPTION = 1024
_MAX_NESTING = 6  # deeper emphasis is written literally: bounds recursion on hostile input

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(.*)$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LINK = re.compile(r"\[([^\[\]\n]+)\]\(\s*<?([^\s()<>]+)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")
_ESCAPABLE = set("\\`*_{}[]()#+-.!~|>")
_LANGUAGE = re.compile(r"[^\w+#.-]")
_TAGS = re.compile(r"<[^>]*>")


def with_mention(markdown: str, mention: Mention | None) -> str:
    """`markdown` led by a link Telegram renders as a mention of that user (it notifies them).

    Only numeric user ids can be mentioned this way; any other mention is left out.
    """
    if mention is None or not mention.user_id.isdigit():
        return markdown
    label = re.sub(r"[\[\]()<>*_`~\\\n]", "", mention.name).strip() or "you"
    return f"[{label}](tg://user?id={mention.user_id}) {markdown}".rstrip()


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def visible_text(telegram_html: str) -> str:
    """The text a user sees for HTML this module produced (tags removed, entities decoded)."""
    return html.unescape(_TAGS.sub("", telegram_html))


# -- blocks --------------------------------------------------------------------
def markdown_to_html(markdown: str) -> str:
    """Convert Markdown as models write it to HTML that Telegram's parse_mode=HTML accepts."""
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence := _FENCE.match(line):
            marker, language = fence.group(1), _LANGUAGE.sub("", fence.group(2))
            body: list[str] = []
            i += 1
            # an unclosed fence runs to the end, as in CommonMark
            while i < len(lines) and not _closes(lines[i], marker):
                body.append(lines[i])
                i += 1
            i += 1
            out.append(_code_block("\n".join(body), language))
            continue
        if quote := _QUOTE.match(line):
            quoted = [quote.group(1)]
            while i + 1 < len(lines) and (more := _QUOTE.match(lines[i + 1])):
                quoted.append(more.group(1))
                i += 1
            inner = _inline("\n".join(quoted))
            out.append(f"<blockquote>{inner}</blockquote>" if inner.strip() else inner)
        elif heading := _HEADING.match(line):
            inner = _inline(heading.group(1))
            out.append(f"<b>{inner}</b>" if inner.strip() else inner)
        elif _RULE.match(line):
            out.append("──────────")
        elif bullet := _BULLET.match(line):
            out.append(f"{bullet.group(1)}• {_inline(bullet.group(2))}")
        else:
            out.append(_inline(line))
        i += 1
    return "\n".join(out)


def _closes(line: str, marker: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(marker) and set(stripped) == {marker[0]}


def _code_block(body: str, language: str) -> str:
    if not body.strip():
        return escape(body)  # an empty <pre> would be an empty entity; Telegram rejects blank messages
    if language:
        return f'<pre><code class="language-{language}">{escape(body)}</code></pre>'
    return f"<pre>{escape(body)}</pre>"


# -- inline --------------------------------------------------------------------
def _inline(text: str, depth: int = 0) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
            out.append(escape(text[i + 1]))
            i += 2
            continue
        if ch == "`":
            run = _run_length(text, i, "`")
            close = text.find("`" * run, i + run)
            while close != -1 and _run_length(text, close, "`") != run:
                close = text.find("`" * run, close + _run_length(text, close, "`"))
            content = text[i + run : close] if close != -1 else ""
            if close != -1 and content.strip():
                out.append(f"<code>{escape(content)}</code>")
                i = close + run
            else:
                out.append(escape(text[i : i + run]))
                i += run
            continue
        if ch == "[" and (link := _LINK.match(text, i)):
            label, url = link.group(1), link.group(2)
            inner = _inline(label, depth + 1) if depth < _MAX_NESTING else escape(label)
            if url.lower().startswith(_SAFE_SCHEMES) and visible_text(inner).strip():
                out.append(f'<a href="{html.escape(url, quote=True)}">{inner}</a>')
            else:
                out.append(f"{inner} ({escape(url)})")
            i = link.end()
            continue
        if ch in "*_~" and depth < _MAX_NESTING:
            rendered = _emphasis(text, i, depth)
            if rendered is not None:
                html_part, i = rendered
                out.append(html_part)
                continue
            run = _run_length(text, i, ch)
            out.append(text[i : i + run])  # a delimiter run that closes nothing is literal text
            i += run
            continue
        out.append(escape(ch))
        i += 1
    return "".join(out)


def _run_length(text: str, start: int, ch: str) -> int:
    end = start
    while end < len(text) and text[end] == ch:
        end += 1
    return end - start


def _emphasis(text: str, i: int, depth: int) -> tuple[str, int] | None:
    """Try `**x**`, `__x__`, `~~x~~`, `*x*`, `_x_` at `i`: (html, index after) or None."""
    ch = text[i]
    run = _run_length(text, i, ch)
    candidates = [(ch * 2, "s" if ch == "~" else "b")] if run >= 2 else []
    if ch != "~":
        candidates.append((ch, "i"))
    for delim, tag in candidates:
        start = i + len(delim)
        if start >= len(text) or text[start].isspace():
            continue
        # `_` inside words (snake_case) is not emphasis
        if ch == "_" and i > 0 and text[i - 1].isalnum():
            continue
        close = _find_closer(text, start, delim)
        if close is None:
            continue
        inner = _inline(text[start:close], depth + 1)
        if not visible_text(inner).strip():
            continue
        return f"<{tag}>{inner}</{tag}>", close + len(delim)
    return None


def _find_closer(text: str, start: int, delim: str) -> int | None:
    ch = delim[0]
    pos = text.find(delim, start + 1)
    while pos != -1:
        run = _run_length(text, pos, ch)
        after = pos + len(delim)
        good = not text[pos - 1].isspace()
        if len(delim) == 1 and run > 1:
            good = False  # `**` inside `*x*` belongs to a bold run, not to this closer
        if ch == "_" and after < len(text) and text[after].isalnum():
            good = False
        if good and text.find("\n\n", start, pos) == -1:
            return pos
        pos = text.find(delim, pos + max(run, 1))
    return None


# -- chunks --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Chunk:
    """One message's worth: the HTML to send and the plain Markdown to fall back to."""

    html: str
    plain: str


def render_chunks(markdown: str, limit: int = TELEGRAM_MAX_TEXT) -> list[Chunk]:
    """Split Markdown at paragraph/sentence boundaries, then convert; both forms fit `limit` (UTF-16).

    Blank chunks are dropped, so an all-whitespace reply gives [].
    """
    chunks: list[Chunk] = []
    for piece in split_markdown(markdown, limit):
        chunks.extend(_render_piece(piece, limit, 0))
    return [c for c in chunks if visible_text(c.html).strip() and c.plain.strip()]


def _render_piece(piece: str, limit: int, depth: int) -> list[Chunk]:
    converted = markdown_to_html(piece)
    longest = max(utf16_len(converted), utf16_len(piece))
    if longest <= limit:
        return [Chunk(converted, piece)]
    if depth >= 4 or len(piece) < 64:
        # last resort: escaped plain text; one char escapes to at most 5 UTF-16 units ("&amp;")
        return [Chunk(escape(p), p) for p in split_text(piece, max(1, limit // 5)) if p.strip()]
    # markup made it too long: split the Markdown smaller, in proportion to the overshoot
    smaller = max(1, int(len(piece) * limit / longest * 0.9))
    out: list[Chunk] = []
    for sub in split_markdown(piece, smaller):
        out.extend(_render_piece(sub, limit, depth + 1))
    return out
