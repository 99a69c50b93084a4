"""The shared HTTP client without a network: which failures are retried, how long it waits."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from integrations.errors import CredentialsError, ProviderError
from integrations.http import ProviderHttpClient, header


class ScriptedSession(requests.Session):
    """Answers each request with the next scripted status (or raises the scripted exception)."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = script
        self.calls = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        step = self.script[self.calls]
        self.calls += 1
        if isinstance(step, Exception):
            raise step
        status, headers = step if isinstance(step, tuple) else (step, {})
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = b'{"ok": true}'
        response.url = str(url)
        return response


def client_for(script: list[Any], sleeps: list[float]) -> tuple[ProviderHttpClient, ScriptedSession]:
    session = ScriptedSession(script)
    client = ProviderHttpClient("https://api.example.com/v1", session=session, sleep=sleeps.append, jitter=lambda: 1.0)
    return client, session


def test_timeouts_and_connection_errors_are_retried_with_exponential_backoff() -> None:
    sleeps: list[float] = []
    client, _ = client_for([requests.ConnectTimeout(), requests.ConnectionError(), requests.ReadTimeout(), 200], sleeps)

    body, _ = client.request_json("GET", "orders")

    assert body == {"ok": True}
    assert sleeps == [0.5, 1.0, 2.0]
    assert [(a.method, a.path, a.status, bool(a.error)) for a in client.attempts] == [
        ("GET", "/v1/orders", None, True),
        ("GET", "/v1/orders", None, True),
        ("GET", "/v1/orders", None, True),
        ("GET", "/v1/orders", 200, False),
    ]


def test_gives_up_retryable_after_max_attempts() -> None:
    sleeps: list[float] = []
    client, session = client_for([503] * 5, sleeps)

    with pytest.raises(ProviderError) as caught:
        client.request("GET", "orders")

    assert (caught.value.retryable, caught.value.status, session.calls, len(sleeps)) == (True, 503, 5, 4)


def test_a_long_retry_after_is_left_to_the_task_not_slept() -> None:
    sleeps: list[float] = []
    client, session = client_for([(429, {"Retry-After": "120"})], sleeps)

    with pytest.raises(ProviderError) as caught:
        client.request("GET", "orders")

    assert (caught.value.retryable, session.calls, sleeps) == (True, 1, [])


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_client_errors_are_not_retried(status: int) -> None:
    sleeps: list[float] = []
    client, session = client_for([status], sleeps)

    with pytest.raises(ProviderError) as caught:
        client.request("GET", "orders")

    assert (type(caught.value), caught.value.retryable, session.calls, sleeps) == (ProviderError, False, 1, [])


def test_forbidden_is_a_credentials_error() -> None:
    client, session = client_for([403], [])

    with pytest.raises(CredentialsError, match="refused the credentials"):
        client.request("GET", "orders")

    assert session.calls == 1


def test_a_body_that_is_not_json_is_a_retryable_error() -> None:
    client, _ = client_for([200], [])
    response = client.request("GET", "orders")
    response._content = b'{"orders": [{"id'

    with pytest.raises(ProviderError, match="not valid JSON") as caught:
        client.json_of(response)

    assert caught.value.retryable is True


def test_header_lookup_ignores_case() -> None:
    assert header({"x-shopify-topic": "orders/create"}, "X-Shopify-Topic") == "orders/create"
    assert header({}, "X-Shopify-Topic") is None
