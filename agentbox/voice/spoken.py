"""From a written answer to what is read aloud: no Markdown marks, code or URLs, and never too long.

Long answers are cut at a sentence end within `[voice] max_spoken_chars` (or, with
`long_replies = "summary"`, summarized by the caller); the full text is always sent as text too.
The echo of a transcript (`echo_line`) is the one line a reply starts with to show what was heard.
"""

from __future__ import annotations

import re

REST_IN_TEXT = " The rest is in my written answer."
ECHO_CHARS = 300

_CODE_BLOCK = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_MARKS = re.compile(r"(^|\s)#{1,6}\s+|[*_~`>|]+|^\s*[-+]\s+|^\s*\d+\.\s+", re.MULTILINE)
_SENTENCE_END = re.compile(r"[.!?…](?=\s)|\n")


def speakable(markdown: str) -> str:
    """Markdown as plain sentences for a voice: code blocks and URLs named, not read out."""
    text = _CODE_BLOCK.sub(" (code in the written answer) ", markdown)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("(a link)", text)
    text = _MARKS.sub(lambda m: m.group(1) or " ", text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


def first_part(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start cut at a sentence end, saying so."""
    if len(text) <= limit:
        return text
    room = max(1, limit - len(REST_IN_TEXT))
    head = text[:room]
    ends = [match.end() for match in _SENTENCE_END.finditer(head)]
    cut = ends[-1] if ends and ends[-1] >= room // 2 else head.rfind(" ")
    head = head[: cut if cut > 0 else room].rstrip()
    return head + ("" if head.endswith((".", "!", "?", "…")) else "…") + REST_IN_TEXT


def echo_line(transcript: str) -> str:
    """One italic Markdown line quoting what was heard, so a mishearing shows at once."""
    heard = " ".join(transcript.split())
    if len(heard) > ECHO_CHARS:
        heard = heard[: ECHO_CHARS - 1].rstrip() + "…"
    heard = re.sub(r"([*_`\\])", r"\\\1", heard)  # the transcript's own marks must not end the italics
    return f"_“{heard}”_"
