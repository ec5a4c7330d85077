"""Signed webhooks: `POST /hooks/<name>` on a running gateway, signatures, templates, dedupe, limits, the CLI."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.config import ConfigError, parse_config
from agentbox.hooks.ratelimit import TokenBucket
from agentbox.hooks.service import gateway_service, payload_of
from agentbox.hooks.signature import sign, verify
from agentbox.hooks.template import render
from tests.clirun import invoke_cli
from tests.fakes.aimlapi import FakeAimlapi
from tests.gatewaykit import FakeConnector, running_gateway, wait_until
from tests.helpers import cli_env

ALICE = "835750362"
SECRET = secrets.token_hex(32)
WORKFLOW_RUN = {
    "action": "completed",
    "workflow_run": {"conclusion": "failure", "html_url": "https://github.com/acme/api/actions/runs/9"},
    "repository": {"full_name": "acme/api", "topics": ["billing", "eu"]},
    "sender": {"login": "Zoë"},
}
CI_TEXT = "CI failure on acme/api (workflow_run): https://github.com/acme/api/actions/runs/9"


def hook(name: str = "github", **keys: Any) -> str:
    settings = {
        "name": name,
        "secret_env": "GITHUB_HOOK_SECRET",
        "deliver_to": f"telegram:{ALICE}",
        "template": "CI {{payload.workflow_run.conclusion}} on {{payload.repository.full_name}} "
        "({{headers.X-GitHub-Event}}): {{payload.workflow_run.html_url}}",
        **keys,
    }
    return "[[hooks]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:  # 30 s: a loaded machine
    deadline = time.monotonic() + within
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
    return value


@dataclass
class Hooks:
    gateway: Any
    telegram: FakeConnector

    async def post(self, name: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.gateway.control.port}/hooks/{name}"
        async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers or {}) as response:
            return response.status, await response.json()

    async def deliver(self, name: str, payload: Any, *, delivery: str | None = None) -> tuple[int, Any]:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(SECRET, body),
            "X-GitHub-Event": "workflow_run",
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        }
        return await self.post(name, body, headers)

    async def counts(self) -> dict[str, int]:
        return dict(await self.gateway.store.inbox.counts())

    async def settled(self, done: int) -> dict[str, int]:
        counts: dict[str, int] = await eventually(lambda: self._when(done))
        return counts

    async def _when(self, done: int) -> dict[str, int] | None:
        counts = await self.counts()
        return counts if counts.get("done", 0) + counts.get("failed", 0) >= done else None


@asynccontextmanager
async def hooks_on(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch, config: str
) -> AsyncIterator[Hooks]:
    monkeypatch.setenv("GITHUB_HOOK_SECRET", SECRET)
    telegram = FakeConnector()
    async with running_gateway(fake_aimlapi, home, telegram, config=config, services=[gateway_service]) as gateway:
        yield Hooks(gateway, telegram)


# -- the route and the worker --------------------------------------------------------------


async def test_a_signed_delivery_is_accepted_at_once_and_the_agents_answer_reaches_the_chat(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with hooks_on(fake_aimlapi, home, monkeypatch, hook()) as hooks:
        status, answer = await hooks.deliver("github", WORKFLOW_RUN, delivery="d6a1f0e0-9b2c-11ef-8e3a-1c2a3b4c5d6e")
        assert status == 202
        assert answer == {"id": "d6a1f0e0-9b2c-11ef-8e3a-1c2a3b4c5d6e", "hook": "github", "status": "accepted"}
        await wait_until(lambda: hooks.telegram.texts(ALICE) == [f"echo: {CI_TEXT}"], 30)
        assert await hooks.settled(1) == {"done": 1}
        [turn] = await hooks.gateway.store.sessions.transcript("hook:github")
        assert (turn["user_text"], turn["status"]) == (CI_TEXT, "ok")


async def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_stored(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps(WORKFLOW_RUN).encode()
    forged = [
        {},
        {"X-Agentbox-Signature": "sha256=" + "0" * 64},
        {"X-Agentbox-Signature": sign("another secret", body)},
        {"X-Agentbox-Signature": sign(SECRET, body + b" ")},  # the signature of another body
        {"X-Agentbox-Signature": sign(SECRET, body).replace("sha256=", "sha1=")},
        {"Authorization": f"Bearer {(home / 'gateway.token').name}"},
    ]
    async with hooks_on(fake_aimlapi, home, monkeypatch, hook()) as hooks:
        token = (home / "gateway.token").read_text().strip()
        forged.append({"Authorization": f"Bearer {token}"})  # the gateway token is no signature either
        for headers in forged:
            status, answer = await hooks.post("github", body, headers)
            assert status == 401 and "signature" in answer["error"], headers
        assert await hooks.counts() == {} and fake_aimlapi.chat_requests() == []
        assert (await hooks.post("github", body, {"X-Agentbox-Signature": sign(SECRET, body)}))[0] == 202


async def test_a_replayed_delivery_is_handled_once(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with hooks_on(fake_aimlapi, home, monkeypatch, hook()) as hooks:
        answers = [await hooks.deliver("github", WORKFLOW_RUN, delivery="delivery-42") for _ in range(3)]
        assert [(status, a["status"]) for status, a in answers] == [(202, "accepted"), *[(200, "duplicate")] * 2]
        body = json.dumps({"n": 1}).encode()
        idempotent = {"X-Agentbox-Signature": sign(SECRET, body), "Idempotency-Key": "job-7"}
        assert [(await hooks.post("github", body, idempotent))[0] for _ in range(2)] == [202, 200]
        assert await hooks.settled(2) == {"done": 2}
        assert len(hooks.telegram.texts(ALICE)) == 2 and len(fake_aimlapi.chat_requests()) == 2


async def test_notify_sends_the_rendered_text_without_a_model_call(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = "Door {{payload.door}} opened by {{payload.who.name}} {{payload.missing}}at {{payload.times.1}}"
    config = hook("door", kind="notify", template=template, deliver_to=f"telegram:{ALICE}:77")
    async with hooks_on(fake_aimlapi, home, monkeypatch, config) as hooks:
        payload = {"door": "front", "who": {"name": "{{payload.door}}"}, "times": ["07:00", "07:05"]}
        assert (await hooks.deliver("door", payload))[0] == 202
        assert await hooks.settled(1) == {"done": 1}
        [sent] = hooks.telegram.sent
        assert sent.text == "Door front opened by {{payload.door}} at 07:05"  # payload text is never expanded
        assert (sent.address.chat_id, sent.address.thread_id, sent.address.reply_to) == (ALICE, "77", None)
        assert fake_aimlapi.chat_requests() == []


async def test_deliveries_of_a_hook_reach_the_chat_in_the_order_they_arrived(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dataclass
    class SlowerFirst(FakeConnector):
        delays: list[float] = field(default_factory=lambda: [0.25, 0.2, 0.15, 0.1, 0.05])

        async def send(self, address: Any, outbound: Any) -> list[str]:
            await asyncio.sleep(self.delays.pop(0) if self.delays else 0)
            return await super().send(address, outbound)

    monkeypatch.setenv("GITHUB_HOOK_SECRET", SECRET)
    telegram = SlowerFirst()
    config = hook("door", kind="notify", template="event {{payload.n}}")
    async with running_gateway(fake_aimlapi, home, telegram, config=config, services=[gateway_service]) as gateway:
        hooks = Hooks(gateway, telegram)
        for n in range(5):
            assert (await hooks.deliver("door", {"n": n}))[0] == 202
        await hooks.settled(5)
    assert telegram.texts(ALICE) == [f"event {n}" for n in range(5)]


async def test_a_task_without_delivery_only_runs_and_counts_against_the_caps(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = (
        hook("nightly", deliver_to="none", template="Summarize: {{payload}}") + "[limits]\nusd_per_day = 0.000001\n"
    )
    async with hooks_on(fake_aimlapi, home, monkeypatch, config) as hooks:
        assert (await hooks.deliver("nightly", {"builds": 3}))[0] == 202
        assert await hooks.settled(1) == {"done": 1}
        assert (await hooks.deliver("nightly", {"builds": 4}))[0] == 202  # over today's cap now
        assert await hooks.settled(2) == {"done": 1, "failed": 1}
        turns = await hooks.gateway.store.sessions.transcript("hook:nightly")
        assert [t["status"] for t in turns] == ["ok", "capped"]
        assert turns[0]["user_text"] == 'Summarize: {\n  "builds": 3\n}'
        assert hooks.telegram.sent == [] and len(fake_aimlapi.chat_requests()) == 1


async def test_rate_limit_body_limit_unknown_hooks_and_bodies_that_are_not_json(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = hook(rate_limit_per_minute=2, max_body_bytes=2048, kind="notify")
    async with hooks_on(fake_aimlapi, home, monkeypatch, config) as hooks:
        assert (await hooks.deliver("github", {"log": secrets.token_hex(1500)}))[0] == 413
        assert (await hooks.deliver("nope", WORKFLOW_RUN))[0] == 404
        text = b"this is not json"
        assert (await hooks.post("github", text, {"X-Agentbox-Signature": sign(SECRET, text)}))[0] == 400
        assert (await hooks.deliver("github", WORKFLOW_RUN))[0] == 202  # the second signed request this minute
        url = f"http://127.0.0.1:{hooks.gateway.control.port}/hooks/github"
        body = json.dumps(WORKFLOW_RUN).encode()
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body, headers={"X-Agentbox-Signature": sign(SECRET, body)}) as response:
                assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
        assert await hooks.settled(1) == {"done": 1}  # only the accepted one was stored
    assert fake_aimlapi.chat_requests() == []


async def test_githubs_form_encoded_payload_is_read(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with hooks_on(fake_aimlapi, home, monkeypatch, hook(kind="notify")) as hooks:
        form = urlencode({"payload": json.dumps(WORKFLOW_RUN)}).encode()
        headers = {"X-Hub-Signature-256": sign(SECRET, form), "Content-Type": "application/x-www-form-urlencoded"}
        assert (await hooks.post("github", form, {**headers, "X-GitHub-Event": "workflow_run"}))[0] == 202
        await hooks.settled(1)
        assert hooks.telegram.texts(ALICE) == [CI_TEXT]


async def test_a_delivery_stored_while_no_worker_ran_is_handled_on_start(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentbox.hooks.service import CHANNEL
    from agentbox.messages import Inbound

    async with hooks_on(fake_aimlapi, home, monkeypatch, hook(kind="notify")) as hooks:
        pass  # the first run creates the database
    leftover = Inbound(CHANNEL, "github", "left-behind", "hook:github", "Deploy finished", is_direct=True)
    from agentbox.store import Store

    async with await Store.open(home / "agentbox.db") as store:
        assert await store.inbox.add(leftover) is not None  # accepted (202) just before a crash
    async with hooks_on(fake_aimlapi, home, monkeypatch, hook(kind="notify")) as hooks:
        assert await hooks.settled(1) == {"done": 1}
        assert hooks.telegram.texts(ALICE) == ["Deploy finished"]


async def test_a_task_answered_before_a_crash_is_not_asked_again(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends: list[str] = []

    async def crash(address: Any, outbound: Any, **_: Any) -> str:
        sends.append(outbound.text)  # the answer exists (its turn is stored); the process dies before sending
        raise RuntimeError("killed between the answer and its delivery")

    async with hooks_on(fake_aimlapi, home, monkeypatch, hook()) as hooks:
        monkeypatch.setattr(hooks.gateway.delivery, "send", crash)
        assert (await hooks.deliver("github", WORKFLOW_RUN))[0] == 202
        await wait_until(lambda: sends, 30)
        assert await hooks.counts() == {"pending": 1}
    async with hooks_on(fake_aimlapi, home, monkeypatch, hook()) as hooks:
        assert await hooks.settled(1) == {"done": 1}
        assert hooks.telegram.texts(ALICE) == [f"echo: {CI_TEXT}"]
    assert sends == [f"echo: {CI_TEXT}"]
    assert len(fake_aimlapi.chat_requests()) == 1  # the stored answer was sent; the model was asked once


async def test_a_hook_whose_secret_is_not_set_answers_503_and_stores_nothing(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = hook() + hook("unset", secret_env="UNSET_HOOK_SECRET")
    monkeypatch.delenv("UNSET_HOOK_SECRET", raising=False)
    async with hooks_on(fake_aimlapi, home, monkeypatch, config) as hooks:
        status, answer = await hooks.deliver("unset", WORKFLOW_RUN)
        assert status == 503 and "no secret configured" in answer["error"]
        body = b"{}"
        assert (await hooks.post("unset", body, {"X-Agentbox-Signature": sign("", body)}))[0] == 503
        assert await hooks.counts() == {}
    assert fake_aimlapi.chat_requests() == [] and hooks.telegram.sent == []


# -- the pieces, over many inputs ------------------------------------------------------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(secret=st.text(min_size=1, max_size=64).filter(lambda s: "\x00" not in s), body=st.binary(max_size=4096))
def test_a_signature_verifies_its_body_and_nothing_else(secret: str, body: bytes) -> None:
    good = sign(secret, body)
    assert verify(secret, body, {"X-Agentbox-Signature": good})
    assert verify(secret, body, {"X-Hub-Signature-256": good.upper().replace("SHA256=", "sha256=")})
    assert not verify(secret, body + b"\x00", {"X-Agentbox-Signature": good})
    assert not verify(secret + "x", body, {"X-Agentbox-Signature": good})
    assert not verify(secret, body, {"X-Agentbox-Signature": good[:-1]})


@given(value=json_values, noise=st.text())
def test_a_template_inserts_payload_values_as_text_and_never_expands_them(value: Any, noise: str) -> None:
    payload = {"a": {"b": value}, "noise": noise + "{{payload.a}}"}
    rendered = render("[{{payload.a.b}}] {{payload.noise}}", payload=payload, headers={}, hook="h")
    expected = (
        "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
    )
    if isinstance(value, bool):
        expected = "true" if value else "false"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        expected = json.dumps(value)
    assert rendered == f"[{expected}] {noise}{{{{payload.a}}}}"


def test_the_rate_limit_refills_over_time() -> None:
    now = [0.0]
    bucket = TokenBucket(2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    assert bucket.retry_after() == pytest.approx(30.0)
    now[0] = 30.0
    assert bucket.take() and not bucket.take()


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"kind": "notify", "deliver_to": "none"}, "nothing would happen"),
        ({"agent": "nobody"}, "names agent 'nobody'"),
        ({"deliver_to": "whatsapp:123"}, "CHANNEL:CHAT"),
        ({"template": "{{ payload.a }} {{ os.system('x') }}"}, "unknown placeholder"),
        ({"name": "Has Spaces"}, "hooks.0.name"),
    ],
)
def test_bad_hook_config_is_refused_naming_the_problem(keys: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(hook(**keys), source=Path("c.toml"))


def test_two_hooks_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigError, match="two hooks are named 'github'"):
        parse_config(hook() + hook(), source=Path("c.toml"))


# -- the CLI ---------------------------------------------------------------------------------


async def test_hooks_list_and_hooks_test_sign_and_post_to_the_running_gateway(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    payload = tmp_path / "run.json"
    payload.write_text(json.dumps(WORKFLOW_RUN), encoding="utf-8")
    config = hook(kind="notify", template="{{payload.repository.full_name}} by {{payload.sender.login}}")
    config += hook("unset", secret_env="UNSET_HOOK_SECRET", kind="notify")
    env = cli_env(home, GITHUB_HOOK_SECRET=SECRET)
    async with hooks_on(fake_aimlapi, home, monkeypatch, config) as hooks:
        listed = json.loads(invoke_cli("hooks", "list", "--json", env=env).stdout)
        assert [(h["path"], h["kind"], h["secret_set"]) for h in listed] == [
            ("/hooks/github", "notify", True),
            ("/hooks/unset", "notify", False),
        ]
        done = await asyncio.to_thread(invoke_cli, "hooks", "test", "github", "--payload", str(payload), env=env)
        assert done.returncode == 0, done.stderr
        assert "Accepted: delivery test-" in done.stdout
        await hooks.settled(1)
        assert hooks.telegram.texts(ALICE) == ["acme/api by Zoë"]
        unset = await asyncio.to_thread(invoke_cli, "hooks", "test", "unset", "--payload", str(payload), env=env)
        assert unset.returncode == 2 and "$UNSET_HOOK_SECRET is not set" in unset.stderr
        wrong = await asyncio.to_thread(
            invoke_cli, "hooks", "test", "github", "--payload", str(payload), env={**env, "GITHUB_HOOK_SECRET": "x"}
        )
        assert wrong.returncode == 1 and "answered 401" in wrong.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{nope", encoding="utf-8")
    assert invoke_cli("hooks", "test", "github", "--payload", str(bad), env=env).returncode == 2
    assert "no hook named 'other'" in invoke_cli("hooks", "test", "other", "--payload", str(payload), env=env).stderr


def test_a_hooks_secret_is_masked_in_logs_and_checked_for_the_service() -> None:
    from agentbox.logs import secret_env_names
    from agentbox.ops.servicesecrets import needed_secrets

    config = parse_config(hook(secret_env="DEPLOY_KEY"), source=Path("c.toml"))  # a name no pattern would catch
    assert "DEPLOY_KEY" in secret_env_names(config)
    assert ("DEPLOY_KEY", "hook github secret") in needed_secrets(config)


# -- bodies of a real sender's size ------------------------------------------------------------

LOG_ALPHABET = 'abcxyz 019{}."\\\n\t/é€中🚀' + "\u2028\u00a0"  # JSON escapes, multi-byte UTF-8, a {{ look-alike


def big_text(size: int, seed: int) -> str:
    """A build log's worth of text (`size` characters) drawn from `seed`: cheap to make, varied in bytes."""
    rng = random.Random(seed)
    return "".join(rng.choices(LOG_ALPHABET, k=size)) + "{{payload.log}}"


big_payloads = st.builds(
    lambda value, size, seed: {"action": "completed", "data": value, "log": big_text(size, seed)},
    json_values,
    st.integers(0, 2000) | st.integers(50_000, 400_000),  # a ping, a CI run with its log
    st.integers(0, 2**32),
)


@settings(max_examples=40, deadline=None)
@given(payload=big_payloads, form=st.booleans(), flip=st.integers(0))
def test_a_signed_body_of_any_size_is_read_back_as_its_payload_and_a_changed_byte_fails(
    payload: Any, form: bool, flip: int
) -> None:
    text = json.dumps(payload, ensure_ascii=form)  # GitHub's JSON is UTF-8; its form posts escape everything
    body, content_type = (
        (urlencode({"payload": text}).encode(), "application/x-www-form-urlencoded")
        if form
        else (text.encode(), "application/json")
    )
    signature = {"X-Hub-Signature-256": sign(SECRET, body)}
    assert verify(SECRET, body, signature)
    assert payload_of(body, content_type) == payload
    rendered = render("{{payload.log}}|{{payload.data}}", payload=payload_of(body, content_type), headers={}, hook="h")
    assert rendered.startswith(payload["log"] + "|")  # the log as it is: its {{payload.log}} stays text
    at = flip % len(body)
    changed = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
    assert not verify(SECRET, changed, signature)


def test_signed_bodies_of_any_size_reach_the_inbox_as_their_rendered_text(
    fake_aimlapi: FakeAimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    limit = 20_000
    config = hook("ci", kind="notify", template="{{payload.action}}: {{payload.log}}", rate_limit_per_minute=10_000)
    sent: list[tuple[str, str]] = []  # (delivery id, what the text must be)

    async def run() -> None:
        async with hooks_on(fake_aimlapi, home, monkeypatch, config) as hooks:
            url = f"http://127.0.0.1:{hooks.gateway.control.port}/hooks/ci"

            @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
            @given(payload=big_payloads)
            def post(payload: Any) -> None:
                body = json.dumps(payload, ensure_ascii=False).encode()
                delivery = uuid.uuid4().hex
                headers = {"X-Agentbox-Signature": sign(SECRET, body), "Idempotency-Key": delivery}
                answer = httpx.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
                assert answer.status_code == 202, answer.text
                sent.append((delivery, f"completed: {payload['log']}"))

            await asyncio.to_thread(post)  # a sync client in a thread; the gateway serves on this loop
            await hooks.settled(len(sent))
            async with hooks.gateway.store.conn.execute(
                "SELECT message_id, payload FROM inbox WHERE channel = 'hook'"
            ) as cursor:
                stored = {row["message_id"]: json.loads(row["payload"])["text"] for row in await cursor.fetchall()}
        for delivery, text in sent:
            if len(text) <= limit:
                assert stored[delivery] == text
            else:  # cut at the gateway's max_message_chars, saying so
                assert stored[delivery].startswith(text[:limit] + "\n\n[The webhook's message was cut to its first")

    asyncio.run(run())
    assert len(sent) >= 10 and any(len(text) > limit for _, text in sent)
