"""Webhooks subscribed through each provider's own API, delivered over HTTP, signed as the real ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import requests
from django.utils import timezone

from sandbox.enums import DeliveryState
from sandbox.models import WebhookDelivery
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control, WebhookReceiver
from sandbox.webhooks import deliveries_send_due

pytestmark = SANDBOX_LIVE_DB

HTTPS = {"X-Forwarded-Proto": "https"}


def verify(secret: str, body: bytes, signature: str) -> bool:
    """The receiver's check, as both providers document it."""
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature)


def shopify_subscribe(shop: dict[str, Any], topic: str, address: str) -> requests.Response:
    return requests.post(
        f"{shop['base_url']}/admin/api/2024-10/webhooks.json",
        json={"webhook": {"topic": topic, "address": address, "format": "json"}},
        headers={"X-Shopify-Access-Token": shop["credentials"]["access_token"]},
        timeout=5,
    )


def woo_subscribe(site: dict[str, Any], topic: str, address: str, secret: str) -> requests.Response:
    credentials = site["credentials"]
    return requests.post(
        f"{site['base_url']}/wp-json/wc/v3/webhooks",
        json={"name": "Zopi", "topic": topic, "delivery_url": address, "secret": secret},
        auth=(credentials["consumer_key"], credentials["consumer_secret"]),
        headers=HTTPS,
        timeout=5,
    )


def test_shopify_order_webhooks_arrive_signed_with_shopify_headers(
    control: Control, webhook_receiver: WebhookReceiver
) -> None:
    shop = control.account("shopify", "hook-shop")
    subscribed = [
        shopify_subscribe(shop, topic, f"{webhook_receiver.url}/shopify") for topic in ("orders/create", "orders/paid")
    ]
    [order_id] = control.create_orders("shopify", "hook-shop", count=1, seed=1)

    assert deliveries_send_due() == 2

    assert [r.status_code for r in subscribed] == [201, 201]
    assert subscribed[0].json()["webhook"]["topic"] == "orders/create"
    received = webhook_receiver.wait_for(2)
    assert sorted(r.headers["x-shopify-topic"] for r in received) == ["orders/create", "orders/paid"]
    for request in received:
        assert verify(shop["credentials"]["webhook_secret"], request.body, request.headers["x-shopify-hmac-sha256"])
        assert request.headers["x-shopify-shop-domain"] == "hook-shop.myshopify.com"
        assert request.headers["x-shopify-api-version"] == "2024-10"
        assert request.headers["x-shopify-triggered-at"].endswith("Z")
        assert json.loads(request.body)["id"] == int(order_id)
    assert len({r.headers["x-shopify-webhook-id"] for r in received}) == 2
    listed = requests.get(
        f"{shop['base_url']}/admin/api/2024-10/webhooks.json",
        headers={"X-Shopify-Access-Token": shop["credentials"]["access_token"]},
        timeout=5,
    )
    assert [w["topic"] for w in listed.json()["webhooks"]] == ["orders/create", "orders/paid"]


def test_shopify_refuses_an_unknown_topic_and_a_duplicate_subscription(control: Control) -> None:
    shop = control.account("shopify", "hook-shop")
    first = shopify_subscribe(shop, "orders/create", "http://127.0.0.1:9/hook")

    duplicate = shopify_subscribe(shop, "orders/create", "http://127.0.0.1:9/hook")
    unknown = shopify_subscribe(shop, "orders/exploded", "http://127.0.0.1:9/hook")

    assert first.status_code == 201
    assert (duplicate.status_code, duplicate.json()) == (
        422,
        {"errors": {"address": ["for this topic has already been taken"]}},
    )
    assert unknown.status_code == 422
    assert "topic" in unknown.json()["errors"]


def test_a_failing_receiver_is_retried_until_it_answers(control: Control, webhook_receiver: WebhookReceiver) -> None:
    shop = control.account("shopify", "hook-shop")
    shopify_subscribe(shop, "orders/create", f"{webhook_receiver.url}/flaky")
    control.create_orders("shopify", "hook-shop", count=1, seed=2)
    webhook_receiver.status = 503

    deliveries_send_due()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DeliveryState.PENDING, 1, 503)
    assert delivery.next_attempt_at > timezone.now()  # backed off

    webhook_receiver.status = 200
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    deliveries_send_due()

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DeliveryState.DELIVERED, 2, 200)
    first, second = webhook_receiver.wait_for(2)
    assert first.body == second.body
    assert first.headers["x-shopify-webhook-id"] == second.headers["x-shopify-webhook-id"]  # same delivery, retried


def test_the_duplicate_fault_redelivers_with_the_same_webhook_id(
    control: Control, webhook_receiver: WebhookReceiver
) -> None:
    shop = control.account("shopify", "hook-shop")
    shopify_subscribe(shop, "orders/create", f"{webhook_receiver.url}/dup")
    control.faults({"shopify": {"webhook_duplicate": 1.0}})
    control.create_orders("shopify", "hook-shop", count=1, seed=3)

    assert deliveries_send_due() == 2

    first, second = webhook_receiver.wait_for(2)
    assert first.headers["x-shopify-webhook-id"] == second.headers["x-shopify-webhook-id"]
    assert first.headers["x-shopify-hmac-sha256"] == second.headers["x-shopify-hmac-sha256"]


def test_woocommerce_order_webhooks_arrive_signed_with_the_webhooks_secret(
    control: Control, webhook_receiver: WebhookReceiver
) -> None:
    site = control.account("woocommerce", "hook-store")
    created_hook = woo_subscribe(site, "order.created", f"{webhook_receiver.url}/woo", secret="s3cret-for-zopi")
    woo_subscribe(site, "order.updated", f"{webhook_receiver.url}/woo", secret="s3cret-for-zopi")
    [order_id] = control.create_orders("woocommerce", "hook-store", count=1, seed=1)
    control.update_order("woocommerce", "hook-store", order_id, note="gift wrap")

    assert deliveries_send_due() == 2

    assert created_hook.status_code == 201
    assert {k: created_hook.json()[k] for k in ("topic", "resource", "event", "status", "delivery_url")} == {
        "topic": "order.created",
        "resource": "order",
        "event": "created",
        "status": "active",
        "delivery_url": f"{webhook_receiver.url}/woo",
    }
    received = webhook_receiver.wait_for(2)
    assert [r.headers["x-wc-webhook-topic"] for r in received] == ["order.created", "order.updated"]
    for request in received:
        assert verify("s3cret-for-zopi", request.body, request.headers["x-wc-webhook-signature"])
        assert request.headers["x-wc-webhook-source"] == f"{site['base_url']}/"
        assert request.headers["x-wc-webhook-resource"] == "order"
        assert json.loads(request.body)["id"] == int(order_id)
    assert received[0].headers["x-wc-webhook-id"] == str(created_hook.json()["id"])
    assert received[0].headers["x-wc-webhook-event"] == "created"
    assert json.loads(received[1].body)["customer_note"] == "gift wrap"
    assert WebhookDelivery.objects.filter(max_attempts=5).count() == 2


def test_woocommerce_webhook_duplicate_keeps_the_delivery_id(
    control: Control, webhook_receiver: WebhookReceiver
) -> None:
    site = control.account("woocommerce", "hook-store")
    woo_subscribe(site, "order.created", f"{webhook_receiver.url}/woo", secret="x")
    control.faults({"woocommerce": {"webhook_duplicate": 1.0}})
    control.create_orders("woocommerce", "hook-store", count=1, seed=2)

    deliveries_send_due()

    first, second = webhook_receiver.wait_for(2)
    assert first.headers["x-wc-webhook-delivery-id"] == second.headers["x-wc-webhook-delivery-id"]


def test_woocommerce_refuses_a_webhook_without_topic_or_url(control: Control) -> None:
    site = control.account("woocommerce", "hook-store")
    credentials = site["credentials"]

    response = requests.post(
        f"{site['base_url']}/wp-json/wc/v3/webhooks",
        json={"name": "no topic"},
        auth=(credentials["consumer_key"], credentials["consumer_secret"]),
        headers=HTTPS,
        timeout=5,
    )

    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "rest_missing_callback_param",
            "message": "Missing parameter(s): topic, delivery_url",
            "data": {"status": 400, "params": ["topic", "delivery_url"]},
        },
    )
