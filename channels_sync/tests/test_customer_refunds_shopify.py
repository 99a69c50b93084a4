"""Shopify customer refunds over real HTTP: the sandbox's shop refunds lines, its refunds/create and
orders/updated webhooks reach our intake (sent twice, out of order), pulls read the same refunds
through the GraphQL Admin API; each refund is one row with the right amount, lines and time."""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from channels_sync.enums import DeliveryState
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.shopify.provider import shopify_hmac
from channels_sync.services import store_connect, store_pull
from channels_sync.services.stores import webhook_url_for
from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent
from sandbox.models import ChannelOrder as SandboxOrder
from sandbox.models import WebhookDelivery as SandboxDelivery
from sandbox.webhooks import deliveries_send_due

from .conftest import LIVE_DB

SHOP = "refund-shop"


def send_everything(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while SandboxDelivery.objects.filter(state="pending").exists():
        assert time.monotonic() < deadline, "sandbox deliveries still pending"
        if not deliveries_send_due():
            time.sleep(0.2)


def connect(control: Any, account: Any) -> Store:
    shop = control.account("shopify", SHOP)
    return store_connect(
        account=account, channel="shopify", name="Refunds", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store


def sim_order(order_id: str) -> SandboxOrder:
    return SandboxOrder.objects.get(account__name=SHOP, external_id=order_id)


def refunds_of(order: Order) -> list[tuple[Any, ...]]:
    return [
        (row.channel_refund_id, row.amount, row.currency, row.status, row.refunded_at, row.lines)
        for row in CustomerRefund.objects.filter(order=order).order_by("refunded_at", "id")
    ]


def expected(order: Order, sim: SandboxOrder, index: int) -> tuple[Any, ...]:
    """The sandbox's refund ``index`` as it must be stored."""
    refund = sim.extra["refunds"][index]
    lines = {line.channel_line_id: line.pk for line in order.lines.all()}
    return (
        refund["id"],
        Decimal(refund["amount"]),
        sim.currency,
        "success",
        datetime.fromisoformat(refund["created_at"]).replace(microsecond=0),
        [
            {
                "order_line_id": lines[str(item["line_id"])],
                "channel_line_id": str(item["line_id"]),
                "quantity": item["quantity"],
                "amount": f"{Decimal(item['amount']):.2f}",
            }
            for item in refund["lines"]
        ],
    )


@LIVE_DB
def test_a_refund_sent_twice_and_out_of_order_is_one_row_a_second_refund_another_and_a_pull_changes_nothing(
    control: Any, site_url: str, account: Any
) -> None:
    # given an order of a connected shop, every webhook sent twice and half of them held back
    store = connect(control, account)
    control.faults({"shopify": {"webhook_duplicate": 1.0, "webhook_out_of_order": 0.5}})
    order_id = control.create_orders("shopify", SHOP, count=1, seed=41)[0]
    send_everything()
    line = sim_order(order_id).lines[0]

    # when the merchant refunds one item of the first line, then the rest of the order
    control.refund_order("shopify", SHOP, order_id, lines=[{"line_id": line["id"], "quantity": 1}], note="damaged")
    send_everything()
    order = Order.objects.get(store=store, channel_order_id=order_id)
    sim = sim_order(order_id)
    assert refunds_of(order) == [expected(order, sim, 0)]
    assert CustomerRefund.objects.get().reason == "damaged"

    rest = [
        {"line_id": item["id"], "quantity": item["quantity"] - (1 if item["id"] == line["id"] else 0)}
        for item in sim.lines
    ]
    control.refund_order("shopify", SHOP, order_id, lines=[item for item in rest if item["quantity"]])
    send_everything()

    # then two refunds, each once, with one event each, and every delivery processed
    sim = sim_order(order_id)
    assert sim.financial_status == "refunded"
    assert refunds_of(order) == [expected(order, sim, 0), expected(order, sim, 1)]
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.CUSTOMER_REFUND).count() == 2
    assert not WebhookDelivery.objects.filter(store=store).exclude(state=DeliveryState.PROCESSED).exists()

    # and a pull (GraphQL Order.refunds) brings the same refunds and changes nothing
    before = list(CustomerRefund.objects.order_by("id").values_list("id", "updated_at"))
    result = store_pull(store_id=store.pk)
    assert not result.error
    assert list(CustomerRefund.objects.order_by("id").values_list("id", "updated_at")) == before
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.CUSTOMER_REFUND).count() == 2


@LIVE_DB
def test_a_refund_webhook_before_the_order_is_known_brings_the_order_and_its_refund(
    control: Any, site_url: str, account: Any
) -> None:
    # given an order placed before the shop was connected (no webhook brought it)
    control.account("shopify", SHOP)
    order_id = control.create_orders("shopify", SHOP, count=1, seed=43)[0]
    store = connect(control, account)
    assert not Order.objects.exists()
    line = sim_order(order_id).lines[0]

    # when it is refunded and only the refunds/create webhook arrives
    control.refund_order("shopify", SHOP, order_id, lines=[{"line_id": line["id"], "quantity": 1}])
    SandboxDelivery.objects.filter(state="pending").exclude(topic="refunds/create").delete()
    send_everything()

    # then the order is read from Shopify with its refund
    order = Order.objects.get(store=store, channel_order_id=order_id)
    assert refunds_of(order) == [expected(order, sim_order(order_id), 0)]
    assert WebhookDelivery.objects.get(store=store).topic == "refunds/create"


def post_signed(
    control: Any, store: Store, topic: str, body: dict[str, Any], *, shop: str | None = None
) -> requests.Response:
    """Signed as the sandbox shop signs (its webhook secret), to the store's address."""
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_hmac(control.account("shopify", SHOP)["credentials"]["webhook_secret"], raw),
        "X-Shopify-Shop-Domain": shop or store.shop_id,
        "X-Shopify-Webhook-Id": f"test-{time.monotonic_ns()}",
    }
    return requests.post(store_webhook_url(store), data=raw, headers=headers, timeout=10)


def store_webhook_url(store: Store) -> str:
    return webhook_url_for(channel=store.channel, public_id=store.public_id)


@LIVE_DB
def test_hostile_refund_bodies_get_a_clear_outcome_and_nothing_half_written(
    control: Any, site_url: str, account: Any
) -> None:
    # given a known order with one refund, and the orders/updated body that carried it
    store = connect(control, account)
    order_id = control.create_orders("shopify", SHOP, count=1, seed=47)[0]
    line = sim_order(order_id).lines[0]
    control.refund_order("shopify", SHOP, order_id, lines=[{"line_id": line["id"], "quantity": 1}])
    send_everything()
    order = Order.objects.get(store=store, channel_order_id=order_id)
    updated = SandboxDelivery.objects.filter(account__name=SHOP, topic="orders/updated").latest("id")
    body = json.loads(updated.body)
    refunds_before = refunds_of(order)
    assert len(refunds_before) == 1

    # the order's first body (no refund yet) arriving late: an older state, the refund stays
    first = json.loads(SandboxDelivery.objects.filter(account__name=SHOP, topic="orders/create").earliest("id").body)
    assert first["refunds"] == []
    assert post_signed(control, store, "orders/updated", first).status_code == 200
    assert WebhookDelivery.objects.filter(store=store).latest("id").state == DeliveryState.PROCESSED
    assert refunds_of(order) == refunds_before

    # a refund body without an order id: acknowledged, kept, ignored with its reason
    assert post_signed(control, store, "refunds/create", {"id": 1, "refund_line_items": []}).status_code == 200
    kept = WebhookDelivery.objects.filter(store=store).latest("id")
    assert (kept.state, kept.error) == (DeliveryState.IGNORED, "no order in 'refunds/create'")

    # a signed body naming another shop: refused, nothing stored
    count = WebhookDelivery.objects.count()
    assert (
        post_signed(
            control, store, "refunds/create", {"id": 2, "order_id": order_id}, shop="other.myshopify.com"
        ).status_code
        == 403
    )
    assert WebhookDelivery.objects.count() == count

    # a newer order body whose new refund has a negative quantity: the order is updated, that
    # refund is refused with a note on the order, the stored one is untouched
    hostile = json.loads(json.dumps(body["refunds"][0]))
    hostile["id"] = int(hostile["id"]) + 1
    hostile["refund_line_items"][0]["quantity"] = -1
    body["refunds"].append(hostile)
    body["updated_at"] = body["updated_at"].replace(body["updated_at"][:4], str(int(body["updated_at"][:4]) + 1), 1)
    assert post_signed(control, store, "orders/updated", body).status_code == 200
    assert WebhookDelivery.objects.filter(store=store).latest("id").state == DeliveryState.PROCESSED
    assert refunds_of(order) == refunds_before
    note = OrderEvent.objects.get(order=order, type=OrderEventType.NOTE, parameters__code="customer_refund_refused")
    assert note.parameters["refund_id"] == str(hostile["id"])
    assert note.parameters["reason"] == f"line {line['id']} has a quantity below zero"


@pytest.mark.parametrize("field", ["id", "order_id"])
def test_a_refund_missing_its_ids_is_not_mapped_to_an_order(field: str) -> None:
    from channels_sync.providers.shopify.provider import ShopifyProvider

    body = {"id": 5, "order_id": 7, "created_at": "2026-01-01T00:00:00Z"}
    body.pop(field)
    event = ShopifyProvider.parse_webhook(
        headers={"X-Shopify-Topic": "refunds/create", "X-Shopify-Webhook-Id": "w"}, body=json.dumps(body).encode()
    )
    assert (event.order_id, event.order) == ((None, None) if field == "order_id" else ("7", None))
