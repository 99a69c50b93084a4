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
    assert infos["zr-key-3"].rejection_reason == "Photos show no fault"  # rejectReason, never the buyer's reason
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


@pytest.mark.parametrize("data", [None, "nope", {"list": "nope"}])
def test_hostile_lists_are_clear_errors(fake: FakeCjDisputes, provider: CjProvider, data: Any) -> None:
    fake.bodies["getDisputeList"] = {"code": 200, "result": True, "message": "Success", "data": data}
    with pytest.raises(ProviderError):
        provider.refunds_get("2400000000000000042")


@pytest.mark.parametrize("money", ["lots", 10**9, True, {"x": 1}])
def test_one_bad_entry_is_kept_without_its_amount_and_never_blocks_the_others(
    fake: FakeCjDisputes, provider: CjProvider, money: Any
) -> None:
    good = {"id": "2", "businessDisputeId": "zr-2", "status": "PENDING", "money": 5, "finallyDeal": None}
    fake.bodies["getDisputeList"] = {
        "code": 200,
        "result": True,
        "message": "Success",
        "data": {"total": 2, "list": [{"id": "1", "status": "COMPLETED", "finallyDeal": 1, "money": money}, good]},
    }
    bad, fine = provider.refunds_get("2400000000000000042")
    assert (bad.external_id, bad.amount, bad.status, bad.state, bad.refunded_amount) == ("1", None, "", "", None)
    assert (fine.external_id, fine.amount, fine.state) == ("2", Decimal("5.00"), RefundState.IN_REVIEW)


def test_a_rejection_without_cjs_reject_reason_never_shows_the_buyers_reason(
    fake: FakeCjDisputes, provider: CjProvider
) -> None:
    entry = {"id": "3", "status": "REJECTED", "finallyDeal": 3, "money": 0, "disputeReason": "Products damaged"}
    fake.bodies["getDisputeList"] = {
        "code": 200,
        "result": True,
        "message": "Success",
        "data": {"total": 1, "list": [entry]},
    }
    [info] = provider.refunds_get("2400000000000000042")
    assert (info.state, info.rejection_reason) == (RefundState.REJECTED, "")


def test_pages_are_read_until_the_items_seen_reach_the_total(fake: FakeCjDisputes, provider: CjProvider) -> None:
    # given a CJ that ignores pageSize=50 and answers 10 a page, of 60
    page = [{"id": str(n), "status": "PENDING", "money": 1} for n in range(10)]
    fake.bodies["getDisputeList"] = {
        "code": 200,
        "result": True,
        "message": "Success",
        "data": {"total": 60, "list": page},
    }
    assert len(provider.refunds_get("2400000000000000042")) == 60
    assert sum("getDisputeList" in path for path, _ in fake.sent) == 6


def test_an_empty_page_ends_the_list(fake: FakeCjDisputes, provider: CjProvider) -> None:
    fake.bodies["getDisputeList"] = {
        "code": 200,
        "result": True,
        "message": "Success",
        "data": {"total": 60, "list": []},
    }
    assert provider.refunds_get("2400000000000000042") == []
    assert sum("getDisputeList" in path for path, _ in fake.sent) == 1


def test_the_money_is_split_by_each_lines_share(fake: FakeCjDisputes, provider: CjProvider) -> None:
    # given two lines, 12.50 and 3.10 a unit (both open here), 2 and 1 units asked
    products = fake.bodies["disputeProducts"]["data"]["productInfoList"]
    products[1] = {**products[1], "canChoose": True, "quantity": 1}
    two_lines = RefundAsk(
        **{
            **ask(amount="14.00").__dict__,
            "items": (
                RefundAskItem(supplier_product_id="VID-1", supplier_sku="", quantity=2),
                RefundAskItem(supplier_product_id="VID-2", supplier_sku="", quantity=1),
            ),
        }
    )
    provider.refund_create(two_lines)
    [create] = [body for path, body in fake.sent if path.endswith("/create")]
    # 14.00 × 25.00/28.10 = 12.46; the rest on the last line (never 7.00 each)
    assert [line["price"] for line in create["productInfoList"]] == [12.46, 1.54]


@pytest.mark.parametrize("code", [1600100, 1600101])
def test_a_parameter_error_is_our_bug_never_cjs_decision(fake: FakeCjDisputes, provider: CjProvider, code: int) -> None:
    fake.bodies["create"] = {"code": code, "result": False, "message": "Param error", "data": None}
    with pytest.raises(SupplierRefused) as refused:
        provider.refund_create(ask())
    assert refused.value.refusal.request_error


def test_a_refusal_of_the_create_is_cjs_decision(fake: FakeCjDisputes, provider: CjProvider) -> None:
    fake.bodies["create"] = {"code": 1603001, "result": False, "message": "Not allowed", "data": None}
    with pytest.raises(SupplierRefused) as refused:
        provider.refund_create(ask())
    assert not refused.value.refusal.request_error


def test_a_read_back_that_fails_after_cj_made_the_dispute_is_still_made(
    fake: FakeCjDisputes, provider: CjProvider
) -> None:
    fake.status["getDisputeList"] = 502
    fake.bodies["getDisputeList"] = b"<html>Bad gateway</html>"
    info = provider.refund_create(ask())
    assert (info.external_id, info.state, info.idempotency_key) == ("", RefundState.IN_REVIEW, "zr-key-1")


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
