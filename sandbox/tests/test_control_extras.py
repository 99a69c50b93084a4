"""The control API's channel extras: options, buyer cancel, merchant update, deterministic orders."""

from __future__ import annotations

import requests

from sandbox.models import ChannelOrder, WebhookDelivery
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control

pytestmark = SANDBOX_LIVE_DB


def test_options_merge_and_a_null_removes_a_key(control: Control) -> None:
    control.account("shopify", "opt-shop")

    control.options("shopify", "opt-shop", bucket_size=10, leak_rate=1)
    options = control.options("shopify", "opt-shop", leak_rate=None, orders_per_hour=12)

    assert options == {"bucket_size": 10, "orders_per_hour": 12}


def test_unknown_accounts_and_orders_get_404(control: Control, sandbox_url: str) -> None:
    control.account("shopify", "opt-shop")

    responses = [
        requests.put(f"{sandbox_url}/_control/shopify/nobody/options", json={}, timeout=5),
        requests.post(f"{sandbox_url}/_control/shopify/nobody/orders", json={"count": 1}, timeout=5),
        requests.post(f"{sandbox_url}/_control/shopify/opt-shop/orders/42/cancel", json={}, timeout=5),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert all(set(r.json()) == {"error"} for r in responses)


def _orders(provider: str, name: str) -> list[tuple[object, ...]]:
    rows = ChannelOrder.objects.filter(account__provider=provider, account__name=name).order_by("id")
    return [
        (o.number, o.customer, o.address, [(li["sku"], li["quantity"], li["price"]) for li in o.lines], o.total)
        for o in rows
    ]


def test_the_same_seed_gives_the_same_orders_in_two_fresh_shops(control: Control) -> None:
    for provider in ("shopify", "woocommerce"):
        for name in ("twin-a", "twin-b", "other"):
            control.account(provider, name)
        control.create_orders(provider, "twin-a", count=5, seed=42)
        control.create_orders(provider, "twin-b", count=5, seed=42)
        control.create_orders(provider, "other", count=5, seed=43)

        assert _orders(provider, "twin-a") == _orders(provider, "twin-b")
        assert len({order[1]["email"] for order in _orders(provider, "twin-a")}) == 5  # type: ignore[index]
        assert _orders(provider, "other") != _orders(provider, "twin-a")


def test_a_buyer_cancel_cancels_and_notifies(control: Control) -> None:
    shop = control.account("shopify", "cancel-shop")
    requests.post(
        f"{shop['base_url']}/admin/api/2024-10/webhooks.json",
        json={"webhook": {"topic": "orders/cancelled", "address": "http://127.0.0.1:9/h", "format": "json"}},
        headers={"X-Shopify-Access-Token": shop["credentials"]["access_token"]},
        timeout=5,
    )
    [order_id] = control.create_orders("shopify", "cancel-shop", count=1, seed=1)

    order = control.cancel_order("shopify", "cancel-shop", order_id)

    assert (order["status"], order["cancel_reason"], order["financial_status"]) == ("cancelled", "customer", "refunded")
    assert list(WebhookDelivery.objects.values_list("topic", flat=True)) == ["orders/cancelled"]
    again = requests.post(f"{control.base}/shopify/cancel-shop/orders/{order_id}/cancel", json={}, timeout=5)
    assert again.status_code == 409


def test_a_merchant_update_moves_updated_at(control: Control) -> None:
    control.account("woocommerce", "upd-store")
    [order_id] = control.create_orders("woocommerce", "upd-store", count=1, seed=1)
    before = ChannelOrder.objects.get(external_id=order_id).updated_at
    control.clock(advance_seconds=60)

    order = control.update_order("woocommerce", "upd-store", order_id, note="call before delivery")

    assert order["updated_at"] > before.isoformat()
    assert ChannelOrder.objects.get(external_id=order_id).extra["customer_note"] == "call before delivery"
    cancelled = control.cancel_order("woocommerce", "upd-store", order_id)
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "customer")


def test_control_bodies_that_are_not_json_objects_get_400(sandbox_url: str) -> None:
    # given bodies that are JSON but not objects, and one that is not JSON at all
    for method, path, body in (
        ("POST", "clock", "[1, 2]"),
        ("POST", "accounts", '"shopify"'),
        ("PUT", "faults", "42"),
        ("POST", "clock", "{not json"),
    ):
        # when they reach the control API
        response = requests.request(method, f"{sandbox_url}/_control/{path}", data=body, timeout=10)
        # then each gets a readable 400, never a 500
        assert response.status_code == 400, (path, body, response.text)
        assert response.json()["error"]
