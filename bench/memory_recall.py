"""What long-term memory adds to a turn when one sender has a lot of it (issue 13).

Seeds one sender with 10,000 memories and 100,000 stored messages (50,000 turns: their text and the
replies), then times what each turn adds before the model call: resolving the sender's scopes and
building the recall block (pinned memories + the FTS5/bm25 matches of the message, within
`recall_budget`). Also times the `recall` tool's search (memories + transcripts). No model, no network.

Prints p50 / p95 / max milliseconds and the largest recall block in bytes against the budget.

Run: `python -m bench.memory_recall` (`--quick` for 1,000 memories and 10,000 messages).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import percentile

SENDER = "42"
TEMPLATES = [
    "The user's {a} is called {N}.",
    "The user {v} {a} and {b} on weekends.",
    "{N} is the user's {a}; they met in {P} in {y}.",
    "The user prefers {a} over {b} when {c}.",
    "The user is working on a {a} project with {N}, due {y}.",
    "The user's {a} needs {b} every {c}.",
    "The user moved to {P} in {y} for the {a} job.",
]
NAMES = "Ada Biscuit Ingrid Tomasz Priya Lucia Kenji Amara Felix Noor Rosa Dmitri Hana Olu Maeve".split()
PLACES = "Lisbon Reykjavik Osaka Nairobi Lyon Toronto Krakow Hobart Valparaiso Tbilisi".split()
VERBS = "likes owns plans fixes sells learns visits paints restores teaches".split()


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    """Made-up words with a Zipf-like use: a few very common, most rare, as in real notes."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(size)]


class Words:
    """Draws words with Zipf frequencies (rank r used in proportion to 1/r)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = vocabulary(rng)
        self.cumulative = list(itertools.accumulate(1 / rank for rank in range(1, len(self.words) + 1)))

    def __call__(self) -> str:
        return self.rng.choices(self.words, cum_weights=self.cumulative)[0]


def sentence(rng: random.Random, word: Words) -> str:
    return rng.choice(TEMPLATES).format(
        a=word(),
        b=word(),
        c=word(),
        N=rng.choice(NAMES),
        P=rng.choice(PLACES),
        v=rng.choice(VERBS),
        y=rng.randint(1990, 2026),
    )


def question(rng: random.Random, word: Words) -> str:
    return rng.choice(
        [
            f"what did I say about the {word()}?",
            f"remind me: who {rng.choice(VERBS)} {word()} in {rng.choice(PLACES)}?",
            f"is {rng.choice(NAMES)} still into {word()} these days?",
            "hello, how are you today?",
            f"Could you help me plan a weekend trip to {rng.choice(PLACES)} with my {word()}? "
            + f"I'd like it relaxed, with good {word()}, a {word()}, and not too much walking. " * 3,
        ]
    )


async def seed(home: Path, memories: int, turns: int) -> None:
    from agentbox.store import Store
    from agentbox.store.db import run_many

    rng = random.Random(13)
    word = Words(rng)
    async with await Store.open(home / "agentbox.db") as store:
        key = f"telegram:dm:{SENDER}"
        await store.sessions.ensure(key, channel="telegram", chat_id=SENDER)
        rows = [(key, 1e9 + i, sentence(rng, word), f"Noted: {sentence(rng, word)}") for i in range(turns)]
        await run_many(
            store.conn,
            "INSERT INTO turns(session_key, epoch, started_at, status, model, user_text, reply)"
            " VALUES (?, 0, ?, 'ok', 'gpt-4o-mini', ?, ?)",
            rows,
        )
        texts = list(dict.fromkeys(sentence(rng, word) for _ in range(memories * 2)))[:memories]
        facts = [(f"sender:telegram:{SENDER}", text, i % 500 == 0, 1e9 + i) for i, text in enumerate(texts)]
        await run_many(
            store.conn,
            "INSERT INTO memories(scope, text, norm, pinned, source, created_at, updated_at)"
            " VALUES (?, ?, lower(?2), ?, 'tool', ?, ?4)",
            facts,
        )


async def measure(home: Path, rounds: int) -> dict[str, list[float]]:
    from agentbox.config import Config, MemoryConfig
    from agentbox.memory.scopes import Speaker
    from agentbox.memory.service import MemoryService
    from agentbox.store import Store

    config = Config()
    config.agents["main"].memory = MemoryConfig(max_items_per_scope=1_000_000)
    rng = random.Random(13)  # the same words the memories were made of
    word = Words(rng)
    speaker = Speaker("main", "telegram", f"telegram:dm:{SENDER}", SENDER, SENDER)
    out: dict[str, list[float]] = {"recall": [], "search": [], "bytes": []}
    async with await Store.open(home / "agentbox.db") as store:
        service = MemoryService(config, store)
        for index in range(rounds + 20):
            message = question(rng, word)
            start = time.perf_counter()
            turn = await service.for_turn(speaker)
            assert turn is not None
            block = await turn.recall_block(message)
            added = time.perf_counter() - start
            start = time.perf_counter()
            await turn.search(message)
            searched = time.perf_counter() - start
            if index >= 20:  # the first few warm SQLite's page cache
                out["recall"].append(added * 1000)
                out["search"].append(searched * 1000)
                out["bytes"].append(len(block.encode()))
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    memories, turns = (1_000, 5_000) if quick else (10_000, 50_000)
    budget = 1500
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        asyncio.run(seed(home, memories, turns))
        print(
            f"seeded {memories:,} memories and {2 * turns:,} messages for one sender "
            f"in {time.perf_counter() - started:.1f} s ({(home / 'agentbox.db').stat().st_size / 1e6:.0f} MB)"
        )
        figures = asyncio.run(measure(home, 300))
    for name, label in (("recall", "recall added per turn"), ("search", "recall tool search")):
        values = figures[name]
        print(
            f"{label:>22}: p50 {percentile(values, 50):.2f} ms, p95 {percentile(values, 95):.2f} ms, "
            f"max {max(values):.2f} ms"
        )
    largest = max(figures["bytes"])
    print(
        f"{'recall block':>22}: largest {largest:.0f} bytes, budget {budget} bytes ({'within' if largest <= budget else 'OVER'})"
    )


if __name__ == "__main__":
    main()
