"""Retry policy and transport: bounded attempts and time, Retry-After, no retry on 4xx."""

from __future__ import annotations

import time

import httpx
import pytest

from agentbox.retry import HttpxRetryTransport, RetryPolicy, parse_retry_after


def _client(statuses: list[int | type[Exception]], policy: RetryPolicy, headers: dict[str, str] | None = None):
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        step = statuses[min(len(calls) - 1, len(statuses) - 1)]
        if isinstance(step, type):
            raise step("boom", request=request)
        return httpx.Response(step, headers=headers or {}, json={"message": "x"})

    transport = HttpxRetryTransport(httpx.MockTransport(handler), policy)
    return httpx.AsyncClient(transport=transport), calls


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_retryable_statuses_are_retried_until_success(status: int) -> None:
    client, calls = _client([status, status, 200], RetryPolicy(attempts=4, initial_delay=0.01, max_delay=0.02))
    response = await client.get("http://127.0.0.1/x")
    assert response.status_code == 200 and len(calls) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_not_retried(status: int) -> None:
    client, calls = _client([status, 200], RetryPolicy(attempts=4, initial_delay=0.01))
    response = await client.get("http://127.0.0.1/x")
    assert response.status_code == status and len(calls) == 1


async def test_attempts_bound_and_last_response_returned() -> None:
    client, calls = _client([503], RetryPolicy(attempts=3, initial_delay=0.01, max_delay=0.01))
    response = await client.get("http://127.0.0.1/x")
    assert response.status_code == 503 and len(calls) == 3


async def test_total_time_bound_stops_early() -> None:
    client, calls = _client([500], RetryPolicy(attempts=50, max_total_seconds=0.3, initial_delay=0.1, max_delay=0.1))
    start = time.monotonic()
    await client.get("http://127.0.0.1/x")
    assert time.monotonic() - start < 1.0 and 2 <= len(calls) < 10


async def test_retry_after_is_honoured() -> None:
    client, calls = _client([429, 200], RetryPolicy(attempts=3, initial_delay=0.0), headers={"Retry-After": "0.3"})
    await client.get("http://127.0.0.1/x")
    assert calls[1] - calls[0] >= 0.29


async def test_retry_after_beyond_budget_gives_up_at_once() -> None:
    client, calls = _client([429, 200], RetryPolicy(attempts=3, max_total_seconds=1), headers={"Retry-After": "30"})
    response = await client.get("http://127.0.0.1/x")
    assert response.status_code == 429 and len(calls) == 1


async def test_connection_errors_and_timeouts_are_retried_then_raised() -> None:
    client, calls = _client([httpx.ConnectError, httpx.ReadTimeout, 200], RetryPolicy(attempts=3, initial_delay=0.01))
    assert (await client.get("http://127.0.0.1/x")).status_code == 200 and len(calls) == 3
    client, calls = _client([httpx.ConnectError], RetryPolicy(attempts=2, initial_delay=0.01))
    with pytest.raises(httpx.ConnectError):
        await client.get("http://127.0.0.1/x")
    assert len(calls) == 2


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=8.0)
    for n, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 8.0)]:
        delays = {policy.backoff(n) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
