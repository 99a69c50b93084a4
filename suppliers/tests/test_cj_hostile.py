"""CJ answers the simulator does not give: the documented codes it lacks (1603101, 1604000,
1600000) and hostile shapes, served by a plain HTTP server on 127.0.0.1. Every wrong shape is a
``ProviderError`` (never an AttributeError or a KeyError); no database is needed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations.errors import OutcomeUnknown, ProviderError
from integrations.oauth import GrantRefused
from suppliers.providers.base import PaymentFailed, PlaceLine, PlaceRequest, ShipTo, SupplierRefused
from suppliers.providers.cj import CjProvider

ORDER = {"orderId": "2400000000000000042", "orderNum": "zopi-1", "orderStatus": "UNSHIPPED", "orderAmount": 12.5}
REQUEST = PlaceRequest(
    idempotency_key="zopi-1",
    lines=(PlaceLine("VID-1", "", 1),),
    ship_to=ShipTo(name="Ana", phone="1", address1="1 Main St", city="Austin", country_code="US", zip="78701"),
)


def envelope(code: int = 200, data: Any = None, message: str = "Success", result: bool | None = None) -> bytes:
    ok = code == 200 if result is None else result
    return json.dumps({"code": code, "result": ok, "message": message, "data": data, "requestId": "r"}).encode()


class FakeCj:
    """Answers every request with ``status`` and ``body``; counts requests per path."""

    def __init__(self) -> None:
        self.status, self.body = 200, envelope(data=ORDER)
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                fake.paths.append(self.path.split("?")[0])
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            do_GET = do_POST = answer  # noqa: N815 (http.server's naming)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api2.0/v1"


@pytest.fixture
def fake() -> Iterator[FakeCj]:
    server = FakeCj()
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def provider(fake: FakeCj) -> CjProvider:
    return CjProvider(base_url=fake.url, credentials={"access_token": "t"}, max_attempts=2)


@pytest.mark.parametrize(
    ("code", "said"), [(1604000, "wallet balance is too low"), (1603101, "could not pay the order")]
)
def test_documented_payment_codes(fake: FakeCj, provider: CjProvider, code: int, said: str) -> None:
    fake.body = envelope(code, message="pay failed")
    with pytest.raises(PaymentFailed) as failed:
        provider.pay("2400000000000000042")
    assert failed.value.refusal.code == str(code)
    assert said in failed.value.refusal.message


def test_a_payment_code_on_create_is_a_payment_refusal(fake: FakeCj, provider: CjProvider) -> None:
    fake.body = envelope(1604000, message="Balance insufficient")
    with pytest.raises(PaymentFailed, match="wallet balance"):
        provider.place(REQUEST)


def test_system_busy_on_a_write_is_unknown_and_on_a_read_retried(fake: FakeCj, provider: CjProvider) -> None:
    fake.body = envelope(1600000, message="System busy")
    with pytest.raises(OutcomeUnknown):
        provider.place(REQUEST)
    assert len(fake.paths) == 1
    with pytest.raises(ProviderError) as failed:
        provider.find("zopi-1")
    assert failed.value.retryable
    assert len(fake.paths) == 3  # the read was tried twice (max_attempts=2)


def test_call_limit_in_an_http_200_is_retried(fake: FakeCj, provider: CjProvider) -> None:
    fake.body = envelope(1600200, message="Too much request")
    with pytest.raises(ProviderError) as failed:
        provider.place(REQUEST)
    assert not isinstance(failed.value, OutcomeUnknown)
    assert failed.value.retryable
    assert len(fake.paths) == 2


def test_an_undocumented_code_is_a_refusal_with_its_code(fake: FakeCj, provider: CjProvider) -> None:
    fake.body = envelope(1609999, message="<b>Product removed</b>\x00")
    with pytest.raises(SupplierRefused) as refused:
        provider.place(REQUEST)
    assert refused.value.refusal.code == "1609999"
    assert "<b>" not in refused.value.refusal.message
    assert "\x00" not in refused.value.refusal.message


def test_success_code_with_result_false_is_a_refusal(fake: FakeCj, provider: CjProvider) -> None:
    fake.body = envelope(200, data=ORDER, result=False)
    with pytest.raises(SupplierRefused):
        provider.place(REQUEST)


def test_find_refuses_an_order_of_another_number(fake: FakeCj, provider: CjProvider) -> None:
    fake.body = envelope(data={**ORDER, "orderNum": "someone-else"})
    with pytest.raises(ProviderError, match="another order"):
        provider.find("zopi-1")


HOSTILE_DATA = [
    None,
    [],
    "order",
    {},
    {"orderId": ""},
    {"orderId": {"x": 1}},
    {**ORDER, "orderStatus": ["PAID"]},
    {**ORDER, "orderAmount": "lots"},
    {**ORDER, "orderAmount": -1},
    {**ORDER, "orderAmount": True},
    {**ORDER, "orderAmount": "NaN"},
    {**ORDER, "orderAmount": 1e30},
    {**ORDER, "postageAmount": {"usd": 1}},
    {**ORDER, "trackNumber": 5.5},
]


@pytest.mark.parametrize("data", HOSTILE_DATA)
def test_hostile_order_data_is_a_provider_error(fake: FakeCj, provider: CjProvider, data: Any) -> None:
    fake.body = envelope(data=data)
    for call in (lambda: provider.place(REQUEST), lambda: provider.get("2400000000000000042")):
        with pytest.raises(ProviderError):
            call()


@pytest.mark.parametrize(
    "body",
    [b"[]", b"not json", b'{"code": "x"}', b'{"code": true, "result": true}', b"[[[[[[[[" * 10000, b""],
)
def test_hostile_envelopes_are_provider_errors(fake: FakeCj, provider: CjProvider, body: bytes) -> None:
    fake.body = body
    with pytest.raises(ProviderError):
        provider.place(REQUEST)


def test_an_http_error_page_on_a_write_is_unknown(fake: FakeCj, provider: CjProvider) -> None:
    fake.status, fake.body = 502, b"<html>Bad gateway</html>"
    with pytest.raises(OutcomeUnknown):
        provider.pay("2400000000000000042")


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"accessToken": "a"},
        {"accessToken": 5, "refreshToken": "r"},
        {"accessToken": "a", "refreshToken": "r", "accessTokenExpiryDate": "tomorrow"},
        {"accessToken": "a", "refreshToken": "r", "accessTokenExpiryDate": "2001-01-01T00:00:00+08:00"},
        {"accessToken": "a", "refreshToken": "r", "accessTokenExpiryDate": "2099-01-01T00:00:00"},
        {"accessToken": "a", "refreshToken": "r", "refreshTokenExpiryDate": 123},
    ],
)
def test_hostile_token_answers_are_provider_errors(fake: FakeCj, data: Any) -> None:
    fake.body = envelope(data=data)
    with pytest.raises(ProviderError):
        CjProvider.token_get(base_url=fake.url, api_key="k")


def test_token_answer_without_expiries_is_read(fake: FakeCj) -> None:
    fake.body = envelope(data={"accessToken": "a", "refreshToken": "r", "openId": True})
    grant = CjProvider.token_get(base_url=fake.url, api_key="k")
    assert (grant.access_token, grant.expires_at, dict(grant.extra)) == ("a", None, {})


def test_a_refused_refresh_token_is_grant_refused(fake: FakeCj) -> None:
    fake.body = envelope(1600001, message="refreshToken is invalid")
    with pytest.raises(GrantRefused):
        CjProvider.refresh_grant(base_url=fake.url, credentials={"refresh_token": "r"})
