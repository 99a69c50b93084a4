"""WooCommerce customer refunds over real HTTP: the sandbox's store refunds lines, its order.updated
webhook (sent twice, out of order) lists the refund, our processing reads GET orders/<id>/refunds
for its lines and time; pulls read the same; each refund is one row."""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests

from channels_sync.enums import DeliveryState
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.woocommerce.provider import wc_signature
from channels_sync.services import store_connect, store_pull
from channels_sync.services.stores import webhook_url_for
from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent
from sandbox.models import ChannelOrder as SandboxOrder
from sandbox.models import WebhookDelivery as SandboxDelivery

from .conftest import LIVE_DB
from .test_customer_refunds_shopify import send_everything

SITE = "refund-site"


def connect(control: Any, account: Any) -> Store:
    site = control.account("woocommerce", SITE)
    return store_connect(
        account=account, channel="woocommerce", name="Woo", base_url=site["base_url"], credentials=site["credentials"]
    ).store


def sim_order(order_id: str) -> SandboxOrder:
    return SandboxOrder.objects.get(account__name=SITE, external_id=order_id)


def refunds_of(order: Order) -> list[tuple[Any, ...]]:
    return [
        (row.channel_refund_id, row.amount, row.currency, row.status, row.refunded_at, row.lines)
        for row in CustomerRefund.objects.filter(order=order).order_by("refunded_at", "id")
    ]


def expected(order: Order, sim: SandboxOrder, index: int) -> tuple[Any, ...]:
    refund = sim.extra["refunds"][index]
    lines = {line.channel_line_id: line.pk for line in order.lines.all()}
    return (
        refund["id"],
        Decimal(refund["amount"]),
        sim.currency,
        "completed",
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
def test_a_refund_sent_twice_and_out_of_order_is_one_row_a_second_one_another_and_a_pull_changes_nothing(
    control: Any, site_url: str, account: Any
) -> None:
    store = connect(control, account)
    control.faults({"woocommerce": {"webhook_duplicate": 1.0, "webhook_out_of_order": 0.5}})
    order_id = control.create_orders("woocommerce", SITE, count=1, seed=51)[0]
    send_everything()
    line = sim_order(order_id).lines[0]

    control.refund_order("woocommerce", SITE, order_id, lines=[{"line_id": line["id"], "quantity": 1}], note="late")
    send_everything()
    order = Order.objects.get(store=store, channel_order_id=order_id)
    assert refunds_of(order) == [expected(order, sim_order(order_id), 0)]
    assert CustomerRefund.objects.get().reason == "late"

    control.refund_order("woocommerce", SITE, order_id, amount="1.00", note="goodwill")
    send_everything()
    sim = sim_order(order_id)
    assert refunds_of(order) == [expected(order, sim, 0), expected(order, sim, 1)]
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.CUSTOMER_REFUND).count() == 2
    assert not WebhookDelivery.objects.filter(store=store).exclude(state=DeliveryState.PROCESSED).exists()

    before = list(CustomerRefund.objects.order_by("id").values_list("id", "updated_at"))
    assert not store_pull(store_id=store.pk).error
    assert list(CustomerRefund.objects.order_by("id").values_list("id", "updated_at")) == before


@LIVE_DB
def test_a_pull_brings_a_refund_no_webhook_announced(control: Any, site_url: str, account: Any) -> None:
    control.account("woocommerce", SITE)
    order_id = control.create_orders("woocommerce", SITE, count=1, seed=53)[0]
    line = sim_order(order_id).lines[0]
    control.refund_order("woocommerce", SITE, order_id, lines=[{"line_id": line["id"], "quantity": 1}])
    store = connect(control, account)  # after the refund: no webhook told us

    assert not store_pull(store_id=store.pk).error

    order = Order.objects.get(store=store, channel_order_id=order_id)
    assert refunds_of(order) == [expected(order, sim_order(order_id), 0)]


def post_signed(control: Any, store: Store, body: dict[str, Any], *, source: str | None = None) -> requests.Response:
    raw = json.dumps(body).encode()
    sent = SandboxDelivery.objects.filter(account__name=SITE).latest("id")
    headers = {
        **sent.headers,
        "X-WC-Webhook-Delivery-ID": str(time.monotonic_ns()),
        "X-WC-Webhook-Signature": wc_signature(
            control.account("woocommerce", SITE)["credentials"]["webhook_secret"], raw
        ),
    }
    if source is not None:
        headers["X-WC-Webhook-Source"] = source
    return requests.post(
        webhook_url_for(channel=store.channel, public_id=store.public_id), data=raw, headers=headers, timeout=10
    )


@LIVE_DB
def test_hostile_refund_bodies_get_a_clear_outcome_and_nothing_half_written(
    control: Any, site_url: str, account: Any
) -> None:
    store = connect(control, account)
    order_id = control.create_orders("woocommerce", SITE, count=1, seed=57)[0]
    send_everything()
    order = Order.objects.get(store=store, channel_order_id=order_id)
    body = json.loads(SandboxDelivery.objects.filter(account__name=SITE).latest("id").body)

    # an order body listing a refund the store does not have: read fresh from the store, which has none
    body["refunds"] = [{"id": 999, "reason": "", "total": "-5.00"}]
    assert post_signed(control, store, body).status_code == 200
    assert WebhookDelivery.objects.filter(store=store).latest("id").state == DeliveryState.PROCESSED
    assert not CustomerRefund.objects.exists()

    # a body from another site: refused, nothing stored
    count = WebhookDelivery.objects.count()
    assert post_signed(control, store, body, source="https://other.example.com/").status_code == 403
    assert WebhookDelivery.objects.count() == count

    # a body without an id: kept as failed with its reason, no order touched
    body.pop("id")
    assert post_signed(control, store, body).status_code == 200
    kept = WebhookDelivery.objects.filter(store=store).latest("id")
    assert kept.state == DeliveryState.FAILED
    assert "missing 'id'" in kept.error
    assert Order.objects.filter(store=store).count() == 1
    assert refunds_of(order) == []
