"""The 17TRACK client against a hostile server over real HTTP (a plain server on 127.0.0.1 that
answers what each test says): answers that are not 17TRACK's envelope, items of the wrong
shape, and every refusal typed. The sandbox (test_track17_provider.py) gives the faithful side."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations.errors import CredentialsError, MalformedPayload, OutcomeUnknown, ProviderError, RateLimited
from tracking.providers.base import MALFORMED, Registration
from tracking.providers.track17 import Track17Provider
from tracking.providers.track17.client import Track17Refusal


class Hostile:
    """Answers every POST with (status, body, headers) from ``answers`` (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes, dict[str, str]]] = [(200, b"{}", {})]
        self.delay = 0.0  # seconds before answering (a server slower than the client's timeout)
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hostile.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, content, headers = hostile.answers[min(len(hostile.requests), len(hostile.answers)) - 1]
                time.sleep(hostile.delay)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/track/v2.2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, *answers: tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> None:
        self.answers = [
            (a[0], a[1] if isinstance(a[1], bytes) else json.dumps(a[1]).encode(), a[2] if len(a) > 2 else {})  # type: ignore[misc]
            for a in answers
        ]


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def provider(hostile: Hostile) -> Iterator[Track17Provider]:
    made = Track17Provider(base_url=hostile.url, api_key="SECRET-KEY", max_attempts=2, sleep=lambda seconds: None)
    yield made
    made.close()


def ok(data: Any) -> dict[str, Any]:
    return {"code": 0, "data": data}


def test_what_is_sent(hostile: Hostile, provider: Track17Provider) -> None:
    hostile.answer((200, ok({"accepted": [], "rejected": []})))

    provider.register([Registration("rr123456789cn", carrier_code=3011, tag="t" * 150), Registration("LP1")])

    ((path, headers, body),) = hostile.requests
    assert path == "/track/v2.2/register"
    assert headers["17token"] == "SECRET-KEY"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == [{"number": "RR123456789CN", "carrier": 3011, "tag": "t" * 100}, {"number": "LP1"}]


NOT_THE_ENVELOPE: list[tuple[str, bytes | Any]] = [
    ("empty", b""),
    ("not JSON", b"<html>busy</html>"),
    ("a list", [1, 2]),
    ("no code", {"data": {"accepted": []}}),
    ("code not a number", {"code": "ok", "data": {}}),
    ("no data", {"code": 0}),
    ("data a list", {"code": 0, "data": []}),
    ("accepted not a list", ok({"accepted": "all"})),
    ("rejected not a list", ok({"rejected": {"number": "x"}})),
    ("rejected item not an object", ok({"rejected": ["RR123456789CN"]})),
    ("rejected item without error", ok({"rejected": [{"number": "RR123456789CN"}]})),
    ("accepted item without number", ok({"accepted": [{"carrier": 3011}]})),
    ("nested too deeply", b"[" * 50_000 + b"]" * 50_000),
]


@pytest.mark.parametrize(("case", "body"), NOT_THE_ENVELOPE, ids=[case for case, _ in NOT_THE_ENVELOPE])
def test_an_answer_that_is_not_the_envelope_is_malformed(
    hostile: Hostile, provider: Track17Provider, case: str, body: Any
) -> None:
    hostile.answer((200, body))

    with pytest.raises(MalformedPayload):
        provider.register([Registration("RR123456789CN")])
    assert len(hostile.requests) == 1  # not retried: it would say the same


def test_one_unreadable_item_is_rejected_the_others_are_kept(hostile: Hostile, provider: Track17Provider) -> None:
    good = {"number": "RR000000001CN", "carrier": 3011, "track_info": None}
    bad = {"number": "RR000000002CN", "track_info": {"latest_status": "Delivered"}}
    hostile.answer((200, ok({"accepted": [good, bad, "garbage"], "rejected": []})))

    result = provider.poll_result(["RR000000001CN", "RR000000002CN"])

    assert [t.number for t in result.tracked] == ["RR000000001CN"]
    assert [(r.number, r.code) for r in result.rejected] == [("RR000000002CN", MALFORMED), ("", MALFORMED)]
    assert "latest_status" in result.rejected[0].reason


def test_a_quota_that_is_not_counts(hostile: Hostile, provider: Track17Provider) -> None:
    hostile.answer(
        (200, ok({"quota_total": "lots", "quota_used": 1})),
        (200, ok({"quota_total": 100, "quota_used": -1})),
        (200, ok({"quota_total": 100, "quota_used": 7})),
    )

    with pytest.raises(MalformedPayload, match="quota_total"):
        provider.quota()
    with pytest.raises(MalformedPayload, match="quota_used"):
        provider.quota()
    quota = provider.quota()  # no quota_remain: worked out
    assert (quota.total, quota.used, quota.remaining) == (100, 7, 93)


def test_refusals_typed(hostile: Hostile, provider: Track17Provider) -> None:
    too_many = {"code": -18010014, "data": {"errors": [{"code": -18010014, "message": "<b>Too</b> many"}]}}
    disabled = {"code": -18010004, "data": {"errors": [{"code": -18010004, "message": "Account is disabled."}]}}
    hostile.answer((200, too_many), (200, disabled), (401, {"code": -18010002}), (404, b"not here"))

    with pytest.raises(Track17Refusal) as refused:
        provider.poll(["RR123456789CN"])
    with pytest.raises(CredentialsError):
        provider.poll(["RR123456789CN"])
    with pytest.raises(CredentialsError, match="TRACK17_API_KEY"):
        provider.poll(["RR123456789CN"])
    with pytest.raises(ProviderError) as not_found:
        provider.poll(["RR123456789CN"])

    assert (refused.value.code, refused.value.said, refused.value.retryable) == (-18010014, "Too many", False)
    assert not not_found.value.retryable
    assert len(hostile.requests) == 4  # none retried
    assert all("SECRET-KEY" not in a.error for a in provider.client.attempts)


def test_rate_limits_typed(hostile: Hostile, provider: Track17Provider) -> None:
    hostile.answer(
        (429, b"", {"Retry-After": "7"}),
        (200, {"code": 429, "data": {"errors": [{"code": 429, "message": "slow down"}]}}),
        (429, b"", {"Retry-After": "99999"}),
    )

    waits = []
    for _ in range(3):
        with pytest.raises(RateLimited) as limited:
            provider.poll(["RR123456789CN"])
        waits.append(limited.value.retry_after)

    assert waits == [7.0, 1.0, 3600.0]  # the header, the default, the ceiling of a hostile header
    assert len(hostile.requests) == 3


def test_an_internal_error_is_retried_then_retryable(hostile: Hostile, provider: Track17Provider) -> None:
    internal = {"code": -18010003, "data": {"errors": [{"code": -18010003, "message": "Internal service error."}]}}
    hostile.answer((200, internal), (200, ok({"accepted": [{"number": "RR123456789CN", "carrier": 3011}]})))

    result = provider.register([Registration("RR123456789CN")])
    hostile.requests.clear()
    hostile.answer((503, b"down"))
    with pytest.raises(ProviderError) as failed:
        provider.register([Registration("RR123456789CN")])

    assert result.accepted_numbers == ("RR123456789CN",)
    assert failed.value.retryable
    assert len(hostile.requests) == 2  # max_attempts


def test_a_timeout_is_retried_then_retryable_never_an_unknown_outcome(hostile: Hostile) -> None:
    # every 17TRACK call may be repeated (register twice = "already registered"), so a timeout is
    # tried again, not left as an outcome to find out
    hostile.answer((200, ok({"accepted": [], "rejected": []})))
    hostile.delay = 1.0
    slow = Track17Provider(base_url=hostile.url, api_key="K", timeout=0.2, max_attempts=2, sleep=lambda s: None)

    with pytest.raises(ProviderError) as failed:
        slow.register([Registration("RR123456789CN")])

    assert failed.value.retryable
    assert not isinstance(failed.value, OutcomeUnknown)
    assert [a.status for a in slow.client.attempts] == [None, None]
    slow.close()
