"""Fulfillment push-back to WooCommerce against the sandbox over real HTTP: completed plus a customer
note, a split order completed by its last parcel, repeats and hand completions recognised, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from channels_sync.fulfillment import AlreadyFulfilled, FulfillmentRequest, Pushed, PushRefused
from channels_sync.providers.base import provider_for
from channels_sync.providers.woocommerce.fulfillment import PARCELS_KEY, push_fulfillment
from channels_sync.providers.woocommerce.provider import WooCommerceProvider
from channels_sync.tests.fulfillment_helpers import AfterAttempt, order_lines
from integrations.errors import ProviderError
from sandbox.models import ChannelOrder as SimOrder
from sandbox.providers.woocommerce.orders import note_add as sandbox_note_add
from sandbox.providers.woocommerce.orders import order_update as sandbox_order_update
from sandbox.tests.conftest import SANDBOX_LIVE_DB

pytestmark = SANDBOX_LIVE_DB

SITE = "push-site"


@pytest.fixture
def site(control: Any) -> dict[str, Any]:
    return control.account("woocommerce", SITE)


@pytest.fixture
def provider(site: dict[str, Any]) -> WooCommerceProvider:
    made = provider_for("woocommerce", base_url=site["base_url"], credentials=site["credentials"])
    assert isinstance(made, WooCommerceProvider)
    made.client.sleep = lambda seconds: None
    made.client.jitter = lambda: 0.0  # backoffs of 0 s: a 5xx is tried to the last attempt, with no countdown
    return made


def state(order_id: str) -> tuple[str, list[tuple[str, bool]], list[tuple[str, str]]]:
    """The sandbox order: status, its notes (text, customer-visible), its recorded fulfillments."""
    order = SimOrder.objects.get(external_id=order_id)
    notes = [(n["note"], n["customer_note"]) for n in order.extra.get("notes", []) if n["author"] != "system"]
    made = [(row.tracking_number, row.tracking_company) for row in order.fulfillments.order_by("id")]
    notes = [note for note in notes if not note[0].startswith("Order status changed")]
    return order.status, notes, made


def multi_line_order(control: Any) -> str:
    for seed in range(40, 80):
        (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=seed)
        if len(SimOrder.objects.get(external_id=order_id).lines) >= 2:
            return str(order_id)
    raise AssertionError("no seed made an order of two lines")


def test_a_full_push_completes_the_order_with_a_customer_note(control: Any, provider: WooCommerceProvider) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=11)

    result = push_fulfillment(provider, FulfillmentRequest(order_id, "YT2412345678901", "YUN EXPRESS"))

    note = (
        "Your order has shipped. Carrier: YunExpress. Tracking number: YT2412345678901\n"
        "Track it here: https://www.yuntrack.com/parcelTracking?id=YT2412345678901"
    )
    assert state(order_id) == ("completed", [(note, True)], [("YT2412345678901", "YunExpress")])
    order = SimOrder.objects.get(external_id=order_id)
    assert result == Pushed(str(order.extra["notes"][-1]["id"]), detail="YunExpress")
    meta = {item["key"]: item["value"] for item in order.extra["meta_data"]}
    everything = {str(line["id"]): line["quantity"] for line in order.lines}
    assert meta[PARCELS_KEY] == {"YT2412345678901": everything}


def test_a_split_order_completes_with_its_last_parcel(control: Any, provider: WooCommerceProvider) -> None:
    order_id = multi_line_order(control)
    first, *rest = order_lines(provider, order_id)

    push_fulfillment(provider, FulfillmentRequest(order_id, "LP00111222333CN", "4PX", lines=(first,)))
    status_after_first = state(order_id)[0]
    push_fulfillment(provider, FulfillmentRequest(order_id, "LP00444555666CN", "4PX", lines=tuple(rest)))

    status, notes, made = state(order_id)
    assert status_after_first == "processing"
    assert status == "completed"
    assert [text.split("\n")[0] for text, _ in notes] == [
        "Your order has shipped. Carrier: 4PX. Tracking number: LP00111222333CN",
        "Your order has shipped. Carrier: 4PX. Tracking number: LP00444555666CN",
    ]
    assert made == [("LP00111222333CN", "4PX"), ("LP00444555666CN", "4PX")]


def test_a_second_identical_push_is_recognised(control: Any, provider: WooCommerceProvider) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=12)
    request = FulfillmentRequest(order_id, "9400111899560000000001", "USPS")
    push_fulfillment(provider, request)
    before = state(order_id)

    again = push_fulfillment(provider, request)

    assert isinstance(again, AlreadyFulfilled)
    assert state(order_id) == before
    assert len(before[1]) == 1


def test_an_order_completed_by_hand_is_recognised(control: Any, provider: WooCommerceProvider) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=13)
    sandbox_order_update(order=SimOrder.objects.get(external_id=order_id), data={"status": "completed"})

    result = push_fulfillment(provider, FulfillmentRequest(order_id, "OURS12345678", "UPS"))

    assert result == AlreadyFulfilled("The order is completed in WooCommerce already")
    assert state(order_id)[1] == []


def test_an_unknown_carrier_note_carries_the_url_given(control: Any, provider: WooCommerceProvider) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=14)
    url = "https://speedy.example/track/SP123456"

    push_fulfillment(provider, FulfillmentRequest(order_id, "SP123456", "Speedy Parcels", tracking_url=url))

    note = f"Your order has shipped. Carrier: Speedy Parcels. Tracking number: SP123456\nTrack it here: {url}"
    assert state(order_id) == ("completed", [(note, True)], [("SP123456", "Speedy Parcels")])


def test_a_lost_note_is_added_by_the_next_push(control: Any, provider: WooCommerceProvider) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=15)
    # After the read of the order, its notes and the PUT, WooCommerce fails: the note's POST gets a
    # 5xx (outcome unknown) and the lookup of the notes fails too.
    provider.client.recorder = AfterAttempt(3, lambda: control.faults({"woocommerce": {"http_5xx": 1.0}}))

    with pytest.raises(ProviderError) as failed:
        push_fulfillment(provider, FulfillmentRequest(order_id, "LOST0001", "UPS"))
    control.faults({"woocommerce": {}})
    provider.client.recorder = None
    retried = push_fulfillment(provider, FulfillmentRequest(order_id, "LOST0001", "UPS"))

    assert failed.value.retryable is True
    assert isinstance(retried, Pushed)
    status, notes, made = state(order_id)
    assert (status, [text.split("\n")[0] for text, _ in notes], made) == (
        "completed",
        ["Your order has shipped. Carrier: UPS. Tracking number: LOST0001"],
        [("LOST0001", "UPS")],
    )


def test_woocommerces_refusal_is_surfaced_with_its_words(provider: WooCommerceProvider) -> None:
    with pytest.raises(PushRefused) as refused:
        push_fulfillment(provider, FulfillmentRequest("999999", "N0000001", "UPS"))

    assert (refused.value.code, refused.value.message, refused.value.status) == (
        "woocommerce_rest_shop_order_invalid_id",
        "WooCommerce refused it: Invalid ID.",
        404,
    )


def test_a_cancelled_order_is_refused(control: Any, provider: WooCommerceProvider) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=16)
    control.cancel_order("woocommerce", SITE, order_id)

    with pytest.raises(PushRefused) as refused:
        push_fulfillment(provider, FulfillmentRequest(order_id, "CANCEL01", "UPS"))

    assert refused.value.code == "order_cancelled"
    assert state(order_id) == ("cancelled", [], [])


@pytest.mark.parametrize(("fault", "retry_after"), [("http_5xx", None), ("http_429", 5.0)])
def test_5xx_and_429_are_retryable_and_change_nothing(
    control: Any, provider: WooCommerceProvider, fault: str, retry_after: float | None
) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=17)
    control.faults({"woocommerce": {fault: 1.0}})

    with pytest.raises(ProviderError) as failed:
        push_fulfillment(provider, FulfillmentRequest(order_id, "FAULT001", "UPS"))

    assert (failed.value.retryable, failed.value.retry_after) == (True, retry_after)
    control.faults({"woocommerce": {}})
    assert state(order_id) == ("processing", [], [])


def test_a_private_note_or_a_longer_number_is_not_taken_for_our_note(
    control: Any, provider: WooCommerceProvider
) -> None:
    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=16)
    order = SimOrder.objects.get(external_id=order_id)
    sandbox_note_add(order=order, note="Supplier says tracking is SUB123", customer_note=False, author="admin")
    order = SimOrder.objects.get(external_id=order_id)
    shown = "Your order has shipped. Carrier: UPS. Tracking number: SUB1234"
    sandbox_note_add(order=order, note=shown, customer_note=True, author="admin")

    result = push_fulfillment(provider, FulfillmentRequest(order_id, "SUB123", "UPS"))

    assert isinstance(result, Pushed)
    status, notes, _made = state(order_id)
    assert status == "completed"
    assert [text.split("\n")[0] for text, visible in notes if visible] == [
        shown,
        "Your order has shipped. Carrier: UPS. Tracking number: SUB123",
    ]


def test_more_lines_for_the_same_number_complete_the_order(control: Any, provider: WooCommerceProvider) -> None:
    # A combined parcel: the second supplier order brings the union of the lines, same number.
    order_id = multi_line_order(control)
    first, *rest = order_lines(provider, order_id)
    push_fulfillment(provider, FulfillmentRequest(order_id, "COMBINED0001", "4PX", lines=(first,)))
    after_first = state(order_id)[0]

    more = push_fulfillment(provider, FulfillmentRequest(order_id, "COMBINED0001", "4PX", lines=(first, *rest)))
    again = push_fulfillment(provider, FulfillmentRequest(order_id, "COMBINED0001", "4PX", lines=(first, *rest)))

    status, notes, _made = state(order_id)
    assert after_first == "processing"
    assert isinstance(more, Pushed)
    assert isinstance(again, AlreadyFulfilled)
    assert status == "completed"
    assert len(notes) == 1  # the customer was told once
    meta = {item["key"]: item["value"] for item in SimOrder.objects.get(external_id=order_id).extra["meta_data"]}
    assert meta[PARCELS_KEY] == {"COMBINED0001": {line.channel_line_id: line.quantity for line in (first, *rest)}}
