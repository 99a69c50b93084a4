"""Fulfillment push-back to Shopify against the sandbox over real HTTP: full and partial pushes, a
repeat and a fulfillment made by hand recognised, Shopify's refusals, 5xx/429, unknown carriers."""

from __future__ import annotations

from typing import Any

import pytest

from channels_sync.fulfillment import AlreadyFulfilled, FulfillmentLine, FulfillmentRequest, Pushed, PushRefused
from channels_sync.providers.base import provider_for
from channels_sync.providers.shopify.fulfillment import fulfilled_with_number, open_lines, push_fulfillment
from channels_sync.providers.shopify.provider import ShopifyProvider
from channels_sync.tests.fulfillment_helpers import AfterAttempt, order_lines
from integrations.errors import ProviderError
from sandbox.models import ChannelOrder as SimOrder
from sandbox.models import Fulfillment as SimFulfillment
from sandbox.providers.shopify.orders import fulfillment_create as sandbox_fulfillment_create
from sandbox.providers.shopify.render import FO_ID_OFFSET
from sandbox.tests.conftest import SANDBOX_LIVE_DB

pytestmark = SANDBOX_LIVE_DB

SHOP = "push-shop"


@pytest.fixture
def shop(control: Any) -> dict[str, Any]:
    return control.account("shopify", SHOP)


@pytest.fixture
def provider(shop: dict[str, Any]) -> ShopifyProvider:
    made = provider_for("shopify", base_url=shop["base_url"], credentials=shop["credentials"])
    assert isinstance(made, ShopifyProvider)
    made.client.sleep = lambda seconds: None
    return made


def multi_line_order(control: Any) -> str:
    """An order of at least two lines (the seeded purchases vary)."""
    for seed in range(40, 80):
        (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=seed)
        if len(SimOrder.objects.get(external_id=order_id).lines) >= 2:
            return str(order_id)
    raise AssertionError("no seed made an order of two lines")


def fulfillments_of(order_id: str) -> list[tuple[str, str, dict[str, int], str | None, bool]]:
    """The sandbox's fulfillments of the order: number, company, quantities, URL, notify."""
    rows = SimFulfillment.objects.filter(order__external_id=order_id).order_by("id")
    return [
        (
            row.tracking_number,
            row.tracking_company,
            row.payload["quantities"],
            row.payload["tracking_url"],
            row.payload["notify_customer"],
        )
        for row in rows
    ]


def test_a_full_push_fulfils_every_line_with_shopifys_carrier_name(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=11)
    request = FulfillmentRequest(channel_order_id=order_id, tracking_number="YT2412345678901", carrier="Yun Express")

    result = push_fulfillment(provider, request)

    order = SimOrder.objects.get(external_id=order_id)
    row = SimFulfillment.objects.get(order=order)
    assert result == Pushed(row.external_id, detail="YunExpress")
    everything = {str(line["id"]): line["quantity"] for line in order.lines}
    url = "https://www.yuntrack.com/parcelTracking?id=YT2412345678901"  # Shopify builds it for its carriers
    assert fulfillments_of(order_id) == [("YT2412345678901", "YunExpress", everything, url, True)]
    assert order.extra["fulfillment"] == "fulfilled"


def test_a_partial_push_fulfils_only_the_parcels_lines(control: Any, provider: ShopifyProvider) -> None:
    order_id = multi_line_order(control)
    first, *rest = order_lines(provider, order_id)

    one = push_fulfillment(
        provider,
        FulfillmentRequest(order_id, "LP00111222333CN", "4PX", lines=(first,), notify_customer=False),
    )
    after_one = SimOrder.objects.get(external_id=order_id).extra["fulfillment"]
    other = push_fulfillment(provider, FulfillmentRequest(order_id, "LP00444555666CN", "4PX", lines=tuple(rest)))

    assert isinstance(one, Pushed)
    assert isinstance(other, Pushed)
    assert after_one == "partial"
    url = "http://track.4px.com/query/{}"
    assert fulfillments_of(order_id) == [
        ("LP00111222333CN", "4PX", {first.channel_line_id: first.quantity}, url.format("LP00111222333CN"), False),
        (
            "LP00444555666CN",
            "4PX",
            {line.channel_line_id: line.quantity for line in rest},
            url.format("LP00444555666CN"),
            True,
        ),
    ]
    assert SimOrder.objects.get(external_id=order_id).extra["fulfillment"] == "fulfilled"


def test_a_second_identical_push_is_recognised_not_sent(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=12)
    request = FulfillmentRequest(order_id, "9400111899560000000001", "USPS")
    push_fulfillment(provider, request)
    calls = len(provider.attempts)

    again = push_fulfillment(provider, request)

    assert isinstance(again, AlreadyFulfilled)
    assert "9400111899560000000001" in again.detail
    assert len(provider.attempts) == calls + 1  # one read, no mutation
    assert len(fulfillments_of(order_id)) == 1


def test_an_order_fulfilled_by_hand_is_recognised(
    control: Any, shop: dict[str, Any], provider: ShopifyProvider
) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=13)
    account = SimOrder.objects.get(external_id=order_id).account
    data = {"line_items_by_fulfillment_order": [{"fulfillment_order_id": int(order_id) + FO_ID_OFFSET}]}
    sandbox_fulfillment_create(account=account, data={**data, "tracking_info": {"number": "BYHAND1", "company": "UPS"}})

    result = push_fulfillment(provider, FulfillmentRequest(order_id, "OURS12345678", "UPS"))

    assert isinstance(result, AlreadyFulfilled)
    assert [row[0] for row in fulfillments_of(order_id)] == ["BYHAND1"]


def test_an_unknown_carrier_goes_with_its_name_and_url(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=14)
    url = "https://speedy.example/track/SP123456"

    push_fulfillment(provider, FulfillmentRequest(order_id, "SP123456", "Speedy  Parcels", tracking_url=url))

    assert [(row[0], row[1], row[3]) for row in fulfillments_of(order_id)] == [("SP123456", "Speedy Parcels", url)]


def test_a_carrier_off_shopifys_list_gets_our_url(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=15)

    push_fulfillment(provider, FulfillmentRequest(order_id, "LP0099887766", "AliExpress Standard Shipping"))

    expected = ("LP0099887766", "Cainiao", "https://global.cainiao.com/newDetail.htm?mailNoList=LP0099887766")
    assert [(row[0], row[1], row[3]) for row in fulfillments_of(order_id)] == [expected]


def test_the_accounts_mapping_comes_first(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=16)
    request = FulfillmentRequest(order_id, "1Z999AA10123456784", "SuperFast Line 7")

    push_fulfillment(provider, request, carrier_overrides={"superfast line 7": "UPS"})

    assert [(row[0], row[1]) for row in fulfillments_of(order_id)] == [("1Z999AA10123456784", "UPS")]


def test_shopifys_refusal_is_surfaced_with_its_words(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=17)
    # The buyer cancels between our read of the order and our fulfillmentCreate.
    provider.client.recorder = AfterAttempt(1, lambda: control.cancel_order("shopify", SHOP, order_id))

    with pytest.raises(PushRefused) as refused:
        push_fulfillment(provider, FulfillmentRequest(order_id, "RACE0001", "UPS"))

    assert refused.value.code == "fulfillment"
    assert refused.value.message == (
        f"Shopify refused it: Fulfillment order {int(order_id) + FO_ID_OFFSET} has an unfulfillable status= cancelled."
    )
    assert fulfillments_of(order_id) == []


def test_a_cancelled_order_is_refused(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=18)
    control.cancel_order("shopify", SHOP, order_id)

    with pytest.raises(PushRefused) as refused:
        push_fulfillment(provider, FulfillmentRequest(order_id, "CANCEL01", "UPS"))

    assert refused.value.code == "order_cancelled"
    assert fulfillments_of(order_id) == []


def test_unknown_order_and_line_are_refused(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=19)

    with pytest.raises(PushRefused) as no_order:
        push_fulfillment(provider, FulfillmentRequest("5100999999999", "N0000001", "UPS"))
    with pytest.raises(PushRefused) as no_line:
        push_fulfillment(provider, FulfillmentRequest(order_id, "N0000002", "UPS", lines=(FulfillmentLine("42", 1),)))

    assert (no_order.value.code, no_order.value.message) == ("order_not_found", "Shopify has no order 5100999999999")
    assert (no_line.value.code, no_line.value.message) == ("unknown_line", f"Shopify order {order_id} has no line 42")
    assert fulfillments_of(order_id) == []


@pytest.mark.parametrize("fault", ["http_5xx", "http_429"])
def test_5xx_and_429_are_retryable_and_fulfil_nothing(control: Any, provider: ShopifyProvider, fault: str) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=20)
    control.faults({"shopify": {fault: 1.0}})

    with pytest.raises(ProviderError) as failed:
        push_fulfillment(provider, FulfillmentRequest(order_id, "FAULT001", "UPS"))

    assert failed.value.retryable is True
    assert not isinstance(failed.value, PushRefused)
    control.faults({"shopify": {}})
    assert fulfillments_of(order_id) == []


def test_a_mutation_whose_answer_is_lost_is_looked_up_then_retried_once(
    control: Any, provider: ShopifyProvider
) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=21)
    # After our read, Shopify starts failing: the fulfillmentCreate gets a 5xx (outcome unknown)
    # and the lookup that follows fails too; the push is retryable and fulfilled nothing.
    provider.client.recorder = AfterAttempt(1, lambda: control.faults({"shopify": {"http_5xx": 1.0}}))

    with pytest.raises(ProviderError) as failed:
        push_fulfillment(provider, FulfillmentRequest(order_id, "LOST0001", "UPS"))
    control.faults({"shopify": {}})
    provider.client.recorder = None
    retried = push_fulfillment(provider, FulfillmentRequest(order_id, "LOST0001", "UPS"))
    again = push_fulfillment(provider, FulfillmentRequest(order_id, "LOST0001", "UPS"))

    assert failed.value.retryable is True
    assert isinstance(retried, Pushed)
    assert isinstance(again, AlreadyFulfilled)
    assert [row[0] for row in fulfillments_of(order_id)] == ["LOST0001"]


def test_more_lines_for_the_same_number_fulfil_only_the_new_ones(control: Any, provider: ShopifyProvider) -> None:
    # One parcel, two supplier orders: the second hand-over brings the union of the lines. What the
    # number fulfilled already is taken off line by line; only the new lines are sent.
    order_id = multi_line_order(control)
    first, *rest = order_lines(provider, order_id)
    push_fulfillment(provider, FulfillmentRequest(order_id, "COMBINED0001", "UPS", lines=(first,)))

    more = push_fulfillment(provider, FulfillmentRequest(order_id, "COMBINED0001", "UPS", lines=(first, *rest)))
    again = push_fulfillment(provider, FulfillmentRequest(order_id, "COMBINED0001", "UPS", lines=(first, *rest)))

    assert isinstance(more, Pushed)
    assert isinstance(again, AlreadyFulfilled)
    assert [(row[0], row[2]) for row in fulfillments_of(order_id)] == [
        ("COMBINED0001", {first.channel_line_id: first.quantity}),
        ("COMBINED0001", {line.channel_line_id: line.quantity for line in rest}),
    ]
    assert SimOrder.objects.get(external_id=order_id).extra["fulfillment"] == "fulfilled"


def test_a_read_that_does_not_hold_every_fulfillment_is_refused_not_guessed() -> None:
    many = [{"id": f"gid://shopify/Fulfillment/{n}", "status": "SUCCESS", "trackingInfo": []} for n in range(10)]
    order = {"fulfillments": many, "fulfillmentOrders": {"nodes": []}}
    request = FulfillmentRequest("1", "NUMBER1", "UPS")

    with pytest.raises(PushRefused) as refused:
        fulfilled_with_number(order, request.tracking_number)
    paged = {"nodes": [{"id": "x", "lineItems": {"nodes": []}}], "pageInfo": {"hasNextPage": True}}
    with pytest.raises(PushRefused) as more_orders:
        open_lines({"fulfillmentOrders": paged})

    assert refused.value.code == "too_many_fulfillments"
    assert more_orders.value.code == "too_many_fulfillment_orders"


class Steps:
    """An attempt recorder that runs ``actions[n]`` right after attempt n + 1 (a real race)."""

    def __init__(self, *actions: Any) -> None:
        self.actions, self.seen = list(actions), 0

    def __call__(self, attempt: Any) -> None:
        self.seen += 1
        if self.seen <= len(self.actions):
            self.actions[self.seen - 1]()


def test_a_lost_answer_is_not_mistaken_for_the_numbers_earlier_fulfillment(
    control: Any, provider: ShopifyProvider
) -> None:
    # The number fulfilled line 1 already; the create for the rest loses its answer (a 5xx) and
    # made nothing. The lookup finds only the earlier fulfillment: that is not this one.
    order_id = multi_line_order(control)
    first, *rest = order_lines(provider, order_id)
    push_fulfillment(provider, FulfillmentRequest(order_id, "SPLIT0000001", "UPS", lines=(first,)))
    provider.client.recorder = Steps(
        lambda: control.faults({"shopify": {"http_5xx": 1.0}}),  # after the read: the create fails
        lambda: control.faults({"shopify": {}}),  # after the create: the lookup is answered
    )

    with pytest.raises(ProviderError) as lost:
        push_fulfillment(provider, FulfillmentRequest(order_id, "SPLIT0000001", "UPS", lines=(first, *rest)))
    provider.client.recorder = None
    control.faults({"shopify": {}})
    retried = push_fulfillment(provider, FulfillmentRequest(order_id, "SPLIT0000001", "UPS", lines=(first, *rest)))

    assert lost.value.retryable is True
    assert isinstance(retried, Pushed)
    assert [row[2] for row in fulfillments_of(order_id)] == [
        {first.channel_line_id: first.quantity},
        {line.channel_line_id: line.quantity for line in rest},
    ]
