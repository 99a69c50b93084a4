"""Fixed vectors (computed independently with openssl / taken from the sandbox's own vectors) and
webhook parsing without a network."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from channels_sync.providers.base import WebhookEvent
from channels_sync.providers.shopify.provider import ShopifyProvider
from channels_sync.providers.tiktok.client import request_sign
from channels_sync.providers.tiktok.provider import TikTokProvider, webhook_authorization
from channels_sync.providers.woocommerce.oauth import oauth_params, oauth_signature
from channels_sync.providers.woocommerce.provider import WooCommerceProvider
from integrations.errors import MalformedPayload
from sandbox.providers.woocommerce.auth import oauth_signature as sandbox_oauth_signature

FIXTURES = Path(__file__).parent / "fixtures"


def test_shopify_webhook_hmac_fixed_vector() -> None:
    body = b'{"id":450789469,"name":"#1001"}'
    headers = {"X-Shopify-Hmac-Sha256": "Q/Zzm0mIdDi+9fRzn9NaJxls4EhR/edhuCV2FdsDzrw="}

    assert ShopifyProvider.verify_webhook(
        headers=headers, body=body, credentials={"webhook_secret": "shpss_test_secret"}
    )
    assert not ShopifyProvider.verify_webhook(
        headers=headers, body=body + b" ", credentials={"webhook_secret": "shpss_test_secret"}
    )
    assert not ShopifyProvider.verify_webhook(headers=headers, body=body, credentials={"webhook_secret": "other"})
    assert not ShopifyProvider.verify_webhook(
        headers={}, body=body, credentials={"webhook_secret": "shpss_test_secret"}
    )


def test_woocommerce_webhook_signature_fixed_vector() -> None:
    body = b'{"id":727,"number":"727","status":"processing"}'
    headers = {"x-wc-webhook-signature": "a5J5bsp5fy4TFL04hHXsVdVOGXNXjWgPLWA1dFDVB9Q="}

    assert WooCommerceProvider.verify_webhook(headers=headers, body=body, credentials={"webhook_secret": "wc-secret"})
    assert not WooCommerceProvider.verify_webhook(headers=headers, body=body, credentials={"webhook_secret": "wrong"})


def test_woocommerce_oauth_signature_fixed_vector() -> None:
    params = {"per_page": "100", "page": "2"}
    url = "http://example.com:8080/wp-json/wc/v3/orders?ignored=1"

    signed = oauth_params(
        method="GET",
        url=url,
        params=params,
        consumer_key="ck_abc",
        consumer_secret="cs_xyz",
        timestamp=1700000000,
        nonce="n0nce",
    )

    assert signed == {
        "per_page": "100",
        "page": "2",
        "oauth_consumer_key": "ck_abc",
        "oauth_timestamp": "1700000000",
        "oauth_nonce": "n0nce",
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_signature": "lizpl5Nd+PcDNtpCNlxiT/6cf+LsaukyZc5WjOAwNF4=",
    }
    # The sandbox's verifier (written separately) computes the same value.
    sandbox = sandbox_oauth_signature(
        method="GET", url="http://example.com:8080/wp-json/wc/v3/orders", params=signed, consumer_secret="cs_xyz"
    )
    assert sandbox == signed["oauth_signature"]


def test_woocommerce_oauth_signature_drops_default_ports() -> None:
    params = {"oauth_nonce": "n", "a": "b c"}

    assert oauth_signature(
        method="get", url="https://shop.test:443/x", params=params, consumer_secret="s"
    ) == oauth_signature(method="GET", url="https://shop.test/x", params=params, consumer_secret="s")


def test_tiktok_request_sign_fixed_vector() -> None:
    params = {
        "app_key": "6a1b2c3d4e5f6",
        "timestamp": "1700000000",
        "shop_cipher": "ROW_abc",
        "page_size": "10",
        "sign": "ignored",
        "access_token": "ignored",
    }

    sign = request_sign(
        app_secret="tt-secret",
        path="/order/202309/orders/search",
        params=params,
        body='{"order_status":"AWAITING_SHIPMENT"}',
    )

    assert sign == "d29351920e08f612570a166b3bb4c628f9790b451d9e25cc5b651cfd9acdfad1"


def test_tiktok_webhook_authorization_fixed_vector() -> None:
    body = b'{"type":1,"data":{"order_id":"576461413038785752","order_status":"AWAITING_SHIPMENT"}}'
    credentials = {"app_key": "6a1b2c3d4e5f6", "app_secret": "tt-secret"}
    expected = "afcdb1346f1aee07bdcbff21798f18fa03607ef7dd4b1869e488aaaada8babb1"

    assert webhook_authorization(app_key="6a1b2c3d4e5f6", app_secret="tt-secret", body=body) == expected
    assert TikTokProvider.verify_webhook(headers={"Authorization": expected}, body=body, credentials=credentials)
    assert not TikTokProvider.verify_webhook(
        headers={"Authorization": expected}, body=body + b"\n", credentials=credentials
    )


def test_shopify_parse_webhook_carries_the_mapped_order() -> None:
    body = (FIXTURES / "shopify_order.json").read_bytes()
    headers = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}

    event = ShopifyProvider.parse_webhook(headers=headers, body=body)

    assert (event.dedupe_key, event.topic, event.order_id) == (
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "orders/paid",
        "5100001000001",
    )
    assert event.order is not None
    assert event.order.data.number == "#1001"


def test_shopify_parse_webhook_without_topic_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="without an X-Shopify-Topic header"):
        ShopifyProvider.parse_webhook(headers={}, body=b"{}")


def test_woocommerce_ping_is_told_apart_and_is_not_a_signed_delivery() -> None:
    """The intake answers a ping 200 without storing it; it proves nothing, so it never verifies."""
    body = b"webhook_id=15"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    ping = WooCommerceProvider.is_unsigned_ping(headers=headers, body=body)
    verified = WooCommerceProvider.verify_webhook(headers=headers, body=body, credentials={"webhook_secret": "s"})
    event = WooCommerceProvider.parse_webhook(headers=headers, body=body)  # rows stored before still parse

    assert (ping, verified) == (True, False)
    assert WooCommerceProvider.is_unsigned_ping(headers={"X-WC-Webhook-Topic": "order.updated"}, body=body) is False
    assert event == WebhookEvent(
        dedupe_key=f"ping:{hashlib.sha256(body).hexdigest()}", topic="ping", extra={"webhook_id": "15"}
    )


def test_woocommerce_unsigned_order_is_refused() -> None:
    body = (FIXTURES / "woocommerce_order.json").read_bytes()

    assert not WooCommerceProvider.verify_webhook(
        headers={"X-WC-Webhook-Topic": "order.updated"}, body=body, credentials={"webhook_secret": "s"}
    )


def test_woocommerce_parse_webhook_falls_back_to_the_body_hash() -> None:
    body = (FIXTURES / "woocommerce_order.json").read_bytes()

    event = WooCommerceProvider.parse_webhook(headers={"X-WC-Webhook-Topic": "order.created"}, body=body)

    assert (event.dedupe_key, event.topic, event.order_id) == (
        hashlib.sha256(body).hexdigest(),
        "order.created",
        "1201",
    )
    assert event.order is not None


def test_woocommerce_deleted_order_names_the_order_only() -> None:
    event = WooCommerceProvider.parse_webhook(
        headers={"X-WC-Webhook-Topic": "order.deleted", "X-WC-Webhook-Delivery-ID": "d1"}, body=b'{"id":1201}'
    )

    assert event == WebhookEvent(
        dedupe_key="d1", topic="order.deleted", order_id="1201", extra={"source": "", "webhook_id": ""}
    )


def test_tiktok_parse_webhook_names_the_order() -> None:
    payload = {
        "type": 1,
        "tts_notification_id": "7327112393057371910",
        "shop_id": "7494049642642441621",
        "timestamp": 1644412885,
        "data": {
            "order_id": "576486316948490001",
            "order_status": "UNPAID",
            "is_on_hold_order": False,
            "update_time": 1644412885,
        },
    }

    event = TikTokProvider.parse_webhook(headers={}, body=json.dumps(payload).encode())

    assert event == WebhookEvent(
        dedupe_key="7327112393057371910",
        topic="ORDER_STATUS_CHANGE",
        order_id="576486316948490001",
        extra={
            "order_status": "UNPAID",
            "is_on_hold_order": False,
            "update_time": 1644412885,
            "shop_id": "7494049642642441621",
        },
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "the TikTok Shop webhook body is not valid JSON"),
        (b'{"data":{}}', "'type' is not an event number: None"),
    ],
)
def test_tiktok_parse_webhook_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        TikTokProvider.parse_webhook(headers={}, body=body)
