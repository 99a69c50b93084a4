"""TikTok Shop customer refunds over real HTTP: the sandbox's seller completes a refund, its
RETURN_STATUS_CHANGE webhook (sent twice, out of order) makes us read the order and its returns
(returns/search); only completed refunds are stored, each once; a pull changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from channels_sync.enums import DeliveryState
from channels_sync.models import ProviderAttempt, Store, WebhookDelivery
from channels_sync.providers.tiktok.client import RETURNS_PATH
from channels_sync.providers.tiktok.returns import order_may_have_returns
from channels_sync.services import store_connect, store_pull
from channels_sync.services.stores import webhook_url_for
from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent
from sandbox.models import ChannelOrder as SandboxOrder
from sandbox.models import SimAccount
from sandbox.models import WebhookDelivery as SandboxDelivery
from sandbox.providers.tiktok.orders import package_ship as sandbox_package_ship
from sandbox.providers.tiktok.sellers import webhook_signer
from sandbox.providers.tiktok.signing import webhook_authorization

from .conftest import LIVE_DB
from .test_customer_refunds_shopify import send_everything

SHOP = "refund-tt"


def connect(control: Any, account: Any) -> Store:
    shop = control.account("tiktok", SHOP)
    result = store_connect(
        account=account, channel="tiktok", name="TT", base_url=shop["base_url"], credentials=shop["credentials"]
    )
    control.webhook("tiktok", SHOP, result.webhook_url)  # set in TikTok's dashboard
    return result.store


def sim_order(order_id: str) -> SandboxOrder:
    return SandboxOrder.objects.get(account__name=SHOP, external_id=order_id)


def refunds_of(order: Order) -> list[tuple[Any, ...]]:
    return [
        (row.channel_refund_id, row.amount, row.currency, row.status, row.refunded_at, row.lines)
        for row in CustomerRefund.objects.filter(order=order).order_by("refunded_at", "id")
    ]


def expected(order: Order, sim: SandboxOrder, index: int) -> tuple[Any, ...]:
    refund = sim.extra["refunds"][index]
    units = {str(line["id"]): line for line in sim.lines}
    lines = {line.channel_line_id: line for line in order.lines.all()}
    (item,) = refund["lines"]
    sku = str(units[str(item["line_id"])]["variant_id"])
    return (
        refund["id"],
        Decimal(refund["amount"]),
        sim.currency,
        "return_or_refund_request_complete",
        datetime.fromtimestamp(int(datetime.fromisoformat(refund["created_at"]).timestamp()), tz=UTC),
        [
            {
                "order_line_id": lines[sku].pk,
                "channel_line_id": sku,
                "quantity": 1,
                "amount": f"{Decimal(item['amount']):.2f}",
            }
        ],
    )


@LIVE_DB
def test_a_completed_refund_sent_twice_and_out_of_order_is_one_row_a_pending_one_none_and_a_pull_changes_nothing(
    control: Any, site_url: str, account: Any
) -> None:
    store = connect(control, account)
    control.faults({"tiktok": {"webhook_duplicate": 1.0, "webhook_out_of_order": 0.5}})
    order_id = control.create_orders("tiktok", SHOP, count=1, seed=61)[0]
    control.clock(advance_seconds=2 * 3600)  # past the buyer's cancellation hour
    send_everything()
    first, *rest = sim_order(order_id).lines

    # a request still pending: not money back yet
    control.refund_order(
        "tiktok", SHOP, order_id, lines=[{"line_id": first["id"]}], status="RETURN_OR_REFUND_REQUEST_PENDING"
    )
    send_everything()
    order = Order.objects.get(store=store, channel_order_id=order_id)
    assert refunds_of(order) == []

    # a completed refund of another unit
    assert rest, "the seed makes an order of several units"
    control.refund_order("tiktok", SHOP, order_id, lines=[{"line_id": rest[0]["id"]}], note="damaged")
    send_everything()

    sim = sim_order(order_id)
    assert refunds_of(order) == [expected(order, sim, 1)]
    assert CustomerRefund.objects.get().reason == "damaged"
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.CUSTOMER_REFUND).count() == 1
    assert not WebhookDelivery.objects.filter(store=store).exclude(state=DeliveryState.PROCESSED).exists()
    topics = set(WebhookDelivery.objects.filter(store=store).values_list("topic", flat=True))
    assert "RETURN_STATUS_CHANGE" in topics

    before = list(CustomerRefund.objects.order_by("id").values_list("id", "updated_at"))
    assert not store_pull(store_id=store.pk).error
    assert list(CustomerRefund.objects.order_by("id").values_list("id", "updated_at")) == before


@LIVE_DB
def test_a_return_webhook_before_the_order_is_known_brings_the_order_and_its_refund(
    control: Any, site_url: str, account: Any
) -> None:
    store = connect(control, account)
    order_id = control.create_orders("tiktok", SHOP, count=1, seed=63)[0]
    control.clock(advance_seconds=2 * 3600)
    SandboxDelivery.objects.filter(state="pending").delete()  # the order's own webhooks are lost
    line = sim_order(order_id).lines[0]

    control.refund_order("tiktok", SHOP, order_id, lines=[{"line_id": line["id"]}])
    send_everything()

    order = Order.objects.get(store=store, channel_order_id=order_id)
    assert refunds_of(order) == [expected(order, sim_order(order_id), 0)]
    assert WebhookDelivery.objects.get(store=store).topic == "RETURN_STATUS_CHANGE"
    # the event's order is read with its returns although its body shows no return (awaiting shipment)
    assert sim_order(order_id).status == "AWAITING_SHIPMENT"
    assert returns_calls(store) == 1


def post_signed(control: Any, store: Store, body: dict[str, Any]) -> requests.Response:
    """Signed as the sandbox signs its shop's webhooks, to the store's address."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    app_key, app_secret = webhook_signer(SimAccount.objects.get(provider="tiktok", name=SHOP))
    signature = webhook_authorization(app_key=app_key, app_secret=app_secret, body=raw)
    url = webhook_url_for(channel=store.channel, public_id=store.public_id)
    return requests.post(
        url, data=raw, headers={"Authorization": signature, "Content-Type": "application/json"}, timeout=10
    )


@LIVE_DB
def test_hostile_return_webhooks_get_a_clear_outcome_and_nothing_written(
    control: Any, site_url: str, account: Any
) -> None:
    store = connect(control, account)
    shop_id = SimAccount.objects.get(provider="tiktok", name=SHOP).credentials["shop_id"]
    event = {"type": 12, "tts_notification_id": "7300000000000000001", "shop_id": shop_id, "timestamp": 1}

    # no order id: acknowledged, kept, ignored with its reason
    assert post_signed(control, store, {**event, "data": {"return_id": "1"}}).status_code == 200
    kept = WebhookDelivery.objects.get(store=store)
    assert (kept.state, kept.error) == (DeliveryState.IGNORED, "no order in 'RETURN_STATUS_CHANGE'")

    # another shop's event, signed by the same app: refused, nothing stored
    other = {**event, "tts_notification_id": "7300000000000000002", "shop_id": "7000000000000000999"}
    assert post_signed(control, store, {**other, "data": {"order_id": "576000000000000001"}}).status_code == 403

    # an order the shop does not have: failed with the reason, no order, no refund
    unknown = {**event, "tts_notification_id": "7300000000000000003", "data": {"order_id": "576000000000000001"}}
    assert post_signed(control, store, unknown).status_code == 200
    failed = WebhookDelivery.objects.filter(store=store).latest("id")
    assert (failed.state, failed.error) == (DeliveryState.FAILED, "order 576000000000000001 not found in channel")
    assert WebhookDelivery.objects.filter(store=store).count() == 2
    assert not Order.objects.exists()
    assert not CustomerRefund.objects.exists()


@LIVE_DB
def test_an_app_without_the_return_permission_still_ingests_every_order_without_refunds(
    control: Any, site_url: str, account: Any
) -> None:
    store = connect(control, account)
    control.options("tiktok", SHOP, returns_permission=False)  # returns/search answers 403
    order_id = control.create_orders("tiktok", SHOP, count=1, seed=65)[0]
    control.clock(advance_seconds=2 * 3600)
    control.refund_order("tiktok", SHOP, order_id, lines=[{"line_id": sim_order(order_id).lines[0]["id"]}])
    send_everything()

    order = Order.objects.get(store=store, channel_order_id=order_id)
    assert not WebhookDelivery.objects.filter(store=store).exclude(state=DeliveryState.PROCESSED).exists()
    assert not store_pull(store_id=store.pk).error
    assert not CustomerRefund.objects.exists()

    assert order.lines.count() >= 1


def returns_calls(store: Store) -> int:
    """returns/search requests made for the store (every outbound attempt is recorded)."""
    return ProviderAttempt.objects.filter(store=store, path__endswith=RETURNS_PATH).count()


USPS = "6617675021119438849"


@LIVE_DB
def test_a_pull_asks_returns_search_only_about_orders_whose_body_shows_units_sent_or_a_cancel(
    control: Any, site_url: str, account: Any
) -> None:
    store = connect(control, account)
    ids = control.create_orders("tiktok", SHOP, count=3, seed=67)
    control.clock(advance_seconds=2 * 3600)  # paid and awaiting shipment
    SandboxDelivery.objects.filter(state="pending").delete()  # pulls only: no webhook reads the orders

    assert not store_pull(store_id=store.pk).error
    assert Order.objects.filter(store=store).count() == 3
    assert returns_calls(store) == 0  # three paid orders awaiting shipment: nothing to ask about

    shipped = sim_order(ids[0])
    body = {"self_shipment": {"tracking_number": "TT1VOLUME", "shipping_provider_id": USPS}}
    sandbox_package_ship(account=shipped.account, package_id=shipped.extra["packages"][0]["id"], body=body)
    control.refund_order("tiktok", SHOP, ids[0], lines=[{"line_id": shipped.lines[0]["id"]}])
    SandboxDelivery.objects.filter(state="pending").delete()

    assert not store_pull(store_id=store.pk).error
    assert returns_calls(store) == 1  # one search, for the order in transit
    order = Order.objects.get(store=store, channel_order_id=ids[0])
    assert refunds_of(order) == [expected(order, sim_order(ids[0]), 0)]
    assert not CustomerRefund.objects.exclude(order=order).exists()


# Bodies shaped as TikTok's order detail (202309): the reference's sample, and fields of the
# official SDK's model (GetOrderDetailResponseDataOrders / ...LineItems).
AWAITING = {
    "id": "576461413038785752",
    "status": "AWAITING_SHIPMENT",
    "is_on_hold_order": False,
    "line_items": [{"id": "577086512123755123", "display_status": "AWAITING_SHIPMENT", "package_status": "TO_FULFILL"}],
}


def test_which_order_bodies_show_a_return_or_cancel_signal() -> None:
    line = AWAITING["line_items"][0]  # type: ignore[index]
    assert not order_may_have_returns(AWAITING)
    assert not order_may_have_returns({**AWAITING, "status": "AWAITING_COLLECTION", "is_buyer_request_cancel": False})
    for status in ("PARTIALLY_SHIPPING", "IN_TRANSIT", "DELIVERED", "COMPLETED", "CANCELLED"):
        assert order_may_have_returns({**AWAITING, "status": status})
    assert order_may_have_returns({**AWAITING, "is_buyer_request_cancel": True})
    assert order_may_have_returns({**AWAITING, "cancel_reason": "Pricing error", "cancellation_initiator": "SELLER"})
    assert order_may_have_returns({**AWAITING, "line_items": [line, {**line, "display_status": "CANCELLED"}]})
    assert order_may_have_returns({**AWAITING, "line_items": [{**line, "cancel_user": "BUYER"}]})
    assert order_may_have_returns({**AWAITING, "line_items": [{**line, "display_status": "DELIVERED"}]})
    # hostile shapes say nothing, never raise
    assert not order_may_have_returns(None)
    assert not order_may_have_returns({**AWAITING, "line_items": "x"})
    assert not order_may_have_returns({**AWAITING, "line_items": [None, 3]})
