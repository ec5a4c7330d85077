"""The http_request tool: curl-style skills without a shell, secrets filled in outside the model's view,
the SSRF guard of web page vision, and size and time limits. A fake API on 127.0.0.1 records what arrived."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.skillkit.httpguard import HttpPolicy, Outgoing, exchange
from agentbox.skillkit.netguard import BlockedURL
from agentbox.turn.runner import TurnRequest
from tests.fakes.aimlapi import Reply, ToolCall
from tests.fakes.base import FakeServer
from tests.helpers import runtime_on
from tests.skills_helpers import tool_outputs, write_skill

TOKEN = "acme-live-token-5f0c9a1e"


class FakeApi(FakeServer):
    """A third-party API: echoes what it received, redirects, streams big or slow bodies."""

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/redirect", self.redirect)
        app.router.add_get("/big", self.big)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/image", self.image)

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.text()
        return web.json_response(
            {"method": request.method, "auth": request.headers.get("Authorization"), "query": dict(request.query),
             "type": request.content_type, "body": body}
        )  # fmt: skip

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(text="y" * 600_000)

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def image(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, content_type="image/png")


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def private_api() -> Iterator[FakeApi]:
    with FakeApi(host="127.0.0.2") as server:  # stands in for an internal service
        yield server  # type: ignore[misc]


def acme_skill(home: Path, api: FakeApi) -> None:
    body = f'List items:\n\n```bash\ncurl -s {api.url}/echo -H "Authorization: Bearer $ACME_TOKEN"\n```\n'
    write_skill(
        home / "workspace" / "skills", "acme", body=body, metadata={"openclaw": {"requires": {"env": ["ACME_TOKEN"]}}}
    )


def call(url: str, **args: Any) -> ToolCall:
    return ToolCall("http_request", {"skill": "acme", "url": url, **args})


PRIVATE_OK = "[skills]\nallow_private_urls = true\n"


async def test_secrets_are_filled_in_only_for_the_skills_own_host(
    fake_aimlapi, home: Path, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", TOKEN)
    monkeypatch.setenv("OTHER_SECRET", "other-secret-value-99")
    acme_skill(home, api)
    other_host = api.url.replace("127.0.0.1", "localhost")
    bearer = {"Authorization": "Bearer ${ACME_TOKEN}"}
    calls = [
        call(f"{api.url}/echo", method="POST", headers=bearer, json={"name": "Ada", "tags": ["x"]}),
        call(f"{api.url}/echo", headers={"Authorization": "${OTHER_SECRET}"}),
        call(f"{other_host}/echo", headers=bearer),
        call(f"{other_host}/echo", query={"q": "no secret here"}),
        call(f"{api.url}/echo", method="PUT", form={"token": "$ACME_TOKEN", "price": "$USD 5"}),
        ToolCall("http_request", {"skill": "nope", "url": f"{api.url}/echo"}),
    ]
    fake_aimlapi.script(Reply(tool_calls=calls), Reply(text="done"))
    async with runtime_on(fake_aimlapi, home, PRIVATE_OK) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:http", text="list my items"))
    assert result.ok, result.error
    posted, undeclared, elsewhere, plain, form, unknown = tool_outputs(fake_aimlapi.last_chat())
    assert posted.startswith("HTTP 200 OK\ncontent-type: application/json")
    echoed = json.loads(posted.split("\n\n", 1)[1])
    assert echoed["auth"] == "Bearer ***" and json.loads(echoed["body"]) == {"name": "Ada", "tags": ["x"]}
    assert undeclared.startswith("refused: skill 'acme' did not declare env OTHER_SECRET")
    assert elsewhere.startswith("refused: localhost is not a host skill 'acme' names")
    assert plain.startswith("HTTP 200") and json.loads(plain.split("\n\n", 1)[1])["query"] == {"q": "no secret here"}
    assert json.loads(form.split("\n\n", 1)[1])["body"] == "token=***&price=%24USD+5"
    assert "no skill named 'nope'" in unknown
    arrived = {r.method: r for r in api.requests if r.path == "/echo"}  # the model's calls run concurrently
    assert sorted(arrived) == ["GET", "POST", "PUT"]
    assert (
        arrived["POST"].headers["Authorization"] == f"Bearer {TOKEN}" and "Authorization" not in arrived["GET"].headers
    )
    assert arrived["PUT"].body.decode() == f"token={TOKEN}&price=%24USD+5"
    model_saw = json.dumps(fake_aimlapi.chat_requests())
    assert TOKEN not in model_saw and "other-secret-value-99" not in model_saw


async def test_private_addresses_are_refused_by_default(fake_aimlapi, home: Path, api: FakeApi) -> None:
    write_skill(home / "workspace" / "skills", "acme", body=f"```bash\ncurl {api.url}/echo\n```\n")
    urls = [f"{api.url}/echo", api.url.replace("127.0.0.1", "localhost") + "/echo"]
    urls += ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/", "file:///etc/passwd"]
    fake_aimlapi.script(Reply(tool_calls=[call(url) for url in urls]), Reply(text="no"))
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest(session_key="t:ssrf", text="fetch"))
    outputs = tool_outputs(fake_aimlapi.last_chat())
    assert outputs[0] == "refused: 127.0.0.1 is a private/loopback/link-local/reserved address"
    assert outputs[1].startswith("refused: localhost resolves to") and "private/loopback" in outputs[1]
    assert outputs[2] == "refused: 169.254.169.254 is a private/loopback/link-local/reserved address"
    assert outputs[3].startswith("refused: ::ffff:127.0.0.1 is a private")
    assert outputs[4] == "refused: only http and https URLs are allowed (got file scheme)"
    assert api.requests == []


def only_127_0_0_1(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return str(address) == "127.0.0.1"


async def test_a_redirect_to_a_private_address_is_refused(api: FakeApi, private_api: FakeApi) -> None:
    policy = HttpPolicy(timeout=10, max_bytes=10_000, allowed=only_127_0_0_1)
    ok = await exchange(Outgoing("GET", f"{api.url}/echo"), policy)
    assert ok.status == 200
    with pytest.raises(BlockedURL):
        await exchange(Outgoing("GET", f"{api.url}/redirect?to={private_api.url}/echo"), policy)
    assert private_api.requests == []


async def test_a_redirect_elsewhere_keeps_the_secret_home(api: FakeApi) -> None:
    policy = HttpPolicy(timeout=10, max_bytes=10_000, allowed=None, may_follow=lambda host: host == "127.0.0.1")
    target = f"http://localhost:{api.port}/echo"
    answer = await exchange(Outgoing("GET", f"{api.url}/redirect?to={target}", {"Authorization": TOKEN}), policy)
    assert (answer.status, answer.stopped_redirect) == (302, target)
    assert [r.path for r in api.requests] == ["/redirect"]


async def test_size_and_time_limits(fake_aimlapi, home: Path, api: FakeApi) -> None:
    write_skill(home / "workspace" / "skills", "acme", body=f"```bash\ncurl {api.url}/big\n```\n")
    urls = [f"{api.url}/big", f"{api.url}/slow", f"{api.url}/image"]
    fake_aimlapi.script(Reply(tool_calls=[call(url) for url in urls]), Reply(text="ok"))
    cfg = PRIVATE_OK + "http_timeout = 0.5\nhttp_max_response_bytes = 10000\n"
    async with runtime_on(fake_aimlapi, home, cfg) as rt:
        await rt.runner.run(TurnRequest(session_key="t:limits", text="go"))
    big, slow, image = tool_outputs(fake_aimlapi.last_chat())
    assert big.endswith("y" * 100 + "\n\n(body cut at 10000 bytes)") and len(big) < 10_200
    assert slow == "request failed: no complete answer within 0.5 s"
    assert image.endswith("(binary body: 2056 bytes of image/png, not shown)")


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=TEXT, key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
def test_json_and_form_bodies_arrive_exactly(api: FakeApi, value: str, key: str) -> None:
    policy = HttpPolicy(timeout=10, max_bytes=1_000_000, allowed=None)
    sent = {"text": value, key: [value, 1]}
    answer = asyncio.run(exchange(Outgoing("POST", f"{api.url}/echo", json=sent), policy))
    assert json.loads(json.loads(answer.body)["body"]) == sent
    answer = asyncio.run(exchange(Outgoing("POST", f"{api.url}/echo", form={key: value}), policy))
    from urllib.parse import parse_qs

    assert parse_qs(json.loads(answer.body)["body"], keep_blank_values=True) == {key: [value]}
