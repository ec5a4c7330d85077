"""What the gateway says about a message it cannot use: plain sentences, never internal codes.

Connectors mark what they could not translate with a short code (`Inbound.unsupported`, e.g.
"voice", "video_note"); attachments carry a kind ("video", "file"). Those codes are for logs
and tests. A user reads "voice messages", never "video_note" or "file_unavailable".
"""

from __future__ import annotations

from collections.abc import Iterable

NOT_YET = "Sorry, I can't handle {what} yet. Please send text or an image."

_PHRASES = {
    "voice": "voice messages",
    "video_note": "video messages",
    "audio": "audio files",
    "video": "videos",
    "animation": "GIFs",
    "sticker": "stickers",
    "location": "locations",
    "venue": "places",
    "contact": "contacts",
    "poll": "polls",
    "dice": "dice",
    "game": "games",
    "story": "stories",
    "document": "files like this one",
    "file": "files like this one",
}

# Codes older versions stored in the inbox (media was downloaded before the access check then).
_FAILURES = {
    "file_too_large": "Sorry, that file is too large for me to download. Please send a smaller image.",
    "image too large": "Sorry, that image is too large for me to download. Please send a smaller one.",
    "file_unavailable": "Sorry, I couldn't download the file you sent. Please send it again.",
    "image download failed": "Sorry, I couldn't download the image you sent. Please send it again.",
}


def unsupported_reply(codes: Iterable[str]) -> str:
    """One sentence for the kinds of content a message had that agentbox cannot use."""
    wanted = list(dict.fromkeys(codes))
    for code in wanted:
        if code in _FAILURES:
            return _FAILURES[code]
    phrases = list(dict.fromkeys(_PHRASES.get(code, "messages like this") for code in wanted))
    if not phrases:
        phrases = ["messages like this"]
    what = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
    return NOT_YET.format(what=what)
