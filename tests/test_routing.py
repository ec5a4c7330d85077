"""Session keys and agent bindings."""

from __future__ import annotations

from agentbox.config import Binding, Config
from agentbox.gateway.routing import agent_for, route, session_key
from tests.gatewaykit import inbound


def test_session_key_format() -> None:
    assert session_key(inbound(sender="835750362")) == "telegram:dm:835750362"
    assert session_key(inbound(direct=False, chat="-1001")) == "telegram:group:-1001"
    assert session_key(inbound(direct=False, chat="-1001", thread_id="7")) == "telegram:group:-1001:thread:7"
    assert session_key(inbound(channel="slack", sender="U1", chat="D9")) == "slack:dm:U1"


def test_group_members_share_a_session_dm_senders_do_not() -> None:
    a = inbound(direct=False, chat="-1", sender="1")
    b = inbound(direct=False, chat="-1", sender="2")
    assert session_key(a) == session_key(b)
    assert session_key(inbound(sender="1")) != session_key(inbound(sender="2"))


def test_bindings_chat_beats_channel_beats_default() -> None:
    config = Config()
    config.channels.telegram.agent = "tg"
    assert agent_for(config, "telegram", "5") == "tg"
    config.bindings = [Binding(channel="telegram", agent="wide"), Binding(channel="telegram", chat="5", agent="five")]
    assert agent_for(config, "telegram", "5") == "five"
    assert agent_for(config, "telegram", "6") == "wide"
    assert agent_for(config, "slack", "5") == "main"
    assert route(config, inbound(sender="5")).agent_id == "five"
    assert agent_for(config, "terminal", "x") == "main"  # unknown channels get defaults
