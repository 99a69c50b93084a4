"""The simulated Shopify's uninstall and compliance control calls: what they queue, signed with the
app's client secret, and their clear errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from sandbox.models import SimAccount, SimApp, SimGrant, WebhookDelivery, WebhookSubscription
from sandbox.providers.shopify.hooks import shopify_hmac

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(settings: Any) -> SimAccount:
    settings.SITE_URL = "http://order-center.test"
    SimApp.objects.create(provider="shopify", client_id="app-1", client_secret="app-secret")
    return SimAccount.objects.create(provider="shopify", name="ctl-shop", credentials={"webhook_secret": "w"})


def call(client: Client, path: str, body: Any) -> Any:
    return client.post(f"/sandbox/_control/shopify/{path}", data=json.dumps(body), content_type="application/json")


def test_uninstall_revokes_the_grants_and_sends_app_uninstalled_signed_by_the_app(client: Client, shop: Any) -> None:
    app = SimApp.objects.get()
    SimGrant.objects.create(app=app, account=shop, access_token="a1", refresh_token="r1")
    WebhookSubscription.objects.create(account=shop, topic="app/uninstalled", address="http://order-center.test/w/")
    response = call(client, "ctl-shop/uninstall", {})
    assert response.json() == {"revoked": 1, "queued": 1}
    sent = WebhookDelivery.objects.get()
    assert (sent.topic, sent.url, sent.headers["X-Shopify-Shop-Domain"]) == (
        "app/uninstalled",
        "http://order-center.test/w/",
        "ctl-shop.myshopify.com",
    )
    assert sent.headers["X-Shopify-Hmac-Sha256"] == shopify_hmac("app-secret", sent.body.encode())
    assert SimGrant.objects.get().revoked_at is not None


def test_compliance_sends_the_topic_payload_to_the_app_compliance_address(client: Client, shop: Any) -> None:
    response = call(client, "ctl-shop/compliance", {"topic": "shop/redact"})
    assert response.status_code == 200
    sent = WebhookDelivery.objects.get()
    assert sent.url == "http://order-center.test/webhooks/shopify/compliance/"
    assert json.loads(sent.body) == {"shop_id": 54_000_000_000 + shop.pk, "shop_domain": "ctl-shop.myshopify.com"}
    assert sent.headers["X-Shopify-Hmac-Sha256"] == shopify_hmac("app-secret", sent.body.encode())


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("nobody/uninstall", {}, 404, "no shopify account"),
        ("ctl-shop/uninstall", {"client_id": "other"}, 404, "no such Shopify app"),
        ("ctl-shop/uninstall", [1], 400, "JSON object"),
        ("ctl-shop/compliance", {"topic": "orders/create"}, 400, "topic must be"),
        ("ctl-shop/compliance", {"topic": "customers/redact", "email": 5}, 400, "email"),
        ("ctl-shop/compliance", {"topic": "customers/redact", "orders": ["x"]}, 400, "orders"),
    ],
)
def test_bad_control_calls_are_clear_errors(
    client: Client, shop: Any, path: str, body: Any, status: int, error: str
) -> None:
    response = call(client, path, body)
    assert response.status_code == status
    assert error in response.json()["error"]
    assert not WebhookDelivery.objects.exists()
