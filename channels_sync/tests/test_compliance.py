"""Shopify's mandatory compliance webhooks at /webhooks/shopify/compliance/: signed with the app's
client secret (401 otherwise, nothing stored), stored once per delivery, hostile bodies refused
with a clear 400; customers/redact erases the customer from their orders and webhook bodies,
customers/data_request notes what we hold, shop/redact erases the shop's data."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, TestCase

from channels_sync.enums import ComplianceState, DeliveryState, StoreStatus
from channels_sync.models import ChannelAuthorization, ComplianceRequest, ProviderAttempt, Store, WebhookDelivery
from channels_sync.providers.shopify.provider import shopify_hmac
from channels_sync.services.compliance import MAX_BODY, compliance_request_process
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent
from tests.factories import OrderFactory, StoreFactory

APP_SECRET = "app-client-secret"
SHOP = "olivia-shop.myshopify.com"
URL = "/webhooks/shopify/compliance/"


@pytest.fixture(autouse=True)
def _app(settings: Any) -> None:
    settings.SHOPIFY_CLIENT_SECRET = APP_SECRET


@pytest.fixture
def shop_store(account: Any) -> Store:
    store = StoreFactory(account=account, name="Main", channel="shopify", domain=SHOP, shop_id=SHOP)
    store.credentials = {"access_token": "shpat_x"}
    store.webhook_secret = APP_SECRET
    store.save()
    return store


def post(
    client: Client,
    body: bytes | dict[str, Any],
    *,
    topic: str = "customers/redact",
    webhook_id: str = "w-1",
    sign: str | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with TestCase.captureOnCommitCallbacks(execute=True):  # the task queued on commit runs (eager)
        return client.post(
            URL,
            data=raw,
            content_type="application/json",
            headers={
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": shopify_hmac(APP_SECRET, raw) if sign is None else sign,
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Webhook-Id": webhook_id,
            },
        )


def redact_body(*, email: str = "olivia.martin@example.com", orders: list[Any] | None = None) -> dict[str, Any]:
    return {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": 191167, "email": email, "phone": "555-625-1199"},
        "orders_to_redact": orders if orders is not None else [],
    }


def olivia_orders(store: Store) -> list[Order]:
    first = OrderFactory(
        store=store, number="#1001", channel_order_id="4501", customer_name="Olivia Martin",
        customer_email="olivia.martin@example.com",
    )  # fmt: skip
    second = OrderFactory(
        store=store, number="#1002", channel_order_id="4502", customer_name="Olivia M.",
        customer_email="OLIVIA.MARTIN@example.com",
    )  # fmt: skip
    return [first, second]


# --- Intake -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sign", ["", "not-base64", shopify_hmac("another-secret", b"{}")])
def test_a_bad_signature_is_401_and_nothing_is_stored(client: Client, db: None, sign: str) -> None:
    response = post(client, redact_body(), sign=sign)
    assert response.status_code == 401
    assert not ComplianceRequest.objects.exists()


def test_without_a_configured_app_every_request_is_401(client: Client, db: None, settings: Any) -> None:
    settings.SHOPIFY_CLIENT_SECRET = ""
    response = post(client, redact_body(), sign=shopify_hmac("", b""))
    assert response.status_code == 401
    assert not ComplianceRequest.objects.exists()


def test_while_the_app_secret_is_rotated_both_secrets_are_accepted(client: Client, db: None, settings: Any) -> None:
    # given the operator rotated the app's secret, the old one kept for the overlap
    settings.SHOPIFY_CLIENT_SECRET, settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = "rotated-secret", APP_SECRET
    raw = json.dumps(redact_body()).encode()

    # then a request signed with either is stored, one signed with neither is not
    assert post(client, raw, webhook_id="w-old").status_code == 200
    assert post(client, raw, webhook_id="w-new", sign=shopify_hmac("rotated-secret", raw)).status_code == 200
    assert post(client, raw, webhook_id="w-other", sign=shopify_hmac("another", raw)).status_code == 401
    # and once the old one is revoked it is refused
    settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = ""
    assert post(client, raw, webhook_id="w-late").status_code == 401
    assert sorted(ComplianceRequest.objects.values_list("webhook_id", flat=True)) == ["w-new", "w-old"]


def test_a_redelivery_is_acknowledged_and_stored_once(client: Client, shop_store: Store) -> None:
    olivia_orders(shop_store)
    first = post(client, redact_body(orders=[4501]))
    again = post(client, redact_body(orders=[4501]))
    assert (first.status_code, again.status_code) == (200, 200)
    request = ComplianceRequest.objects.get()
    assert (request.webhook_id, request.state, request.attempts) == ("w-1", ComplianceState.PROCESSED, 1)
    assert OrderEvent.objects.filter(type=OrderEventType.CUSTOMER_ERASED).count() == 2


@pytest.mark.parametrize(
    ("topic", "body", "message"),
    [
        ("customers/redact", b"not json", "not valid JSON"),
        ("customers/redact", b"[1, 2]", "not a JSON object"),
        ("customers/redact", b"[" * 100_000, "not valid JSON"),
        ("customers/redact", {"shop_domain": "evil.example.com", "customer": {}}, "myshopify.com"),
        ("customers/redact", {"shop_domain": 7, "customer": {}}, "myshopify.com"),
        ("customers/redact", {"shop_domain": SHOP, "customer": "olivia"}, "'customer'"),
        ("customers/redact", {"shop_domain": SHOP, "customer": {"email": ["x"]}}, "customer.email"),
        ("customers/redact", {"shop_domain": SHOP, "customer": {"id": True}}, "customer.id"),
        ("customers/redact", {"shop_domain": SHOP, "customer": {}, "orders_to_redact": "4501"}, "orders_to_redact"),
        ("customers/redact", {"shop_domain": SHOP, "customer": {}, "orders_to_redact": [{"id": 1}]}, "[0]"),
        ("customers/redact", {"shop_domain": SHOP, "customer": {}, "orders_to_redact": ["1; drop"]}, "[0]"),
        ("customers/redact", {"shop_domain": SHOP, "customer": {"email": "x" * 300}}, "customer.email"),
        ("customers/data_request", {"shop_domain": SHOP, "customer": {}, "data_request": 5}, "data_request"),
        ("shop/redact", {"shop_domain": SHOP, "shop_id": {"a": 1}}, "shop_id"),
        ("orders/create", {"shop_domain": SHOP}, "unknown compliance topic"),
        ("", {"shop_domain": SHOP}, "unknown compliance topic"),
    ],
)
def test_a_hostile_body_is_a_clear_400_and_nothing_is_stored(
    client: Client, shop_store: Store, topic: str, body: Any, message: str
) -> None:
    response = post(client, body, topic=topic)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ComplianceRequest.objects.exists()


def test_a_body_over_the_cap_is_refused_before_it_is_read(client: Client, db: None) -> None:
    raw = json.dumps({**redact_body(), "padding": "x" * MAX_BODY}).encode()
    response = post(client, raw)
    assert response.status_code == 400
    assert f"larger than {MAX_BODY}" in response.content.decode()
    assert not ComplianceRequest.objects.exists()


# --- customers/redact ---------------------------------------------------------------------------


def test_customer_redact_erases_the_customer_from_their_orders_and_webhook_bodies(
    client: Client, shop_store: Store, other_account: Any
) -> None:
    # given two orders of Olivia (one named, one found by her e-mail), one of another customer,
    # the same shop connected by another account too, and stored webhook bodies of her orders
    first, second = olivia_orders(shop_store)
    liam = OrderFactory(store=shop_store, number="#1003", customer_name="Liam", customer_email="liam@example.org")
    twin_store = StoreFactory(account=other_account, name="Twin", channel="shopify", domain=SHOP, shop_id=SHOP)
    twin = OrderFactory(store=twin_store, number="#1001", channel_order_id="4501", customer_email="x@example.org")
    processed = WebhookDelivery.objects.create(
        store=shop_store, dedupe_key="d-1", topic="orders/create", body=b'{"email": "olivia"}', order_ids=[first.pk],
        state=DeliveryState.PROCESSED,
    )  # fmt: skip
    waiting = WebhookDelivery.objects.create(
        store=shop_store, dedupe_key="d-2", topic="fulfillments/create",
        headers={"X-Shopify-Topic": "fulfillments/create"},
        body=b'{"order_id": 4502, "email": "olivia"}', state=DeliveryState.RECEIVED,
    )  # fmt: skip
    liams = WebhookDelivery.objects.create(
        store=shop_store, dedupe_key="d-3", topic="orders/create", body=b'{"email": "liam"}', order_ids=[liam.pk],
        state=DeliveryState.PROCESSED,
    )  # fmt: skip
    # when Shopify asks to redact Olivia with her first order named
    response = post(client, redact_body(orders=[4501]))
    # then (the task ran on commit) her orders have no customer any more, the rest is untouched
    assert response.status_code == 200
    for order in (first, second):
        order.refresh_from_db()
        assert (order.customer_name, order.customer_email) == ("", "")
        assert "olivia" not in order.search_text
        assert order.number in order.search_text
    liam.refresh_from_db()
    twin.refresh_from_db()
    assert liam.customer_name == "Liam"
    # the other account's store of the same shop: its order named by id is erased too
    assert (twin.customer_name, twin.customer_email) == ("", "")
    processed.refresh_from_db()
    waiting.refresh_from_db()
    liams.refresh_from_db()
    assert (bytes(processed.body), bytes(waiting.body), waiting.state) == (b"", b"", DeliveryState.IGNORED)
    assert bytes(liams.body) == b'{"email": "liam"}'
    request = ComplianceRequest.objects.get()
    assert request.state == ComplianceState.PROCESSED
    assert bytes(request.body) == b""
    assert request.channel_customer_id == "191167"
    assert request.outcome == {
        "orders_named": 1,
        "stores": [
            {"store_id": shop_store.pk, "store": "Main", "account_id": shop_store.account_id, "orders": 2,
             "erased": ["#1001", "#1002"], "bodies": 2},
            {"store_id": twin_store.pk, "store": "Twin", "account_id": other_account.pk, "orders": 1,
             "erased": ["#1001"], "bodies": 0},
        ],
    }  # fmt: skip
    assert "olivia" not in json.dumps(request.outcome).lower()


def test_processing_again_is_a_no_op(client: Client, shop_store: Store) -> None:
    olivia_orders(shop_store)
    post(client, redact_body())
    request = ComplianceRequest.objects.get()
    # when a late task runs it again
    state = compliance_request_process(request_id=request.pk)
    # then it is left as it was
    assert state == ComplianceState.PROCESSED
    assert ComplianceRequest.objects.get().attempts == 1


# --- customers/data_request --------------------------------------------------------------------


def test_data_request_notes_what_we_hold_for_support(client: Client, shop_store: Store) -> None:
    olivia_orders(shop_store)
    body = {
        "shop_id": 954889, "shop_domain": SHOP, "orders_requested": [4501],
        "customer": {"id": 191167, "email": "olivia.martin@example.com", "phone": None}, "data_request": {"id": 9999},
    }  # fmt: skip
    response = post(client, body, topic="customers/data_request")
    assert response.status_code == 200
    request = ComplianceRequest.objects.get()
    assert (request.state, request.data_request_id, bytes(request.body)) == (ComplianceState.PROCESSED, "9999", b"")
    assert request.outcome == {
        "orders_named": 1,
        "held": [
            {"store_id": shop_store.pk, "store": "Main", "account_id": shop_store.account_id,
             "orders": ["#1001", "#1002"], "fields": ["customer e-mail", "customer name", "search text"], "bodies": 0},
        ],
    }  # fmt: skip
    # and nothing was erased
    assert Order.objects.filter(customer_name__startswith="Olivia").count() == 2


# --- shop/redact ---------------------------------------------------------------------------------


def test_shop_redact_erases_the_shop_data_of_stores_that_no_longer_sync(
    client: Client, shop_store: Store, other_account: Any, owner: Any
) -> None:
    # given the uninstalled store of the shop (disconnected) and another account's that still syncs
    olivia_orders(shop_store)
    Store.objects.filter(pk=shop_store.pk).update(status=StoreStatus.DISCONNECTED)
    WebhookDelivery.objects.create(store=shop_store, dedupe_key="d-1", topic="orders/create", body=b"{}")
    ProviderAttempt.objects.create(store=shop_store, provider="shopify", method="GET", path="/x", duration_ms=3)
    ChannelAuthorization.objects.create(
        account=shop_store.account, user=owner, channel="shopify", state_digest="a" * 64, session_digest="b" * 64,
        shop=SHOP, expires_at="2030-01-01T00:00:00Z", used_at="2029-12-31T00:00:00Z",
    )  # fmt: skip
    installing = ChannelAuthorization.objects.create(
        account=other_account, user=owner, channel="shopify", state_digest="c" * 64, session_digest="d" * 64,
        shop=SHOP, expires_at="2030-01-01T00:00:00Z",
    )  # fmt: skip
    live = StoreFactory(account=other_account, name="Live", channel="shopify", domain=SHOP, shop_id=SHOP)
    kept = OrderFactory(store=live, number="#7", customer_name="Ana")
    # when
    response = post(client, {"shop_id": 954889, "shop_domain": SHOP}, topic="shop/redact")
    # then the disconnected store's data is gone and its orders stay without customers
    assert response.status_code == 200
    shop_store.refresh_from_db()
    assert (shop_store.credentials_token, shop_store.webhook_secret_token) == ("", "")
    assert shop_store.status == StoreStatus.DISCONNECTED
    orders = Order.objects.filter(store=shop_store).order_by("number")
    assert list(orders.values_list("number", "customer_name", "customer_email")) == [
        ("#1001", "", ""),
        ("#1002", "", ""),
    ]
    assert not WebhookDelivery.objects.filter(store=shop_store).exists()
    assert not ProviderAttempt.objects.filter(store=shop_store).exists()
    assert list(ChannelAuthorization.objects.all()) == [installing]  # one under way is left alone
    # and the store that still syncs is left alone, listed for support
    kept.refresh_from_db()
    assert kept.customer_name == "Ana"
    request = ComplianceRequest.objects.get()
    assert request.outcome["skipped_still_connected"] == [
        {"store_id": live.pk, "store": "Live", "account_id": other_account.pk, "status": "active"}
    ]
    assert request.outcome["erased"] == [
        {"store_id": shop_store.pk, "store": "Main", "account_id": shop_store.account_id, "orders": 2,
         "deliveries": 1, "attempts": 1},
    ]  # fmt: skip


def _spent_authorization(account: Any, user: Any, *, key: str, shop: str = SHOP, store: Any = None) -> Any:
    return ChannelAuthorization.objects.create(
        account=account, user=user, channel="shopify", state_digest=key * 64, session_digest=key * 64,
        shop=shop, store=store, expires_at="2030-01-01T00:00:00Z", used_at="2029-12-31T00:00:00Z",
    )  # fmt: skip


def test_shop_redact_deletes_only_the_authorizations_of_the_accounts_whose_store_it_erases(
    client: Client, shop_store: Store, other_account: Any, owner: Any
) -> None:
    # given the shop uninstalled from account A's store, still connected to account B's, and
    # spent authorizations of the shop in both accounts (B's made and reconnected its live store)
    Store.objects.filter(pk=shop_store.pk).update(status=StoreStatus.DISCONNECTED)
    live = StoreFactory(account=other_account, name="Live", channel="shopify", domain=SHOP, shop_id=SHOP)
    _spent_authorization(shop_store.account, owner, key="a")
    _spent_authorization(shop_store.account, owner, key="b", store=shop_store)
    other_shop = _spent_authorization(shop_store.account, owner, key="c", shop="another.myshopify.com")
    b_install = _spent_authorization(other_account, owner, key="d")
    b_reconnect = _spent_authorization(other_account, owner, key="e", store=live)
    # when
    post(client, {"shop_id": 954889, "shop_domain": SHOP}, topic="shop/redact")
    # then only account A's authorizations of that shop are gone
    assert ComplianceRequest.objects.get().outcome["skipped_still_connected"][0]["store_id"] == live.pk
    assert set(ChannelAuthorization.objects.all()) == {other_shop, b_install, b_reconnect}


def test_a_request_for_a_shop_we_do_not_know_is_processed_with_nothing_found(client: Client, db: None) -> None:
    response = post(client, redact_body(orders=[1]))
    assert response.status_code == 200
    request = ComplianceRequest.objects.get()
    assert (request.state, request.outcome) == (ComplianceState.PROCESSED, {"stores": [], "orders_named": 1})
