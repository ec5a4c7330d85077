"""Text from chats is untrusted: strip what a terminal would interpret before printing it.

A sender's name, message or the model's reply can carry ESC sequences (colours, cursor
moves, OSC 52 clipboard writes). Tables and transcripts print `terminal_safe(text)`.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (U+0080–U+009F, where 0x9B is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides can make a printed line read differently from what it contains.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str | None, *, single_line: bool = False) -> str:
    """`text` with control characters replaced by U+FFFD; newlines kept unless `single_line`."""
    if not text:
        return ""
    if single_line:
        text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _BIDI.sub("\ufffd", _CONTROL.sub("\ufffd", text))
