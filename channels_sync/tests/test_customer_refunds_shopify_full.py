"""Shopify customer refunds read in full and right, against the sandbox over real HTTP: an order's
refunds and a refund's lines past the first page are read (the sizes are the client's seam, small
here so a test order shows it), a refund's status comes from its transactions (a pending one is
not stored as done), and a multi-currency order's refunds are stored in the shop's money."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest

from channels_sync.providers.shopify import queries
from channels_sync.providers.shopify.client import ShopifyClient
from channels_sync.providers.shopify.mapping import order_from_graphql, order_from_json
from channels_sync.services import store_pull
from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent
from sandbox.models import WebhookDelivery as SandboxDelivery
from sandbox.sim.purchases import purchase_draw

from .conftest import LIVE_DB
from .test_customer_refunds_shopify import SHOP, connect, send_everything, sim_order


def seed_with_lines(count: int) -> int:
    """A seed whose first order (the sandbox's ``<seed>:0`` purchase) has ``count`` lines."""
    return next(seed for seed in range(1, 10_000) if len(purchase_draw(f"{seed}:0").lines) == count)


def sandbox_client(control: Any, **sizes: int) -> ShopifyClient:
    shop = control.account("shopify", SHOP)
    return ShopifyClient(
        shop["base_url"],
        access_token=shop["credentials"]["access_token"],
        refund_sizes=queries.RefundSizes(**sizes),
    )


@LIVE_DB
def test_a_refund_with_more_lines_than_one_read_asks_for_is_read_whole_page_by_page(control: Any) -> None:
    # given an order of three lines refunded whole in one refund
    control.account("shopify", SHOP)
    order_id = control.create_orders("shopify", SHOP, count=1, seed=seed_with_lines(3))[0]
    lines = [{"line_id": line["id"], "quantity": line["quantity"]} for line in sim_order(order_id).lines]
    control.refund_order("shopify", SHOP, order_id, lines=lines)

    # when it is read by a client that asks for one refund line at a time
    client = sandbox_client(control, lines=1, line_page=1)
    [node] = client.orders_by_ids([order_id])

    # then the refund has its three lines, read with two follow-ups after the first page
    refund = order_from_graphql(node).refunds[0]  # type: ignore[index]
    assert [(line.channel_line_id, line.quantity) for line in refund.lines] == [
        (str(line["line_id"]), line["quantity"]) for line in lines
    ]
    assert client.ledger.calls == 1 + 1 + 2  # the order, its refunds, two pages of lines


@LIVE_DB
def test_an_order_with_more_refunds_than_the_batched_read_asks_for_is_read_again_alone(
    control: Any, site_url: str, account: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # given an order refunded four times (an amount each) before its shop was connected
    control.account("shopify", SHOP)
    order_id = control.create_orders("shopify", SHOP, count=1, seed=5)[0]
    for _ in range(4):
        control.refund_order("shopify", SHOP, order_id, amount="1.00")
    made = [refund["id"] for refund in sim_order(order_id).extra["refunds"]]
    store = connect(control, account)

    # when a pull reads it (three refunds per order in the batched read): all four are stored
    assert not store_pull(store_id=store.pk).error
    stored = CustomerRefund.objects.filter(order__channel_order_id=order_id).order_by("refunded_at", "id")
    assert list(stored.values_list("channel_refund_id", flat=True)) == made

    # and the refund reads cost what queries.RefundSizes counts (Shopify's rule, the sandbox's count)
    client = sandbox_client(control)
    client.orders_by_ids([order_id])
    sizes = queries.REFUND_SIZES
    assert [spend.requested for spend in client.ledger.spends[1:]] == [sizes.order_cost(), sizes.alone_cost()]
    assert (sizes.order_cost(), sizes.alone_cost(), sizes.orders_per_query()) == (97, 961, 3)

    # and a client asking for two per order, then ten alone, reads the four too
    [node] = sandbox_client(control, per_order=2, alone=10).orders_by_ids([order_id])
    assert [refund.channel_refund_id for refund in order_from_graphql(node).refunds or ()] == made

    # and when even the read alone comes back full, what it read is kept and the order is logged
    with caplog.at_level(logging.WARNING, logger="channels_sync.providers.shopify.client"):
        [node] = sandbox_client(control, per_order=2, alone=3).orders_by_ids([order_id])
    assert len(order_from_graphql(node).refunds or ()) == 3
    assert "only the first 3 are read" in caplog.text


@LIVE_DB
def test_a_pending_refund_is_stored_pending_the_same_by_webhook_body_and_by_graphql(
    control: Any, site_url: str, account: Any
) -> None:
    # given a connected shop whose merchant refunds a line, the refund's transaction still pending
    store = connect(control, account)
    order_id = control.create_orders("shopify", SHOP, count=1, seed=61)[0]
    send_everything()
    line = sim_order(order_id).lines[0]
    control.refund_order("shopify", SHOP, order_id, lines=[{"line_id": line["id"], "quantity": 1}], status="pending")

    # when the webhooks are in and a pull has run: the stored refund is pending, not final
    send_everything()
    assert not store_pull(store_id=store.pk).error
    row = CustomerRefund.objects.get(order__channel_order_id=order_id)
    assert (row.status, row.amount, row.is_final) == ("pending", Decimal("0.00"), False)
    assert row.lines[0]["channel_line_id"] == str(line["id"])

    # and the REST body (orders/updated) and the GraphQL read say the same of it
    body = json.loads(SandboxDelivery.objects.filter(account__name=SHOP, topic="orders/updated").latest("id").body)
    assert body["refunds"][0]["transactions"][0]["status"] == "pending"
    [node] = sandbox_client(control).orders_by_ids([order_id])
    rest, graphql = order_from_json(body).refunds, order_from_graphql(node).refunds
    assert rest == graphql
    assert rest is not None
    assert (rest[0].status, rest[0].amount) == ("pending", Decimal(0))


@LIVE_DB
def test_a_multi_currency_order_s_refund_is_stored_in_the_shop_s_money(
    control: Any, site_url: str, account: Any
) -> None:
    # given a connected USD shop and an order its customer paid in EUR (1 USD = 0.9 EUR)
    store = connect(control, account)
    order_id = control.create_orders(
        "shopify", SHOP, count=1, seed=67, presentment_currency="EUR", presentment_rate="0.9"
    )[0]
    send_everything()
    sim = sim_order(order_id)
    line = sim.lines[0]
    shop_amount = Decimal(line["price"])

    # when the merchant refunds one item and only the orders/updated body arrives
    control.refund_order("shopify", SHOP, order_id, lines=[{"line_id": line["id"], "quantity": 1}])
    body = json.loads(SandboxDelivery.objects.filter(account__name=SHOP, topic="orders/updated").latest("id").body)
    transaction = body["refunds"][0]["transactions"][0]
    assert (transaction["currency"], body["currency"]) == ("EUR", "USD")  # the REST amount is the customer's
    SandboxDelivery.objects.filter(state="pending").exclude(topic="orders/updated").delete()
    send_everything()

    # then the refund is stored once, in USD, for the shop's money of what was refunded
    order = Order.objects.get(store=store, channel_order_id=order_id)
    row = CustomerRefund.objects.get(order=order)
    assert (row.currency, row.amount, row.status) == ("USD", shop_amount, "success")
    assert row.lines[0]["amount"] == f"{shop_amount:.2f}"
    assert not OrderEvent.objects.filter(order=order, type=OrderEventType.NOTE).exists()

    # and a pull (GraphQL, shopMoney) agrees: nothing changes
    before = list(CustomerRefund.objects.values_list("id", "updated_at", "amount"))
    assert not store_pull(store_id=store.pk).error
    assert list(CustomerRefund.objects.values_list("id", "updated_at", "amount")) == before
