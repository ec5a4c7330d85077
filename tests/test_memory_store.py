"""The memory tables: migration of a database from the previous release, full-text indexes kept in step,
de-duplication, the per-scope cap, and queries no text can break."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agentbox.config import Config
from agentbox.memory.model import MemoryInputError, Scope
from agentbox.memory.query import COMMON, content_words, match_any, search_words, selective_match
from agentbox.memory.scopes import Speaker
from agentbox.memory.search import search_transcripts
from agentbox.memory.service import MemoryService
from agentbox.store import Store, TurnRecord
from agentbox.store.db import statements
from agentbox.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.helpers import database_before

ALICE = Scope("sender", "telegram:42")
BOB = Scope("sender", "telegram:43")
_examples = itertools.count()
MINE = next(i for i, script in enumerate(MIGRATIONS) if "CREATE TABLE memories" in script)


def _previous_release_db(path: Path) -> None:
    """A database as the release before memory left it: three sessions with realistic turns."""
    conn = database_before(path, "CREATE TABLE memories")
    conn.execute("PRAGMA foreign_keys = ON")
    for key in ("telegram:dm:42", "telegram:dm:43", "cli:default"):
        conn.execute(
            "INSERT INTO sessions(key, channel, chat_id, created_at, updated_at) VALUES (?,?,?,1,1)",
            (key, key.split(":")[0], key.rsplit(":", 1)[-1]),
        )
    turns = [
        ("telegram:dm:42", "My sister Ingrid arrives from Reykjavik on Friday", "Safe travels to Ingrid!"),
        ("telegram:dm:43", "Remind me how sourdough starters are fed", "Flour and water, daily."),
        ("cli:default", "draft the quarterly report outline", "Here is an outline: ..."),
    ]
    for key, user, reply in turns:
        conn.execute(
            "INSERT INTO turns(session_key, epoch, started_at, status, model, user_text, reply)"
            " VALUES (?, 0, 1000, 'ok', 'gpt-4o-mini', ?, ?)",
            (key, user, reply),
        )
    conn.commit()
    conn.close()


async def test_a_database_of_the_previous_release_migrates_and_its_transcripts_become_searchable(home: Path) -> None:
    path = home / "agentbox.db"
    _previous_release_db(path)
    async with await Store.open(path) as store:
        async with store.conn.execute("PRAGMA user_version") as cursor:
            assert (await cursor.fetchone())[0] == SCHEMA_VERSION
        [old] = await search_transcripts(store, "when does Ingrid arrive?")  # backfilled by the migration
        assert old.session_key == "telegram:dm:42" and "Ingrid" in old.user_snippet
        assert await store.memory.newest() == []
        turn_id = await store.sessions.add_turn(
            TurnRecord("telegram:dm:43", "gpt-4o-mini", "ok", user_text="my kombucha scoby is mouldy", reply="Bin it.")
        )
        [new] = await search_transcripts(store, "kombucha")  # the trigger indexes what is written after
        assert new.turn_id == turn_id
        service = MemoryService(Config(), store)
        done = await service.remember(ALICE, "Ingrid is the user's sister.", cap=10)
        assert [m.text for m in await service.search("sister", [ALICE], limit=5)] == ["Ingrid is the user's sister."]
        assert done.outcome == "added"


async def test_the_indexes_follow_deletes_whoever_makes_them(store: Store) -> None:
    await store.sessions.ensure("telegram:dm:42", channel="telegram", chat_id="42")
    await store.sessions.add_turn(
        TurnRecord("telegram:dm:42", "m", "ok", user_text="the alpaca farm", reply="ok", started_at=10.0)
    )
    service = MemoryService(Config(), store)
    done = await service.remember(ALICE, "The user runs an alpaca farm.", cap=10)
    assert await search_transcripts(store, "alpaca") and await service.search("alpaca", None, limit=5)
    await store.retention.prune(cutoff=100.0)  # retention deletes the turn (and the session, now empty)
    await store.memory.delete([done.memory_id])
    assert await search_transcripts(store, "alpaca") == []
    assert await service.search("alpaca", None, limit=5) == []
    async with store.conn.execute("INSERT INTO turns_fts(turns_fts) VALUES ('integrity-check')"):
        pass  # raises if the index and the table disagree
    async with store.conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('integrity-check')"):
        pass


def test_trigger_bodies_stay_one_statement_when_a_migration_is_split() -> None:
    script = MIGRATIONS[MINE]
    split = statements(script)
    triggers = [s for s in split if "CREATE TRIGGER" in s]
    assert len(triggers) == 6 and all(s.rstrip().endswith("END;") for s in triggers)
    for older in MIGRATIONS[:MINE]:  # earlier migrations split exactly as they always did
        assert [s.strip(" \n;") for s in statements(older)] == [s.strip() for s in older.split(";") if s.strip()]


async def test_the_same_fact_is_stored_once_and_a_rewording_replaces_it(store: Store) -> None:
    service = MemoryService(Config(), store)
    first = await service.remember(ALICE, "The user's dog is called Biscuit.", cap=10)
    again = await service.remember(ALICE, "  the user's DOG is called biscuit ", cap=10)
    reworded = await service.remember(ALICE, "The user's dog is called Biscuit now.", cap=10)
    other = await service.remember(ALICE, "The user's cat is called Pepper.", cap=10)
    bob = await service.remember(BOB, "The user's dog is called Biscuit.", cap=10)
    assert (again.outcome, again.memory_id) == ("exists", first.memory_id)
    assert (reworded.outcome, reworded.memory_id) == ("updated", first.memory_id)
    assert other.outcome == "added" and bob.outcome == "added" and bob.memory_id != first.memory_id
    texts = sorted(m.text for m in await store.memory.newest([ALICE.key]))
    assert texts == ["The user's cat is called Pepper.", "The user's dog is called Biscuit now."]


async def test_past_the_cap_the_oldest_unpinned_memories_go(store: Store) -> None:
    service = MemoryService(Config(), store)
    pinned = await service.remember(ALICE, "The user's name is Ada Lovelace.", cap=3, pinned=True)
    for day in range(6):
        done = await service.remember(ALICE, f"On day {day} the user planted tomato variety number {day}.", cap=3)
    assert done.evicted == 1
    kept = await store.memory.newest([ALICE.key])
    assert pinned.memory_id in {m.id for m in kept}
    assert sorted(m.text for m in kept if not m.pinned) == [
        f"On day {day} the user planted tomato variety number {day}." for day in (3, 4, 5)
    ]
    assert await store.memory.count([BOB.key]) == 0


@pytest.mark.parametrize("text", ["", "   \n\t ", "x" * 501])
async def test_an_empty_or_overlong_memory_is_refused_with_the_reason(store: Store, text: str) -> None:
    with pytest.raises(MemoryInputError, match="memory"):
        await MemoryService(Config(), store).remember(ALICE, text, cap=10)
    assert await store.memory.newest() == []


def test_a_message_becomes_its_content_words_or_ed() -> None:
    assert content_words("What is my dog called?") == ["dog", "called"]
    assert match_any(content_words("What is my dog called?")) == '"dog" OR "called"'
    assert search_words("the who") == ["the", "who"]  # all stop words: a typed search still searches
    assert match_any(['say "hi"']) == '"say ""hi"""'


# Scripts SQLite's tokenizer (Unicode 6.1 tables) and Python agree on: Latin, Greek, Cyrillic, CJK,
# digits, with ASCII and general punctuation and spaces between them. (Letters and symbols added
# to Unicode since 2012 are words to one and separators to the other.)
KNOWN_LETTERS = st.one_of(
    *(
        st.characters(min_codepoint=low, max_codepoint=high, exclude_categories=("Cn", "Cs", "Co", "Cc"))
        for low, high in ((0x20, 0x24F), (0x370, 0x4FF), (0x2000, 0x206F), (0x4E00, 0x9FCB))
    ),
    st.sampled_from(" \n\t"),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.text(max_size=400), stored=st.text(min_size=1, max_size=300).filter(str.strip))
async def test_no_text_breaks_a_search_and_stored_text_comes_back_as_written(
    store: Store, message: str, stored: str
) -> None:
    service = MemoryService(Config(), store)
    scope = Scope("sender", f"telegram:{next(_examples)}")  # the store outlives one example: a scope each
    done = await service.remember(scope, stored[:500], cap=1000, merge_similar=False)
    memory = await store.memory.get(done.memory_id)
    assert memory is not None and memory.text == " ".join(stored[:500].split())
    await service.search(message, [scope], limit=5)  # FTS5 syntax in the text is only text
    await search_transcripts(store, message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.text(KNOWN_LETTERS, min_size=1, max_size=300), data=st.data())
async def test_a_message_sharing_any_content_word_with_a_memory_finds_it(
    store: Store, stored: str, data: st.DataObject
) -> None:
    words = content_words(stored, limit=None)
    if not words:
        return
    service = MemoryService(Config(), store)
    scope = Scope("sender", f"telegram:{next(_examples)}")
    done = await service.remember(scope, stored, cap=1000, merge_similar=False)
    shared = data.draw(st.sampled_from(words))
    variants = [shared, f"what about {shared}?"]
    # Not "ß" → "SS", "İ" → "i̇" or "ı" → "I": SQLite folds one letter to one letter, simply.
    if len(shared.upper()) == len(shared.lower()) == len(shared) and shared.upper().lower() == shared.lower():
        variants += [shared.upper(), f"{shared.lower()}!!"]
    message = data.draw(st.sampled_from(variants))
    assume(content_words(message))  # "I" is a stop word
    found = await store.memory.search(match_any(content_words(message)), [scope.key], limit=1000)
    assert done.memory_id in {m.id for m in found}


async def test_words_too_common_to_rank_anything_are_left_out_unless_they_are_all_there_is(store: Store) -> None:
    service = MemoryService(Config(), store)
    for index in range(COMMON + 5):
        await service.remember(ALICE, f"Invoice {index} was called in by the accountant.", cap=1000)
    await service.remember(ALICE, "The user's dog is called Biscuit.", cap=1000)
    assert await selective_match(["dog", "called", "zeppelin"], store.memory.term_counts) == '"dog"'
    assert await selective_match(["called", "invoice"], store.memory.term_counts) == '"called"'  # the rarer one
    assert await selective_match(["zeppelin"], store.memory.term_counts) == ""
    turn = await service.for_turn(Speaker("main", "telegram", "telegram:dm:42", "42", "42"))
    assert turn is not None
    block = await turn.recall_block("what is my dog called?")
    assert "Biscuit" in block.split("<memory-notes>")[1].split("\n")[1]  # the dog first, not an invoice


async def test_other_scopes_common_words_do_not_hide_a_senders_memory(store: Store) -> None:
    service = MemoryService(Config(), store)

    async def said(sender: int, text: str) -> None:
        key = f"telegram:dm:{sender}"
        await store.sessions.ensure(key, channel="telegram", chat_id=str(sender))
        await store.sessions.add_turn(TurnRecord(key, "m", "ok", user_text=text, reply="ok"))

    for sender in range(100, 100 + COMMON + 100):  # 400 other people, each with a dog
        other = Scope("sender", f"telegram:{sender}")
        await service.remember(other, f"The user's dog number {sender} sleeps a lot.", cap=10, merge_similar=False)
        await said(sender, f"my dog {sender} barks")
    await service.remember(BOB, "The user goes sailing every weekend.", cap=10)  # "weekend" is rare
    await said(43, "sailing this weekend")
    await service.remember(ALICE, "The user's dog Biscuit loves the beach.", cap=10)
    await said(42, "my dog Biscuit")
    turn = await service.for_turn(Speaker("main", "telegram", "telegram:dm:42", "42", "42"))
    assert turn is not None
    question = "what should my dog do this weekend?"
    assert "Biscuit" in await turn.recall_block(question)
    memories, hits = await turn.search(question)
    assert [m.text for m in memories] == ["The user's dog Biscuit loves the beach."]
    assert [h.session_key for h in hits] == ["telegram:dm:42"]
    assert [h.session_key for h in await search_transcripts(store, question, scope=ALICE)] == ["telegram:dm:42"]
