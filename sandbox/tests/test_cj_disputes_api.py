"""The simulated CJ dispute API over real HTTP: products, confirm, create under businessDisputeId
(a repeat is the same dispute), the lines and money checked, cancel, the list; the money paid
back credited once in the ledger."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from sandbox.clock import sim_now
from sandbox.models import Refund
from sandbox.tests.test_cj_api import ORDER, Cj
from sandbox.world import world_tick

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def paid(control: Any) -> tuple[Cj, str]:
    cj = Cj(control.account("cj", "cj-disputer"))
    control.options("cj", "cj-disputer", refund_decision="approve")
    made = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "ZD-1", "payType": 2})
    assert made["result"], made
    return cj, made["data"]["orderId"]


def create(cj: Cj, order_id: str, key: str, line: str, quantity: int = 1, price: float = 5.0) -> dict[str, Any]:
    return cj.post(
        "disputes/create",
        {
            "orderId": order_id,
            "businessDisputeId": key,
            "disputeReasonId": 2,
            "expectType": 1,
            "refundType": 1,
            "messageText": "Cracked",
            "imageUrl": ["https://example.com/a.jpg"],
            "productInfoList": [{"lineItemId": line, "quantity": quantity, "price": price}],
        },
    )


def test_the_flow_and_a_repeated_key_is_one_dispute(paid: tuple[Cj, str]) -> None:
    cj, order_id = paid
    products = cj.get("disputes/disputeProducts", orderId=order_id)["data"]
    [line] = products["productInfoList"]
    assert (line["canChoose"], line["quantity"]) == (True, 2)
    confirm = cj.post(
        "disputes/disputeConfirmInfo",
        {"orderId": order_id, "productInfoList": [{"lineItemId": line["lineItemId"], "quantity": 1}]},
    )["data"]
    assert confirm["disputeReasonList"]
    assert confirm["maxAmount"] > 0

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: create(cj, order_id, "zr-1", line["lineItemId"]), range(4)))

    assert all(answer["result"] and answer["data"] is True for answer in answers), answers
    assert Refund.objects.filter(idempotency_key="zr-1").count() == 1
    listed = cj.get("disputes/getDisputeList", orderId=order_id, pageNum="1", pageSize="10")["data"]
    assert listed["total"] == 1
    assert (listed["list"][0]["businessDisputeId"], listed["list"][0]["status"]) == ("zr-1", "PENDING")
    after = cj.get("disputes/disputeProducts", orderId=order_id)["data"]["productInfoList"][0]
    assert (after["canChoose"], after["quantity"]) == (False, 1)  # an open dispute on the line


def test_lines_and_money_are_checked(paid: tuple[Cj, str]) -> None:
    cj, order_id = paid
    line = cj.get("disputes/disputeProducts", orderId=order_id)["data"]["productInfoList"][0]["lineItemId"]

    too_many = create(cj, order_id, "zr-a", line, quantity=3)
    not_a_line = create(cj, order_id, "zr-b", "123")
    too_much = create(cj, order_id, "zr-c", line, price=10_000)
    first = create(cj, order_id, "zr-d", line)
    second_open = create(cj, order_id, "zr-e", line)
    no_key = create(cj, order_id, "", line)

    assert (too_many["code"], first["code"]) == (1603001, 200)
    assert "between 1 and 2 units" in too_many["message"]
    assert not_a_line["code"] == 1600101
    assert (too_much["code"], "at most" in too_much["message"]) == (1603001, True)
    assert (second_open["code"], "open dispute" in second_open["message"]) == (1603001, True)
    assert no_key["code"] == 1600101
    assert Refund.objects.count() == 1


def test_cancel_withdraws_a_dispute_in_review(paid: tuple[Cj, str]) -> None:
    cj, order_id = paid
    line = cj.get("disputes/disputeProducts", orderId=order_id)["data"]["productInfoList"][0]["lineItemId"]
    create(cj, order_id, "zr-x", line)
    dispute = cj.get("disputes/getDisputeList", orderId=order_id)["data"]["list"][0]

    assert cj.post("disputes/cancel", {"orderId": order_id, "disputeId": dispute["id"]})["result"]
    assert cj.post("disputes/cancel", {"orderId": order_id, "disputeId": dispute["id"]})["result"]  # again: done
    assert cj.post("disputes/cancel", {"orderId": order_id, "disputeId": "nope"})["code"] == 1600100
    listed = cj.get("disputes/getDisputeList", orderId=order_id)["data"]["list"][0]
    assert (listed["status"], listed["finallyDeal"]) == ("CANCELLED", None)
    assert create(cj, order_id, "zr-y", line)["result"]  # the line is free again


def test_an_approved_dispute_is_credited_once(control: Any, paid: tuple[Cj, str]) -> None:
    cj, order_id = paid
    line = cj.get("disputes/disputeProducts", orderId=order_id)["data"]["productInfoList"][0]["lineItemId"]
    create(cj, order_id, "zr-paid", line, price=5.0)
    now = sim_now()
    for hours in (0, 21, 46, 80):
        world_tick(now=now + timedelta(hours=hours))

    listed = cj.get("disputes/getDisputeList", orderId=order_id)["data"]["list"][0]
    assert (listed["status"], listed["finallyDeal"], listed["money"]) == ("COMPLETED", 1, 5.0)
    credits = [credit for credit in control.credits() if credit["refund_key"] == "zr-paid"]
    assert [credit["amount"] for credit in credits] == ["5.00"]
