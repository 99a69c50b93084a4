"""Webhooks that cannot be abused: unsigned pings store nothing, a captured body replayed under
fresh delivery ids is stored once, a signed delivery of another shop is refused, a store's
address can be rotated, and one store's flood is cut at its intake limit before anything is
stored."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.shopify.provider import shopify_hmac
from channels_sync.providers.tiktok.provider import webhook_authorization
from channels_sync.providers.woocommerce.provider import wc_signature
from channels_sync.services import store_connect, webhook_url_for
from orders.models import Order
from sandbox.webhooks import deliveries_send_due
from tests.factories import StoreFactory

from .conftest import LIVE_DB

FIXTURES = Path(__file__).parent / "providers" / "fixtures"
SHOPIFY_ORDER = json.loads((FIXTURES / "shopify_order.json").read_text())
WOO_ORDER = json.loads((FIXTURES / "woocommerce_order.json").read_text())
SECRET = "whsec-test"
SHOP = "alpha.myshopify.com"
TIKTOK_SHOP_ID = "7494012345678901234"
SITE = "https://shop.example.com"


def _store(account: Any, channel: str, **fields: Any) -> Store:
    shop_ids = {"shopify": SHOP, "woocommerce": "shop.example.com", "tiktok": TIKTOK_SHOP_ID}
    store = StoreFactory(
        account=account,
        name=f"{channel} store",
        channel=channel,
        base_url=SITE if channel == "woocommerce" else "http://shop.invalid",
        **{"shop_id": shop_ids[channel], **fields},
    )
    if channel == "tiktok":
        store.credentials = {"app_key": "app-key", "app_secret": SECRET, "access_token": "t", "shop_cipher": "c"}
    else:
        store.credentials = {"access_token": "shpat_x"}
        store.webhook_secret = SECRET
    store.save()
    return store


def _shopify(client: Client, store: Store, body: bytes, *, delivery: str = "d-1", **headers: str) -> Any:
    return client.post(
        f"/webhooks/shopify/{store.public_id}/",
        data=body,
        content_type="application/json",
        **{
            "HTTP_X_SHOPIFY_TOPIC": "orders/updated",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": delivery,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP,
            "HTTP_X_SHOPIFY_HMAC_SHA256": shopify_hmac(SECRET, body),
            **headers,
        },
    )


def _woocommerce(client: Client, store: Store, body: bytes, *, delivery: str = "w-1", **headers: str) -> Any:
    return client.post(
        f"/webhooks/woocommerce/{store.public_id}/",
        data=body,
        content_type="application/json",
        **{
            "HTTP_X_WC_WEBHOOK_TOPIC": "order.updated",
            "HTTP_X_WC_WEBHOOK_DELIVERY_ID": delivery,
            "HTTP_X_WC_WEBHOOK_SOURCE": f"{SITE}/",
            "HTTP_X_WC_WEBHOOK_SIGNATURE": wc_signature(SECRET, body),
            **headers,
        },
    )


def _tiktok(client: Client, store: Store, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/tiktok/{store.public_id}/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=webhook_authorization(app_key="app-key", app_secret=SECRET, body=body),
    )


def _tiktok_event(shop_id: object, notification: str = "n-1") -> dict[str, Any]:
    return {"type": 1, "tts_notification_id": notification, "shop_id": shop_id, "data": {"order_id": "576"}}


# --- Unsigned WooCommerce pings -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [b"webhook_id=15", b"webhook_id=16", pytest.param(b"webhook_id=" + b"9" * 5000, id="webhook_id=9…")]
)
def test_an_unsigned_woocommerce_ping_is_answered_200_and_nothing_is_stored(
    client: Client, account: Any, django_capture_on_commit_callbacks: Any, body: bytes
) -> None:
    """WooCommerce pings a webhook's address when it is saved (a refusal fails the save); anyone
    can send one, so it leaves no row and queues no task."""
    store = _store(account, "woocommerce")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"/webhooks/woocommerce/{store.public_id}/", data=body, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 200
    assert callbacks == []
    assert not WebhookDelivery.objects.exists()


# --- Deduplication on the body ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_a_captured_body_replayed_under_fresh_delivery_ids_is_stored_once(
    client: Client, account: Any, django_capture_on_commit_callbacks: Any, channel: str
) -> None:
    """The delivery id is an unsigned header: the body's hash is the key that cannot be renewed."""
    store = _store(account, channel)
    send, order = (_shopify, SHOPIFY_ORDER) if channel == "shopify" else (_woocommerce, WOO_ORDER)
    body = json.dumps(order).encode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        statuses = [send(client, store, body, delivery=f"fresh-{n}").status_code for n in range(3)]
    assert statuses == [200, 200, 200]
    assert len(callbacks) == 1  # one task, for the one stored delivery
    delivery = WebhookDelivery.objects.get()
    assert (delivery.dedupe_key, delivery.body_sha256) == ("fresh-0", hashlib.sha256(body).hexdigest())
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_one_body_sent_for_two_topics_is_processed_once(client: Client, account: Any) -> None:
    """Shopify's orders/create and orders/paid of a paid order carry the same order JSON: the
    second adds nothing, so it is acknowledged and not stored."""
    store = _store(account, "shopify")
    body = json.dumps(SHOPIFY_ORDER).encode()
    created = _shopify(client, store, body, delivery="c", HTTP_X_SHOPIFY_TOPIC="orders/create")
    paid = _shopify(client, store, body, delivery="p", HTTP_X_SHOPIFY_TOPIC="orders/paid")
    assert (created.status_code, paid.status_code) == (200, 200)
    assert list(WebhookDelivery.objects.values_list("topic", flat=True)) == ["orders/create"]
    # a changed body (a later state of the order) is a delivery of its own
    later = json.dumps({**SHOPIFY_ORDER, "note": "gift"}).encode()
    assert _shopify(client, store, later, delivery="u").status_code == 200
    assert WebhookDelivery.objects.count() == 2


# --- The shop a signed delivery names ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("domain", ["beta.myshopify.com", "", "alpha.myshopify.com.evil.example"])
def test_a_signed_shopify_delivery_of_another_shop_is_refused(client: Client, account: Any, domain: str) -> None:
    """Shopify signs with the app's secret, the same for every shop that installed the app."""
    store = _store(account, "shopify")
    body = json.dumps(SHOPIFY_ORDER).encode()
    assert _shopify(client, store, body, HTTP_X_SHOPIFY_SHOP_DOMAIN=domain).status_code == 403
    assert not WebhookDelivery.objects.exists()
    assert _shopify(client, store, body, HTTP_X_SHOPIFY_SHOP_DOMAIN="Alpha.myshopify.com").status_code == 200
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("shop_id", ["7494000000000000001", "", None, True, ["7494012345678901234"]])
def test_a_signed_tiktok_event_of_another_shop_is_refused(client: Client, account: Any, shop_id: object) -> None:
    """TikTok Shop signs every shop's events with the app's secret: the body's shop_id decides."""
    store = _store(account, "tiktok")
    assert _tiktok(client, store, _tiktok_event(shop_id)).status_code == 403
    assert not WebhookDelivery.objects.exists()
    assert _tiktok(client, store, _tiktok_event(TIKTOK_SHOP_ID)).status_code == 200
    assert _tiktok(client, store, _tiktok_event(int(TIKTOK_SHOP_ID), "n-2")).status_code == 200
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("https://other.example.com/", 403),
        ("https://shop.example.com.evil.example/", 403),
        ("https://shop.example.com/blog/", 403),
        ("", 403),
        ("shop.example.com", 403),
        ("https://shop.example.com:99999/", 403),
        ("https://shop.example.com/", 200),
        ("http://www.SHOP.example.com", 200),  # WordPress's home URL may differ in scheme and www
    ],
)
def test_a_signed_woocommerce_delivery_from_another_site_is_refused(
    client: Client, account: Any, source: str, status: int
) -> None:
    store = _store(account, "woocommerce")
    response = _woocommerce(client, store, json.dumps(WOO_ORDER).encode(), HTTP_X_WC_WEBHOOK_SOURCE=source)
    assert response.status_code == status
    assert WebhookDelivery.objects.count() == (status == 200)


@pytest.mark.django_db
def test_a_store_connected_before_its_shop_id_was_kept_is_not_checked(client: Client, account: Any) -> None:
    store = _store(account, "tiktok", shop_id="")
    assert _tiktok(client, store, _tiktok_event("7494000000000000001")).status_code == 200
    assert WebhookDelivery.objects.count() == 1


@LIVE_DB
@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "tiktok"])
def test_connect_keeps_the_shop_its_webhooks_name(control: Any, site_url: str, account: Any, channel: str) -> None:
    """Asked of the channel: Shopify's shop.json, TikTok Shop's authorized shops (the cipher is
    not in its webhooks), WooCommerce's site address."""
    shop = control.account(channel, f"who-{channel}")
    store = store_connect(
        account=account, channel=channel, name="Who", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store
    expected = {
        "shopify": f"who-{channel}.myshopify.com",
        "woocommerce": shop["base_url"].split("://", 1)[1].rstrip("/"),
        "tiktok": shop["credentials"].get("shop_id"),
    }[channel]
    assert Store.objects.get(pk=store.pk).shop_id == expected


# --- Rotating a store's webhook address -------------------------------------------------------


def _subscribed(control: Any, channel: str, shop: dict[str, Any]) -> list[str]:
    from channels_sync.providers.base import REGISTRY

    client: Any = REGISTRY[channel](base_url=shop["base_url"], credentials=shop["credentials"]).client
    if channel == "shopify":
        return sorted(hook.address for hook in client.webhook_subscriptions())
    return sorted(hook.address for hook in client.webhooks())


@LIVE_DB
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_rotating_moves_the_subscriptions_and_refuses_the_old_address(
    control: Any, site_url: str, account: Any, owner: Any, channel: str
) -> None:
    shop = control.account(channel, f"rot-{channel}")
    result = store_connect(
        account=account, channel=channel, name="Rot", base_url=shop["base_url"], credentials=shop["credentials"]
    )
    old_url, topics = result.webhook_url, len(result.webhook_topics)
    assert _subscribed(control, channel, shop) == [old_url] * topics
    browser = Client()
    browser.force_login(owner)

    response = browser.post(f"/stores/{result.store.pk}/webhook-address/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "subscriptions were moved" in json.loads(response["HX-Trigger"])["toast"]["message"]
    store = Store.objects.get(pk=result.store.pk)
    new_url = webhook_url_for(channel=channel, public_id=store.public_id)
    assert new_url != old_url
    assert new_url in response.content.decode()  # the page shows the new address
    assert _subscribed(control, channel, shop) == [new_url] * topics
    # the channel's next events arrive at the new address
    ids = control.create_orders(channel, f"rot-{channel}", count=2, seed=5)
    deliveries_send_due()
    assert set(Order.objects.filter(store=store).values_list("channel_order_id", flat=True)) == set(map(str, ids))
    # a delivery to the old address is refused and stores nothing
    stored = WebhookDelivery.objects.count()
    assert Client().post(old_url.removeprefix(site_url), data=b"{}", content_type="application/json").status_code == 404
    assert WebhookDelivery.objects.count() == stored


@LIVE_DB
def test_rotating_a_tiktok_store_shows_the_address_to_set_in_its_dashboard(
    control: Any, site_url: str, account: Any, owner: Any
) -> None:
    shop = control.account("tiktok", "rot-tt")
    store = store_connect(
        account=account, channel="tiktok", name="Rot TT", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store
    old_id = store.public_id
    browser = Client()
    browser.force_login(owner)
    page = browser.post(f"/stores/{store.pk}/webhook-address/", follow=True).content.decode()
    store.refresh_from_db()
    assert store.public_id != old_id
    assert "set it in the TikTok Shop dashboard" in page
    assert webhook_url_for(channel="tiktok", public_id=store.public_id) in page
    assert Client().post(f"/webhooks/tiktok/{old_id}/", data=b"{}", content_type="application/json").status_code == 404


@LIVE_DB
def test_when_the_channel_refuses_the_new_address_nothing_changes(
    control: Any, site_url: str, account: Any, owner: Any
) -> None:
    shop = control.account("shopify", "rot-down")
    result = store_connect(
        account=account, channel="shopify", name="Down", base_url=shop["base_url"], credentials=shop["credentials"]
    )
    control.faults({"shopify": {"http_5xx": 1.0}})
    browser = Client()
    browser.force_login(owner)
    response = browser.post(f"/stores/{result.store.pk}/webhook-address/", HTTP_HX_REQUEST="true")
    control.faults({"shopify": {}})
    assert response.status_code == 200
    assert "did not take the new address, so nothing was changed" in response["HX-Trigger"]
    assert Store.objects.get(pk=result.store.pk).public_id == result.store.public_id
    assert _subscribed(control, "shopify", shop) == [result.webhook_url] * len(result.webhook_topics)


@pytest.mark.django_db
def test_staff_cannot_rotate(member_client: Client, account: Any) -> None:
    store = _store(account, "tiktok")
    assert member_client.post(f"/stores/{store.pk}/webhook-address/").status_code == 403
    assert Store.objects.get(pk=store.pk).public_id == store.public_id


@pytest.mark.django_db
def test_another_accounts_store_is_404(owner_client: Client, account: Any, other_store: Any) -> None:
    store = _store(account, "tiktok")
    assert owner_client.post(f"/stores/{other_store.pk}/webhook-address/").status_code == 404
    assert owner_client.get(f"/stores/{store.pk}/webhook-address/").status_code == 405
    assert Store.objects.get(pk=store.pk).public_id == store.public_id
    assert Store.objects.get(pk=other_store.pk).public_id == other_store.public_id


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["disconnected", "not_connected", "connecting"])
def test_a_store_not_connected_has_no_address_to_rotate(owner_client: Client, account: Any, status: str) -> None:
    store = _store(account, "tiktok", status=status)
    response = owner_client.post(f"/stores/{store.pk}/webhook-address/", follow=True)
    assert "is not connected: it has no webhook address" in response.content.decode()
    assert Store.objects.get(pk=store.pk).public_id == store.public_id


@pytest.mark.django_db
def test_a_store_whose_credentials_are_being_checked_keeps_its_address(owner_client: Client, account: Any) -> None:
    """That check subscribes the store's current address: moving it meanwhile would leave a
    subscription delivering into a 404."""
    store = _store(account, "tiktok", connect_started_at=timezone.now())
    response = owner_client.post(f"/stores/{store.pk}/webhook-address/", HTTP_HX_REQUEST="true")
    assert "is being connected: change its address once that is done" in response["HX-Trigger"]
    assert Store.objects.get(pk=store.pk).public_id == store.public_id
