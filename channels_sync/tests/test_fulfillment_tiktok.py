"""Fulfillment push-back to TikTok Shop against the sandbox over real HTTP: packages shipped with the
tracking number and the provider id of the delivery option, a split order, repeats and packages
shipped by hand recognised, an unknown carrier refused by name, TikTok's refusals, 5xx/429."""

from __future__ import annotations

from typing import Any

import pytest

from channels_sync.fulfillment import AlreadyFulfilled, FulfillmentLine, FulfillmentRequest, Pushed, PushRefused
from channels_sync.providers.base import provider_for
from channels_sync.providers.tiktok.fulfillment import push_fulfillment
from channels_sync.providers.tiktok.provider import TikTokProvider
from channels_sync.tests.fulfillment_helpers import AfterAttempt, order_lines
from integrations.errors import ProviderError
from sandbox.models import ChannelOrder as SimOrder
from sandbox.providers.tiktok.orders import package_ship as sandbox_package_ship
from sandbox.tests.conftest import SANDBOX_LIVE_DB

pytestmark = SANDBOX_LIVE_DB

SHOP = "push-tt"
YUNEXPRESS, USPS = "7117858858072016686", "6617675021119438849"  # the sandbox's provider ids


@pytest.fixture
def shop(control: Any) -> dict[str, Any]:
    return control.account("tiktok", SHOP)


@pytest.fixture
def provider(shop: dict[str, Any]) -> TikTokProvider:
    made = provider_for("tiktok", base_url=shop["base_url"], credentials=shop["credentials"])
    assert isinstance(made, TikTokProvider)
    made.client.sleep = lambda seconds: None
    return made


def packages(order_id: str) -> tuple[str, list[tuple[str, str, str, int]]]:
    """The sandbox order's status and packages: status, tracking number, provider id, units."""
    order = SimOrder.objects.get(external_id=order_id)
    return order.status, [
        (p["status"], p.get("tracking_number", ""), p.get("shipping_provider_id", ""), len(p["line_item_ids"]))
        for p in order.extra["packages"]
    ]


def split_order(control: Any) -> str:
    """An order of two SKUs or more, one package per SKU."""
    for seed in range(40, 80):
        (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=seed, split_packages=True)
        if len(SimOrder.objects.get(external_id=order_id).extra["packages"]) >= 2:
            return str(order_id)
    raise AssertionError("no seed made an order of two packages")


def test_a_full_push_ships_the_package_with_the_providers_id(control: Any, provider: TikTokProvider) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=11)
    units = len(SimOrder.objects.get(external_id=order_id).lines)

    result = push_fulfillment(provider, FulfillmentRequest(order_id, "YT2412345678901", "Yun Express"))

    package_id = SimOrder.objects.get(external_id=order_id).extra["packages"][0]["id"]
    assert result == Pushed(package_id, detail=YUNEXPRESS)
    assert packages(order_id) == ("IN_TRANSIT", [("FULFILLING", "YT2412345678901", YUNEXPRESS, units)])
    assert [(f["tracking_number"], f["tracking_company"]) for f in control.fulfillments()] == [
        ("YT2412345678901", "YunExpress")
    ]


def test_a_partial_push_ships_only_the_parcels_package(control: Any, provider: TikTokProvider) -> None:
    order_id = split_order(control)
    first, *_ = order_lines(provider, order_id)

    push_fulfillment(provider, FulfillmentRequest(order_id, "LP00111222333CN", "4PX", lines=(first,)))

    status, found = packages(order_id)
    assert status == "PARTIALLY_SHIPPING"
    shipped = [package for package in found if package[0] != "TO_FULFILL"]
    assert [package[:3] for package in shipped] == [("FULFILLING", "LP00111222333CN", "7117859084333745966")]
    assert shipped[0][3] == first.quantity
    assert len(found) - len(shipped) >= 1


def test_a_second_identical_push_is_recognised(control: Any, provider: TikTokProvider) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=12)
    request = FulfillmentRequest(order_id, "9400111899560000000001", "USPS")
    push_fulfillment(provider, request)

    again = push_fulfillment(provider, request)

    assert again == AlreadyFulfilled("TikTok Shop has the package(s) shipped already (tracking 9400111899560000000001)")
    assert len(control.fulfillments()) == 1


def test_a_package_shipped_by_hand_is_recognised(control: Any, provider: TikTokProvider) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=13)
    order = SimOrder.objects.get(external_id=order_id)
    body = {"self_shipment": {"tracking_number": "BYHAND1", "shipping_provider_id": USPS}}
    sandbox_package_ship(account=order.account, package_id=order.extra["packages"][0]["id"], body=body)

    result = push_fulfillment(provider, FulfillmentRequest(order_id, "OURS12345678", "USPS"))

    assert result == AlreadyFulfilled("TikTok Shop has the package(s) shipped already (tracking BYHAND1)")
    assert [f["tracking_number"] for f in control.fulfillments()] == ["BYHAND1"]


def test_an_unknown_carrier_is_refused_by_name_until_it_is_mapped(control: Any, provider: TikTokProvider) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=14)
    request = FulfillmentRequest(order_id, "BR123456789BR", "Correios")

    with pytest.raises(PushRefused) as refused:
        push_fulfillment(provider, request)
    unshipped = packages(order_id)
    mapped = push_fulfillment(provider, request, carrier_overrides={"CORREIOS": "USPS"})

    assert refused.value.code == "unknown_carrier"
    assert refused.value.message == (
        "TikTok Shop has no shipping provider for the carrier “Correios”: map “Correios” to one of TikTok Shop's "
        "providers in the carrier mapping (USPS, UPS, FedEx, DHL eCommerce, YunExpress, 4PX, Cainiao, Yanwen, "
        "China Post, TT Virtual express)"
    )
    assert unshipped[0] == "AWAITING_SHIPMENT"
    assert isinstance(mapped, Pushed)
    assert packages(order_id)[1][0][1:3] == ("BR123456789BR", USPS)


def test_tiktoks_refusal_is_surfaced_with_its_code_and_words(control: Any, provider: TikTokProvider) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=15)
    # The buyer cancels between our read of the order and the package's ship call.
    provider.client.recorder = AfterAttempt(1, lambda: control.cancel_order("tiktok", SHOP, order_id))

    with pytest.raises(PushRefused) as refused:
        push_fulfillment(provider, FulfillmentRequest(order_id, "RACE0001", "USPS"))

    assert (refused.value.code, refused.value.message) == (
        "21011003",
        "TikTok Shop error 21011003: The order status CANCELLED does not allow shipping.",
    )
    assert control.fulfillments() == []


@pytest.mark.parametrize(("status", "code"), [("UNPAID", "order_unpaid"), ("ON_HOLD", "order_on_hold")])
def test_an_order_not_shippable_yet_is_refused(control: Any, provider: TikTokProvider, status: str, code: str) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=16, status=status)

    with pytest.raises(PushRefused) as refused:
        push_fulfillment(provider, FulfillmentRequest(order_id, "EARLY001", "USPS"))

    assert refused.value.code == code
    assert control.fulfillments() == []


@pytest.mark.parametrize("fault", ["http_5xx", "http_429"])
def test_5xx_and_429_are_retryable_and_ship_nothing(control: Any, provider: TikTokProvider, fault: str) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=17)
    control.faults({"tiktok": {fault: 1.0}})

    with pytest.raises(ProviderError) as failed:
        push_fulfillment(provider, FulfillmentRequest(order_id, "FAULT001", "USPS"))

    assert failed.value.retryable is True
    assert not isinstance(failed.value, PushRefused)
    control.faults({"tiktok": {}})
    assert control.fulfillments() == []


def test_a_ship_whose_answer_is_lost_is_looked_up_then_retried_once(control: Any, provider: TikTokProvider) -> None:
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=18)
    # After the order's read and the providers' list, TikTok fails: the ship call gets a 5xx
    # (outcome unknown) and the lookup after it fails too.
    provider.client.recorder = AfterAttempt(2, lambda: control.faults({"tiktok": {"http_5xx": 1.0}}))

    with pytest.raises(ProviderError) as failed:
        push_fulfillment(provider, FulfillmentRequest(order_id, "LOST0001", "USPS"))
    control.faults({"tiktok": {}})
    provider.client.recorder = None
    retried = push_fulfillment(provider, FulfillmentRequest(order_id, "LOST0001", "USPS"))

    assert failed.value.retryable is True
    assert isinstance(retried, Pushed)
    assert [f["tracking_number"] for f in control.fulfillments()] == ["LOST0001"]


def one_sku_two_packages(control: Any) -> str:
    """An order with a SKU of two units or more, one package per unit."""
    for seed in range(40, 120):
        (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=seed, split_packages="units")
        lines = SimOrder.objects.get(external_id=order_id).lines
        if any(sum(1 for other in lines if other["variant_id"] == line["variant_id"]) >= 2 for line in lines):
            return str(order_id)
    raise AssertionError("no seed made an order with a SKU of two units")


def test_a_rerun_of_one_unit_of_a_sku_split_over_packages_ships_no_second_package(
    control: Any, provider: TikTokProvider
) -> None:
    order_id = one_sku_two_packages(control)
    line = next(line for line in order_lines(provider, order_id) if line.quantity >= 2)
    one = (FulfillmentLine(line.channel_line_id, 1),)
    request = FulfillmentRequest(order_id, "YT2400000000001", "Yun Express", lines=one)
    first = push_fulfillment(provider, request)

    again = push_fulfillment(provider, request)
    two = (FulfillmentLine(line.channel_line_id, 2),)
    more = push_fulfillment(provider, FulfillmentRequest(order_id, "YT2400000000001", "Yun Express", lines=two))

    assert isinstance(first, Pushed)
    assert again == AlreadyFulfilled("TikTok Shop has the package(s) shipped already (tracking YT2400000000001)")
    assert isinstance(more, Pushed)  # the same parcel asked again with one more unit: one more package
    assert more.external_id != first.external_id
    _, found = packages(order_id)
    assert sum(1 for package in found if package[1] == "YT2400000000001") == 2
    assert [f["tracking_number"] for f in control.fulfillments()] == ["YT2400000000001"] * 2
