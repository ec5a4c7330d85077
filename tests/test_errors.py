"""One exception root: every error agentbox defines is an `AgentboxError`, drawn once in its docstring;
the CLI turns the root into one line and an exit code in one place; approval notices log their failures."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import agentbox
import agentbox.connectors
from agentbox.cli.main import _AgentboxGroup
from agentbox.errors import AgentboxError
from agentbox.gateway.approval_notices import APPROVED_NOTICE, ApprovalNotices
from agentbox.messages import Connector
from agentbox.store import Store
from agentbox.store.pairing import PairingRepo
from tests.gatewaykit import FakeConnector

_TREE_LINE = re.compile(r"^(?P<indent>(?:[│ ]   )*)(?:├── |└── )(?P<name>\w+)")


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every public exception class defined in agentbox and its connectors, by name."""
    found: dict[str, type[BaseException]] = {}
    for package in (agentbox, agentbox.connectors):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue  # running it would start the CLI
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseException)
                    and value.__module__ == module.__name__
                    and not name.startswith("_")
                ):
                    found[name] = value
    return found


def drawn_tree() -> dict[str, str]:
    """The tree in AgentboxError's docstring: each name → the name it is drawn under."""
    lines = [line.strip("\n") for line in (AgentboxError.__doc__ or "").splitlines()]
    root_at = next(i for i, line in enumerate(lines) if line.strip() == "AgentboxError")
    indent = len(lines[root_at]) - len(lines[root_at].lstrip())
    parents: dict[str, str] = {}
    path = ["AgentboxError"]
    for line in lines[root_at + 1 :]:
        match = _TREE_LINE.match(line[indent:])
        if match is None:
            break
        depth = len(match["indent"]) // 4 + 1
        path = [*path[:depth], match["name"]]
        parents[match["name"]] = path[depth - 1]
    return parents


def test_every_exception_is_under_the_root_and_drawn_where_it_is() -> None:
    exceptions = defined_exceptions()
    assert exceptions.pop("AgentboxError") is AgentboxError
    assert len(exceptions) >= 20  # the walk found the modules
    outside = sorted(name for name, cls in exceptions.items() if not issubclass(cls, AgentboxError))
    assert outside == []
    drawn = drawn_tree()
    assert sorted(drawn) == sorted(exceptions)  # each drawn once, nothing stale
    for name, cls in exceptions.items():
        parent = next(base for base in cls.__mro__[1:] if issubclass(base, AgentboxError))
        assert drawn[name] == parent.__name__, name


def test_errors_stay_what_callers_catch() -> None:
    exceptions = defined_exceptions()
    assert issubclass(exceptions["SchemaTooNew"], sqlite3.DatabaseError)  # `database_errors` reports it, exit 3
    assert issubclass(exceptions["UndeclaredSecret"], KeyError)
    for name in ("InputError", "SkillFormatError", "ScaffoldError", "BlockedURL"):
        assert issubclass(exceptions[name], ValueError), name
    assert exceptions["ConfigError"].exit_code == 2 and exceptions["SchemaTooNew"].exit_code == 3


class OutOfTokens(AgentboxError):
    exit_code = 4


def test_the_cli_turns_any_agentbox_error_into_one_line_and_its_exit_code() -> None:
    app = typer.Typer(cls=_AgentboxGroup, pretty_exceptions_enable=False)

    @app.command()
    def spend() -> None:
        raise OutOfTokens("the daily cap is reached (resets at 00:00 UTC)")

    @app.command()
    def other() -> None:
        raise ValueError("not ours")

    done = CliRunner().invoke(app, ["spend"])
    assert done.exit_code == 4
    assert done.stderr == "agentbox: the daily cap is reached (resets at 00:00 UTC)\n" and done.stdout == ""
    crashed = CliRunner().invoke(app, ["other"])
    assert isinstance(crashed.exception, ValueError)  # a bug stays a traceback, not a polite line


def test_the_real_cli_reports_a_config_error_through_the_root(home: Path) -> None:
    from agentbox.cli.main import app

    (home / "config.toml").write_text("[gateway]\nport = 'not a port'\n")
    done = CliRunner().invoke(app, ["sessions", "list"])
    assert done.exit_code == 2
    assert done.stderr.startswith("agentbox: ") and "gateway.port" in done.stderr and "Traceback" not in done.stderr


class FlakyPairing(PairingRepo):
    """The real repository, but claiming one sender's notice fails as a locked database would."""

    def __init__(self, repo: PairingRepo, failing_sender: str) -> None:
        super().__init__(repo._conn)
        self.failing_sender = failing_sender

    async def claim_notice(self, channel: str, sender_id: str) -> bool:
        if sender_id == self.failing_sender:
            raise sqlite3.OperationalError("database is locked")
        return await super().claim_notice(channel, sender_id)


async def test_a_failing_approval_notice_is_logged_and_the_others_still_go_out(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    for sender in ("alice-1", "bob-2"):
        await store.pairing.allow("telegram", sender, sender_name=sender, chat_id=sender)
    tg = FakeConnector()
    connector: Connector = tg
    notices = ApprovalNotices(FlakyPairing(store.pairing, "alice-1"), lambda _: connector)
    with caplog.at_level(logging.WARNING, logger="agentbox.gateway.approval_notices"):
        sent = await notices.send_due()
    assert sent == 1
    assert [(item.address.chat_id, item.text) for item in tg.sent] == [("bob-2", APPROVED_NOTICE)]
    [record] = caplog.records
    assert "telegram sender alice-1" in record.getMessage() and "database is locked" in record.getMessage()
    assert record.exc_info is not None
    assert [s.sender_id for s in await store.pairing.unnotified()] == ["alice-1"]  # owed still: the next sweep
