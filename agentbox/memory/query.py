"""A message's content words as an SQLite FTS5 query: stop words dropped, the rest OR-ed.

"What is my dog called?" becomes `"dog" OR "called"`: bm25 ranks memories sharing more (and
rarer) words first, so one shared word is enough to recall something. Each word is quoted, so no
text can be read as FTS5 syntax (a stray `"`, `NEAR`, `*` or `-` in a message is just text).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

TermCounter = Callable[[list[str], int], Awaitable[list[int]]]
"""(FTS5 phrases, cap) → how many of the rows being searched (the asker's scopes, not the whole index)
each matches, counted no further than cap + 1."""

COMMON = 300  # rows a word may match and still be searched for, unless it is the rarest word
MAX_TERMS = 32  # a long paste queries with its first distinct content words only
_WORD = re.compile(r"\w+")

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each else even ever every few for from
    further get gets got had has have having he her here hers herself him himself his how i if in into is it
    its itself just let like me might mine more most much must my myself no nor not now of off on once only
    or other our ours ourselves out over own please quite rather really same says she should so some such
    than that the their theirs them themselves then there these they this those through to too under until
    up upon us very was we well were what when where which while who whom whose why will with would yes yet
    you your yours yourself yourselves hi hello hey thanks thank ok okay sure tell know remember recall
    something anything thing things one ones im ive id dont doesnt didnt cant wont isnt arent wasnt s t d ll
    re ve m
    """.split()
)


def content_words(text: str, *, limit: int | None = MAX_TERMS) -> list[str]:
    """The distinct words of `text` that carry meaning, in order (stop words dropped).

    Words keep their letter case: SQLite folds query and index alike, and Python's full case folding
    would not match its index ("Straße" would become "strasse").
    """
    words: list[str] = []
    seen: set[str] = set()
    for word in _WORD.findall(text):
        folded = word.casefold()
        if folded in seen or folded in STOP_WORDS or not any(ch.isalnum() for ch in word):
            continue
        seen.add(folded)
        words.append(word)
        if limit is not None and len(words) >= limit:
            break
    return words


def quote(word: str) -> str:
    """`word` as an FTS5 phrase: whatever it contains is text, never query syntax."""
    return '"' + word.replace('"', '""') + '"'


def match_any(words: list[str]) -> str:
    """An FTS5 expression matching any of `words` ("" for none: nothing to search for)."""
    return " OR ".join(map(quote, words))


def search_words(query: str) -> list[str]:
    """For a search someone typed: its content words, or all its words when every one is a stop word."""
    words = content_words(query) or [w for w in _WORD.findall(query) if any(c.isalnum() for c in w)]
    return words[:MAX_TERMS]


async def selective_match(words: list[str], count: TermCounter, *, common: int = COMMON) -> str:
    """`words` OR-ed, less the ones no row has and the ones so common they rank nothing and cost much
    (bm25 scores every row a word matches); the rarest word stays when every one is that common."""
    if not words:
        return ""
    counts = await count([quote(word) for word in words], common)
    present = [(found, word) for word, found in zip(words, counts, strict=True) if found]
    kept = [word for found, word in present if found <= common]
    return match_any(kept or [min(present)[1]] if present else [])


def overlap(a: str, b: str) -> float:
    """How alike two texts' content words are (Jaccard, 0..1): near-duplicate memories score high."""
    first = {word.casefold() for word in content_words(a, limit=None)}
    second = {word.casefold() for word in content_words(b, limit=None)}
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)
