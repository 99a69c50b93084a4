"""CJ's dispute API, replayed: stored answers in CJ's documented shapes (tests/data) and hostile
ones, served by a plain HTTP server on 127.0.0.1. Every wrong shape is a clear ``ProviderError``
or a kept, unknown status (state ""), never a crash; no database is needed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from integrations.errors import OutcomeUnknown, ProviderError
from orders.enums import RefundReason, RefundState
from suppliers.providers.base import RefundAsk, RefundAskItem, SupplierRefused
from suppliers.providers.cj import CjProvider
from suppliers.providers.cj.disputes import state_of

STORED = json.loads((Path(__file__).parent / "data" / "cj_dispute_answers.json").read_text())


class FakeCjDisputes:
    """Answers each dispute path with its stored (or replaced) body; records what was sent."""

    def __init__(self) -> None:
        self.bodies: dict[str, Any] = {name: STORED[name] for name in STORED if not name.startswith("_")}
        self.status: dict[str, int] = {}
        self.sent: list[tuple[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                fake.sent.append((self.path, json.loads(raw) if raw else None))
                body = fake.bodies.get(name)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(fake.status.get(name, 200))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = answer  # noqa: N815 (http.server's naming)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api2.0/v1"


@pytest.fixture
def fake() -> Iterator[FakeCjDisputes]:
    server = FakeCjDisputes()
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def provider(fake: FakeCjDisputes) -> CjProvider:
    return CjProvider(base_url=fake.url, credentials={"access_token": "t"}, max_attempts=2)


def ask(key: str = "zr-key-1", amount: str = "10.00", vid: str = "VID-1") -> RefundAsk:
    return RefundAsk(
        idempotency_key=key,
        external_order_id="2400000000000000042",
        reason=RefundReason.DAMAGED,
        note="Cracked on arrival",
        evidence=("https://example.com/p.jpg",),
        amount=Decimal(amount),
        currency="USD",
        items=(RefundAskItem(supplier_product_id=vid, supplier_sku="", quantity=1),),
    )


def test_the_documented_sequence_is_sent_and_the_dispute_read_back_by_our_key(
    fake: FakeCjDisputes, provider: CjProvider
) -> None:
    info = provider.refund_create(ask())

    paths = [path.split("?")[0].rsplit("/", 1)[-1] for path, _ in fake.sent]
    assert paths == ["disputeProducts", "disputeConfirmInfo", "create", "getDisputeList"]
    create = fake.sent[2][1]
    assert create == {
        "orderId": "2400000000000000042",
        "businessDisputeId": "zr-key-1",
        "disputeReasonId": 12,  # "damaged" matched in CJ's reason names
        "expectType": 1,
        "refundType": 1,
        "messageText": "Cracked on arrival",
        "imageUrl": ["https://example.com/p.jpg"],
        "productInfoList": [{"lineItemId": "2711000000000000001", "quantity": 1, "price": 10.0}],
    }
    assert (info.external_id, info.status, info.state, info.amount) == (
        "9100000001",
        "PENDING",
        RefundState.IN_REVIEW,
        Decimal("10.00"),
    )


def test_the_list_maps_finally_deal_and_keeps_what_it_does_not_know(provider: CjProvider) -> None:
    infos = {info.idempotency_key: info for info in provider.refunds_get("2400000000000000042")}
    assert infos["zr-key-2"].state == RefundState.REFUNDED
    assert infos["zr-key-2"].refunded_amount == Decimal("4.00")
    assert infos["zr-key-3"].state == RefundState.REJECTED
    assert infos["zr-key-3"].rejection_reason == "Photos show no fault"
    assert state_of("SOMETHING_NEW", None) == ""
    assert state_of("PROCESSING", 2) == ""  # a reissue: we asked for money
    assert state_of("PROCESSING", 1) == RefundState.APPROVED


def test_a_line_cj_will_not_take_is_refused_before_anything_is_asked(
    fake: FakeCjDisputes, provider: CjProvider
) -> None:
    with pytest.raises(SupplierRefused, match="does not allow a dispute on this line"):
        provider.refund_create(ask(vid="VID-2"))
    with pytest.raises(SupplierRefused, match="does not list this product"):
        provider.refund_create(ask(vid="VID-9"))
    assert all("create" not in path for path, _ in fake.sent)


def test_more_than_cj_allows_is_refused_with_cjs_maximum(fake: FakeCjDisputes, provider: CjProvider) -> None:
    with pytest.raises(SupplierRefused, match="at most 14.50 USD"):
        provider.refund_create(ask(amount="20.00"))


def test_cjs_refusal_of_the_create_keeps_its_words(fake: FakeCjDisputes, provider: CjProvider) -> None:
    fake.bodies["create"] = {"code": 1603001, "result": False, "message": "Dispute already exists", "data": None}
    with pytest.raises(SupplierRefused, match="CJ refused the refund request: Dispute already exists"):
        provider.refund_create(ask())


def test_a_lost_create_answer_is_an_unknown_outcome(fake: FakeCjDisputes, provider: CjProvider) -> None:
    fake.status["create"] = 502
    fake.bodies["create"] = b"<html>Bad gateway</html>"
    with pytest.raises(OutcomeUnknown):
        provider.refund_create(ask())
    assert sum("create" in path for path, _ in fake.sent) == 1  # a write is never repeated blindly


@pytest.mark.parametrize(
    "data",
    [
        None,
        "nope",
        {"list": "nope"},
        {"list": [{"id": "1", "money": "lots"}]},
        {"list": [{"id": "1", "money": 10**9}]},
        {"list": [{"id": "1", "money": True}]},
    ],
)
def test_hostile_lists_are_clear_errors(fake: FakeCjDisputes, provider: CjProvider, data: Any) -> None:
    fake.bodies["getDisputeList"] = {"code": 200, "result": True, "message": "Success", "data": data}
    with pytest.raises(ProviderError):
        provider.refunds_get("2400000000000000042")


def test_entries_without_ids_are_skipped_and_odd_fields_kept_as_text(
    fake: FakeCjDisputes, provider: CjProvider
) -> None:
    fake.bodies["getDisputeList"] = {
        "code": 200,
        "result": True,
        "message": "Success",
        "data": {
            "total": 3,
            "list": [
                {"status": "COMPLETED", "finallyDeal": 1, "money": 3},
                "junk",
                {"id": 77, "status": {"x": 1}, "finallyDeal": "x", "money": None},
            ],
        },
    }
    [info] = provider.refunds_get("2400000000000000042")
    assert (info.external_id, info.status, info.state, info.amount) == ("77", "", "", None)


def test_a_product_list_without_its_list_is_a_clear_error(fake: FakeCjDisputes, provider: CjProvider) -> None:
    fake.bodies["disputeProducts"] = {"code": 200, "result": True, "message": "Success", "data": {"orderId": "1"}}
    with pytest.raises(ProviderError, match="without its productInfoList"):
        provider.refund_create(ask())
