"""The shared client against real servers on 127.0.0.1: retry policy per call, waits, deadlines,
size cap, redirects, pinned addresses, attempts."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from integrations.errors import CredentialsError, HostNotAllowed, OutcomeUnknown, ProviderError
from integrations.http import Attempt, OutboundLimits, ProviderHttpClient, header
from integrations.tests.certs import make_tls
from integrations.tests.servers import (
    answer,
    drip,
    flood,
    gzip_bomb,
    hang,
    reset,
    serving,
)

INLINE = 2.0  # the inline wait cap of these clients (OUTBOUND_MAX_INLINE_WAIT's default)


class Sleeps(list[float]):
    """An injectable sleep that records what was asked and never waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(url: str, **options: Any) -> tuple[ProviderHttpClient, Sleeps]:
    sleeps = Sleeps()
    limits = options.pop("limits", OutboundLimits(call_deadline=30.0, max_inline_wait=INLINE))
    client = ProviderHttpClient(
        url, sleep=sleeps, jitter=lambda: 1.0, timeout=options.pop("timeout", (1.0, 0.5)), limits=limits, **options
    )
    return client, sleeps


def test_reads_are_retried_on_5xx_timeouts_and_resets_with_backoff() -> None:
    with serving(answer(503), hang(1.0), reset(), answer(200)) as server:
        client, sleeps = client_for(server.url)
        body, _ = client.request_json("GET", "orders")

    assert body == {"ok": True}
    assert len(server.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert [(a.method, a.path, a.status, bool(a.error)) for a in client.attempts] == [
        ("GET", "/orders", 503, True),
        ("GET", "/orders", None, True),
        ("GET", "/orders", None, True),
        ("GET", "/orders", 200, False),
    ]


@pytest.mark.parametrize("failure", [hang(1.0), reset(), answer(502)], ids=["timeout", "reset", "502"])
def test_a_post_without_an_idempotency_key_is_sent_once_and_its_outcome_is_unknown(failure: Any) -> None:
    with serving(failure, answer(201)) as server:
        client, sleeps = client_for(server.url)
        with pytest.raises(OutcomeUnknown):
            client.request("POST", "webhooks", json_body={"topic": "orders/create"}, idempotent=False)

    assert [request.method for request in server.requests] == ["POST"]
    assert sleeps == []


def test_a_post_with_an_idempotency_key_is_retried_after_a_timeout() -> None:
    with serving(hang(1.0), answer(201)) as server:
        client, _ = client_for(server.url)
        response = client.request("POST", "orders", json_body={"out_order_id": "z-1"}, idempotent=True)

    assert response.status_code == 201
    assert [request.body for request in server.requests] == [b'{"out_order_id":"z-1"}'] * 2


def test_a_post_refused_unseen_with_429_is_sent_again() -> None:
    with serving(answer(429, headers={"Retry-After": "1"}), answer(201)) as server:
        client, sleeps = client_for(server.url)
        response = client.request("POST", "webhooks", json_body={}, idempotent=False)

    assert (response.status_code, len(server.requests), sleeps) == (201, 2, [1.0])


def test_a_post_that_could_not_connect_is_sent_when_the_host_is_back() -> None:
    """Nothing was sent when no connection was made: that is safe to try again, even for a write."""
    with serving(answer(201)) as server:
        client, sleeps = client_for(server.url)
    server_port = server.port  # closed: connecting is refused
    client.base_url = f"http://127.0.0.1:{server_port}"

    with pytest.raises(ProviderError, match="could not be reached") as caught:
        client.request("POST", "webhooks", json_body={}, idempotent=False)

    # Four tries, waits of 0.5, 1 and 2 s; the next (4 s) is longer than the inline cap: the task's.
    assert (caught.value.retryable, caught.value.retry_after, len(client.attempts)) == (True, 4.0, 4)
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_write_must_declare_its_retry_policy() -> None:
    client, _ = client_for("http://127.0.0.1:9")
    with pytest.raises(TypeError, match="declare idempotent"):
        client.request("POST", "webhooks", json_body={})
    assert client.attempts == []


def test_a_long_retry_after_is_not_slept_but_becomes_retry_after() -> None:
    with serving(answer(429, headers={"Retry-After": "120"})) as server:
        client, sleeps = client_for(server.url)
        with pytest.raises(ProviderError) as caught:
            client.request("GET", "orders")

    assert (caught.value.retryable, caught.value.retry_after, len(server.requests), sleeps) == (True, 120.0, 1, [])


def test_a_backoff_longer_than_the_inline_cap_becomes_retry_after() -> None:
    with serving(answer(503)) as server:
        client, sleeps = client_for(server.url, limits=OutboundLimits(max_inline_wait=0.75))
        with pytest.raises(ProviderError) as caught:
            client.request("GET", "orders")

    assert sleeps == [0.5]  # the first backoff; the second (1 s) is the task's countdown
    assert (caught.value.retryable, caught.value.retry_after, len(server.requests)) == (True, 1.0, 2)
    assert all(seconds <= 0.75 for seconds in sleeps)


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_server_dripping_a_byte_a_second_is_cut_off_at_the_call_deadline(in_headers: bool) -> None:
    """Each read gets its byte well within the read timeout; the call's deadline ends it anyway."""
    with serving(drip(every=0.2, in_headers=in_headers)) as server:
        client, _ = client_for(server.url, timeout=(1.0, 1.0), limits=OutboundLimits(call_deadline=1.5))
        started = time.monotonic()
        with pytest.raises(ProviderError, match="did not answer in time") as caught:
            client.request("GET", "orders")
        elapsed = time.monotonic() - started

    assert elapsed < 1.5 + 0.5
    assert caught.value.retryable is True
    assert len(server.requests) == 1  # no time left for another attempt


def test_a_50_mb_answer_is_refused_at_the_cap_with_bounded_memory() -> None:
    with serving(flood(50 * 1024 * 1024)) as server:
        client, _ = client_for(server.url, timeout=(1.0, 5.0))  # the default 16 MB cap
        tracemalloc.start()
        try:
            with pytest.raises(ProviderError, match="too large"):
                client.request("GET", "orders")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert peak < 24 * 1024 * 1024  # the cap and one chunk, never the 50 MB
    assert [(a.status, "more than the 16777216 bytes" in a.error) for a in client.attempts] == [(None, True)]


def test_an_answer_declaring_more_than_the_cap_is_refused_unread() -> None:
    with serving(flood(50 * 1024 * 1024, declared=True)) as server:
        client, _ = client_for(server.url, limits=OutboundLimits(max_response_bytes=1024 * 1024))
        with pytest.raises(ProviderError, match="declares 52428800 bytes"):
            client.request("GET", "orders")


def test_a_gzip_bomb_is_refused_at_the_cap() -> None:
    with serving(gzip_bomb(50 * 1024 * 1024)) as server:
        client, _ = client_for(server.url, limits=OutboundLimits(max_response_bytes=1024 * 1024))
        with pytest.raises(ProviderError, match="too large"):
            client.request("GET", "orders")


def test_a_redirect_to_another_host_is_not_followed() -> None:
    with serving(answer(200)) as elsewhere, serving(answer(302, b"", {"Location": f"{elsewhere.url}/x"})) as server:
        client, _ = client_for(server.url)
        with pytest.raises(ProviderError, match=r"redirect \(302\), which is not followed") as caught:
            client.request("GET", "orders")

    assert (caught.value.retryable, len(server.requests), elsewhere.connections) == (False, 1, 0)


def test_a_redirects_query_and_fragment_never_reach_the_attempt_record() -> None:
    location = "https://elsewhere.example/login?token=s3cret&sig=abc#frag"
    with serving(answer(302, b"", {"Location": location})) as server:
        client, _ = client_for(server.url)
        with pytest.raises(ProviderError) as caught:
            client.request("GET", "orders")

    assert [attempt.error for attempt in client.attempts] == ["redirect to https://elsewhere.example/login"]
    assert "s3cret" not in str(caught.value)


def test_the_checked_address_is_connected_to_with_the_name_in_the_host_header(settings: Any) -> None:
    settings.OUTBOUND_RESOLVE = {"shop.test": ["127.0.0.1"]}
    with serving(answer(200)) as server:
        client, _ = client_for(f"http://shop.test:{server.port}/api")
        client.request("GET", "orders", params={"page": "2"})

    sent = [(r.target, r.headers["host"]) for r in server.requests]
    assert sent == [("/api/orders?page=2", f"shop.test:{server.port}")]


def test_tls_verifies_the_name_while_connecting_to_the_pinned_address(settings: Any, tmp_path: Path) -> None:
    ca_file, context = make_tls(tmp_path, "shop.test")
    settings.OUTBOUND_RESOLVE = {"shop.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    with serving(answer(200), tls=context) as server:
        limits = OutboundLimits(ca_file=str(ca_file))
        good, _ = client_for(f"https://shop.test:{server.port}", limits=limits)
        assert good.request("GET", "orders").status_code == 200
        wrong, _ = client_for(f"https://other.test:{server.port}", limits=limits)
        with pytest.raises(ProviderError, match="secure connection failed"):
            wrong.request("GET", "orders")

    assert [r.headers["host"] for r in server.requests] == [f"shop.test:{server.port}"]  # nothing for other.test


def test_a_host_refused_by_the_policy_is_never_called(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    with serving(answer(200)) as server:
        client, _ = client_for(server.url)
        with pytest.raises(HostNotAllowed, match="loopback"):
            client.request("GET", "orders")

    assert server.connections == 0
    assert [(a.status, "refused" in a.error) for a in client.attempts] == [(None, True)]


def test_keep_alive_serves_reads_but_every_write_gets_a_fresh_connection() -> None:
    with serving(answer(200)) as server:
        client, _ = client_for(server.url)
        client.request("GET", "a")
        client.request("GET", "b")
        client.request("POST", "c", json_body={}, idempotent=False)

    assert (len(server.requests), server.connections) == (3, 2)


def test_every_attempt_goes_to_the_recorder() -> None:
    recorded: list[Attempt] = []
    with serving(answer(500, b"<html><script>alert(1)</script>" + b"x" * 5000 + b"</html>"), answer(200)) as server:
        client, _ = client_for(server.url, recorder=recorded.append)
        client.request("GET", "orders", params={"sign": "secret"})

    assert [(a.provider, a.method, a.path, a.status) for a in recorded] == [
        ("provider", "GET", "/orders", 500),
        ("provider", "GET", "/orders", 200),
    ]
    assert "<" not in recorded[0].error
    assert len(recorded[0].error) <= 1000
    assert "secret" not in repr(recorded)


def test_a_failed_answer_reaches_the_merchant_only_as_a_short_sanitised_reason() -> None:
    body = b'{"code": "woocommerce_rest_cannot_view", "message": "<b>Sorry</b>' + b" you cannot" * 100 + b'"}'
    with serving(answer(404, body)) as server:
        client, _ = client_for(server.url)
        with pytest.raises(ProviderError) as caught:
            client.request("GET", "orders")

    assert str(caught.value) == "The channel answered 404 (woocommerce_rest_cannot_view)"
    assert "you cannot" in client.attempts[0].error  # the detail is for support


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_client_errors_are_not_retried(status: int) -> None:
    with serving(answer(status)) as server:
        client, sleeps = client_for(server.url)
        with pytest.raises(ProviderError) as caught:
            client.request("GET", "orders")

    assert (type(caught.value), caught.value.retryable, len(server.requests), sleeps) == (ProviderError, False, 1, [])


def test_forbidden_is_a_credentials_error() -> None:
    with serving(answer(403)) as server:
        client, _ = client_for(server.url)
        with pytest.raises(CredentialsError, match="refused the credentials"):
            client.request("GET", "orders")
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("body", "shape", "message"),
    [(b'{"orders": [{"id', None, "not valid JSON"), (b"[1, 2]", "object", "not a JSON object")],
)
def test_a_body_that_is_not_json_or_not_the_expected_shape_is_a_clear_error(
    body: bytes, shape: Any, message: str
) -> None:
    with serving(answer(200, body)) as server:
        client, _ = client_for(server.url)
        with pytest.raises(ProviderError, match=message):
            client.request_json("GET", "orders", shape=shape)


def test_header_lookup_ignores_case() -> None:
    assert header({"x-shopify-topic": "orders/create"}, "X-Shopify-Topic") == "orders/create"
    assert header({}, "X-Shopify-Topic") is None


class _Tokens:
    """A ``TokenSource`` for these tests: hands out ``tokens`` in turn, one per refresh."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.refreshes: list[str] = []

    def current(self) -> str:
        return self.tokens[0]

    def refreshed(self, stale: str) -> str:
        self.refreshes.append(stale)
        self.tokens.pop(0)
        return self.tokens[0]


class _BearerClient(ProviderHttpClient):
    def prepare(self, method: str, url: str, params: dict[str, str], body: bytes) -> tuple[Any, Any]:
        return params, {"Authorization": f"Bearer {self.attempt_token('static')}"}


def _bearer_client(url: str, tokens: _Tokens | None, **options: Any) -> _BearerClient:
    limits = OutboundLimits(call_deadline=30.0, max_inline_wait=INLINE)
    return _BearerClient(
        url, sleep=Sleeps(), jitter=lambda: 1.0, timeout=(1.0, 0.5), limits=limits, token_source=tokens, **options
    )


def test_a_refused_token_is_refreshed_once_and_the_call_sent_again_even_a_write() -> None:
    tokens = _Tokens("old", "new")
    with serving(answer(401), answer(201)) as server:
        client = _bearer_client(server.url, tokens, max_attempts=1)
        response = client.request("POST", "fulfillments", json_body={"a": 1}, idempotent=False)

    assert response.status_code == 201
    assert tokens.refreshes == ["old"]
    assert [request.headers["authorization"] for request in server.requests] == ["Bearer old", "Bearer new"]


def test_a_token_refused_again_after_its_refresh_is_a_credentials_error() -> None:
    tokens = _Tokens("old", "new")
    with serving(answer(401), answer(401), answer(200)) as server:
        client = _bearer_client(server.url, tokens)
        with pytest.raises(CredentialsError):
            client.request("GET", "orders")

    assert tokens.refreshes == ["old"]
    assert len(server.requests) == 2


def test_without_a_token_source_a_401_is_final_and_a_403_never_refreshes() -> None:
    with serving(answer(401), answer(200)) as server, pytest.raises(CredentialsError):
        _bearer_client(server.url, None).request("GET", "orders")
    assert len(server.requests) == 1
    tokens = _Tokens("old", "new")
    with serving(answer(403), answer(200)) as server, pytest.raises(CredentialsError):
        _bearer_client(server.url, tokens).request("GET", "orders")
    assert tokens.refreshes == []
    assert len(server.requests) == 1
