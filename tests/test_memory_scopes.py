"""Whose memory a turn reads and writes: two senders never share, groups and DMs never mix, the
terminal is the owner in every `cli` session, and linked ids are one person."""

from __future__ import annotations

import pytest

from agentbox.config import Config, MemoryConfig
from agentbox.gateway.routing import session_key
from agentbox.memory.model import MemoryInputError, Scope
from agentbox.memory.scopes import Speaker, turn_scopes
from agentbox.memory.search import search_transcripts
from agentbox.memory.service import MemoryService
from agentbox.store import Store, TurnRecord
from tests.gatewaykit import inbound

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
