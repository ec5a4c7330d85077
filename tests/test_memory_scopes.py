"""Whose memory a turn reads and writes: two senders never share, groups and DMs never mix, the
terminal is the owner in every `cli` session, and linked ids are one person."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agentbox.config import Config, MemoryConfig
from agentbox.gateway.routing import session_key
from agentbox.memory.model import MAX_TEXT, MemoryInputError, Scope
from agentbox.memory.query import content_words
from agentbox.memory.scopes import Speaker, turn_scopes
from agentbox.memory.search import search_transcripts
from agentbox.memory.service import MemoryService
from agentbox.store import Store, TurnRecord
from tests.gatewaykit import inbound
from tests.test_memory_store import KNOWN_LETTERS

SENDER = MemoryConfig()


def dm(sender: str, channel: str = "telegram", agent: str = "main") -> Speaker:
    message = inbound("hi", sender=sender, channel=channel)
    return Speaker(agent, channel, session_key(message), sender, message.chat_id)


def group(sender: str, chat: str = "-100777", thread: str | None = None) -> Speaker:
    message = inbound("hi", sender=sender, chat=chat, direct=False, thread_id=thread)
    return Speaker("main", "telegram", session_key(message), sender, chat)


async def test_each_sender_has_their_own_scope_and_a_group_has_its_own(store: Store) -> None:
    alice, bob = await turn_scopes(store.memory, dm("42"), SENDER), await turn_scopes(store.memory, dm("43"), SENDER)
    in_group = await turn_scopes(store.memory, group("42"), SENDER)
    in_thread = await turn_scopes(store.memory, group("43", thread="9"), SENDER)
    assert alice.home == Scope("sender", "telegram:42") and bob.home == Scope("sender", "telegram:43")
    assert in_group.home == in_thread.home == Scope("chat", "telegram:-100777")
    assert alice.readable == (Scope("sender", "telegram:42"), Scope("agent", "main"))
    assert in_group.readable == (Scope("chat", "telegram:-100777"), Scope("agent", "main"))
    for scopes in (alice, bob, in_group):
        assert scopes.writable == (scopes.home,)  # only the owner writes the facts for everyone
        assert scopes.writable_as("agent") is None
    assert alice.transcripts.session_keys == ("telegram:dm:42",)
    assert in_thread.transcripts.session_keys == ("telegram:group:-100777:thread:9", "telegram:group:-100777")


async def test_the_terminal_is_the_owner_in_every_cli_session(store: Store) -> None:
    first = await turn_scopes(store.memory, Speaker("main", "cli", "cli:default"), SENDER)
    other = await turn_scopes(store.memory, Speaker("main", "cli", "cli:project-x"), SENDER)
    assert first.home == other.home == Scope("sender", "cli:owner")
    assert first.writable_as("agent") == Scope("agent", "main")
    assert first.transcripts.channels == ("cli", "web")  # the owner's terminal and web panel chats
    panel = await turn_scopes(store.memory, Speaker("main", "web", "web:a1b2", "owner", "a1b2"), SENDER)
    assert panel.home == first.home and panel.writable == first.writable


@pytest.mark.parametrize(
    ("setting", "direct_home", "group_home"),
    [
        ("chat", Scope("chat", "telegram:42"), Scope("chat", "telegram:-100777")),
        ("agent", Scope("agent", "main"), Scope("agent", "main")),
    ],
)
async def test_the_scope_setting_chooses_the_home_scope(
    store: Store, setting: str, direct_home: Scope, group_home: Scope
) -> None:
    settings = MemoryConfig(scope=setting)
    direct = await turn_scopes(store.memory, dm("42"), settings)
    in_group = await turn_scopes(store.memory, group("42"), settings)
    assert (direct.home, in_group.home) == (direct_home, group_home)
    assert direct.transcripts.session_keys == ("telegram:dm:42",)  # transcripts never cross senders


async def test_linked_ids_are_one_person_and_unlinking_takes_back_what_came_from_it(store: Store) -> None:
    service = MemoryService(Config(), store)
    telegram, slack = Scope("sender", "telegram:42"), Scope("sender", "slack:U42")
    await service.remember(telegram, "The user's dog is called Biscuit.", cap=100, origin="telegram:42")
    await service.remember(slack, "The user works at the Lisbon office.", cap=100, origin="slack:U42")
    await service.remember(slack, "The user's dog is called Biscuit.", cap=100, origin="slack:U42")
    assert await service.link(["telegram:42", "slack:U42"]) == "telegram:42"
    on_slack = await turn_scopes(store.memory, dm("U42", channel="slack"), SENDER)
    assert on_slack.home == telegram
    assert set(on_slack.transcripts.session_keys) == {"telegram:dm:42", "slack:dm:U42"}
    merged = sorted(m.text for m in await store.memory.newest([telegram.key]))
    assert merged == ["The user works at the Lisbon office.", "The user's dog is called Biscuit."]
    assert await service.unlink("slack:U42") == 1
    assert [m.text for m in await store.memory.newest([slack.key])] == ["The user works at the Lisbon office."]
    assert (await turn_scopes(store.memory, dm("U42", channel="slack"), SENDER)).home == slack
    assert await store.memory.links() == {}
    with pytest.raises(MemoryInputError, match="not linked"):
        await service.unlink("slack:U42")
    with pytest.raises(MemoryInputError, match="CHANNEL:SENDER_ID"):
        await service.link(["telegram:42", "U42"])


async def test_transcript_search_never_reaches_another_senders_or_a_groups_conversations(store: Store) -> None:
    for key, text in (
        ("telegram:dm:42", "my password hint is the blue heron"),
        ("telegram:dm:43", "the blue heron nests by the lake"),
        ("telegram:group:-100777", "the blue heron is our team mascot"),
    ):
        await store.sessions.ensure(key, channel="telegram")
        await store.sessions.add_turn(TurnRecord(key, "m", "ok", user_text=text, reply="ok"))
    alice = await turn_scopes(store.memory, dm("42"), SENDER)
    in_group = await turn_scopes(store.memory, group("43"), SENDER)
    match = '"heron"'
    assert [h.session_key for h in await store.transcripts.search(match, alice.transcripts, limit=9)] == [
        "telegram:dm:42"
    ]
    assert [h.session_key for h in await store.transcripts.search(match, in_group.transcripts, limit=9)] == [
        "telegram:group:-100777"
    ]
    everywhere = await search_transcripts(store, "heron")
    assert len(everywhere) == 3  # the owner's `agentbox sessions search` sees every transcript
    assert [h.session_key for h in await search_transcripts(store, "heron", scope="sender:telegram:43")] == [
        "telegram:dm:43"
    ]


# Chat text as people (and prompt injections) write it: real words in several scripts, FTS5 syntax
# (operators, column filters, quotes, stars, parentheses), SQL, emoji, glued together or spaced.
_TOKEN = st.one_of(
    st.sampled_from(["AND", "OR", "NOT", "NEAR", "NEAR(", "NEAR/2", "(", ")", '"', '""', "*", "^", "-", "+", ":"]),
    st.sampled_from(
        ["text:", "user_text:", "reply:", "{text}", "'", "''", "\\", "%", "_", "--", "; DROP TABLE memories;"]
    ),
    st.sampled_from(["Biscuit", "Zürich", "naïve", "Ελλάδα", "Москва", "東京", "café", "O'Brien", "heron", "🙂", "🐕"]),
    st.text(KNOWN_LETTERS, min_size=1, max_size=12),
)
_GLUE = st.sampled_from(["", " ", " ", "  ", "\n", ", ", "\t"])


def chat_text(max_tokens: int) -> st.SearchStrategy[str]:
    return st.lists(st.tuples(_TOKEN, _GLUE), min_size=1, max_size=max_tokens).map(
        lambda pairs: "".join(token + glue for token, glue in pairs)
    )


_people = itertools.count(10_000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    alice_text=chat_text(40),
    bob_text=chat_text(40),
    bob_said=chat_text(300),
    repeat=st.sampled_from([1, 1, 2, 40]),  # now and then a paste tens of thousands of characters long
)
async def test_whatever_two_people_write_neither_ones_memory_or_conversations_reach_the_other(
    store: Store, alice_text: str, bob_text: str, bob_said: str, repeat: int
) -> None:
    alice, bob, chat = next(_people), next(_people), f"-{next(_people)}"  # the store outlives one example
    bob_said = (bob_said + " ") * repeat
    assume(" ".join(alice_text.split()) and " ".join(bob_text.split()))
    service = MemoryService(Config(), store)
    alice_dm = Speaker("main", "telegram", f"telegram:dm:{alice}", str(alice), str(alice))
    bob_dm = Speaker("main", "telegram", f"telegram:dm:{bob}", str(bob), str(bob))
    bob_in_group = Speaker("main", "telegram", f"telegram:group:{chat}", str(bob), chat)
    turns = {speaker: await service.for_turn(speaker) for speaker in (alice_dm, bob_dm, bob_in_group)}
    alice_turn, bob_turn, group_turn = turns[alice_dm], turns[bob_dm], turns[bob_in_group]
    assert alice_turn is not None and bob_turn is not None and group_turn is not None
    await alice_turn.remember(alice_text[:MAX_TEXT])
    bobs = (await bob_turn.remember(bob_text[:MAX_TEXT])).memory_id
    groups = (await group_turn.remember(bob_text[:MAX_TEXT])).memory_id
    for speaker, text in ((alice_dm, alice_text), (bob_dm, bob_said), (bob_in_group, bob_said)):
        await store.sessions.ensure(speaker.session_key, channel="telegram", chat_id=speaker.chat_id)
        await store.sessions.add_turn(
            TurnRecord(speaker.session_key, "m", "ok", sender_id=speaker.sender_id, user_text=text, reply="ok")
        )

    [said] = await store.sessions.transcript(bob_dm.session_key)
    assert said["user_text"] == bob_said  # stored as written, however long, whatever it contains
    for question in (bob_text, bob_said):  # Alice asks with Bob's very words
        memories, hits = await alice_turn.search(question)
        assert {m.scope for m in memories} <= {s.key for s in alice_turn.scopes.readable}
        assert {h.session_key for h in hits} <= {alice_dm.session_key}
        block = await alice_turn.recall_block(question)
        assert f"#{bobs} (" not in block and f"#{groups} (" not in block
        assert {h.session_key for h in await search_transcripts(store, question, scope=alice_turn.scopes.home)} <= {
            alice_dm.session_key
        }
        memories, hits = await group_turn.search(question)  # the group sees neither Bob's DM nor his memory
        assert bobs not in {m.id for m in memories}
        assert {h.session_key for h in hits} <= {bob_in_group.session_key}
    # Not because search finds nothing: Bob's own words find Bob's memory and Bob's conversation.
    memories, hits = await bob_turn.search(bob_text)
    assert not content_words(bob_text[:MAX_TEXT]) or bobs in {m.id for m in memories}
    memories, hits = await bob_turn.search(bob_said)
    assert not content_words(bob_said) or [h.session_key for h in hits] == [bob_dm.session_key]


async def test_a_link_that_fails_half_way_changes_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    service = MemoryService(Config(), store)
    telegram, slack = Scope("sender", "telegram:42"), Scope("sender", "slack:U42")
    await service.remember(slack, "The user works at the Lisbon office.", cap=100, origin="slack:U42")

    async def broken(identities: object, person: str) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.memory, "set_person", broken)  # after the memories moved
    with pytest.raises(RuntimeError, match="disk full"):
        await service.link(["telegram:42", "slack:U42"])
    assert [m.text for m in await store.memory.newest([slack.key])] == ["The user works at the Lisbon office."]
    assert await store.memory.newest([telegram.key]) == []
    monkeypatch.undo()
    assert await service.link(["telegram:42", "slack:U42"]) == "telegram:42"  # no transaction was left open
    assert [m.text for m in await store.memory.newest([telegram.key])] == ["The user works at the Lisbon office."]
