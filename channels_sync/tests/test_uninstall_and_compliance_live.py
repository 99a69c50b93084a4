"""Over real HTTP with the sandbox's Shopify: uninstalling the app sends ``app/uninstalled`` to the
store's address, the store is disconnected at once with its tokens forgotten, and nothing calls
the shop again (no pull, no token refresh, no resync, no webhook clean-up); a ``customers/redact``
the sandbox sends to the app's compliance address erases the customer from their orders while
the order center still lists them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.signals import request_started
from django.test import Client
from django.utils import timezone

from channels_sync.enums import AuthKind, ComplianceState, DeliveryState, StoreStatus
from channels_sync.models import ComplianceRequest, ProviderAttempt, Store, WebhookDelivery
from channels_sync.providers.base import REGISTRY
from channels_sync.services import order_resync, pulls_queue_due, store_connect, store_disconnect, store_pull
from channels_sync.services.connect import ConnectResult
from channels_sync.services.tokens import store_token_refresh, stores_due_for_refresh
from orders.models import Order
from sandbox.models import SimAccount, SimApp, SimGrant
from sandbox.webhooks import deliveries_send_due
from tests.pages import center, order_numbers

from .conftest import LIVE_DB

pytestmark = LIVE_DB

APP_SECRET = "sandbox-app-secret"


@pytest.fixture
def app(settings: Any) -> SimApp:
    """The operator's Shopify app, as the sandbox knows it and as our settings name it."""
    settings.SHOPIFY_CLIENT_ID, settings.SHOPIFY_CLIENT_SECRET = "zopi-test-app", APP_SECRET
    return SimApp.objects.create(provider="shopify", client_id="zopi-test-app", client_secret=APP_SECRET)


@pytest.fixture
def shop_requests() -> Iterator[list[str]]:
    """The paths of the requests the simulated Shopify serves from now on (the live server runs in
    this process: Django's own request signal sees them)."""
    seen: list[str] = []

    def record(sender: Any, environ: dict[str, Any] | None = None, **kwargs: Any) -> None:
        path = str((environ or {}).get("PATH_INFO", ""))
        if path.startswith("/sandbox/shopify/"):
            seen.append(path)

    request_started.connect(record, dispatch_uid="shop-requests")
    yield seen
    request_started.disconnect(dispatch_uid="shop-requests")


def connected_shop(control: Any, account: Any, name: str) -> ConnectResult:
    """A shop connected by the product's own service, with a few orders imported by webhook."""
    shop = control.account("shopify", name)
    result = store_connect(
        account=account, channel="shopify", name=name, base_url=shop["base_url"], credentials=shop["credentials"]
    )
    control.create_orders("shopify", name, count=3, seed=11)
    deliveries_send_due()
    assert Order.objects.filter(store=result.store).count() == 3
    return result


def as_app_store(store: Store, *, shop: dict[str, Any]) -> None:
    """The store as an app install: the app's secret (the settings') signs its webhooks, its token
    expires soon."""
    store.auth_kind = AuthKind.APP
    store.webhook_secret = ""
    store.credentials = {**store.credentials, "refresh_token": "shprt_x"}
    store.token_expires_at = timezone.now() + timedelta(seconds=30)
    store.save()
    client: Any = REGISTRY["shopify"](base_url=store.base_url, credentials=shop["credentials"]).client
    client.webhook_subscribe(topic="app/uninstalled", address=store_webhook_url(store))


def store_webhook_url(store: Store) -> str:
    return f"{settings.SITE_URL}/webhooks/shopify/{store.public_id}/"


def test_after_app_uninstalled_nothing_calls_the_shop_again(
    control: Any, site_url: str, account: Any, app: SimApp, shop_requests: list[str]
) -> None:
    # given an app-connected store with orders, its token due for a refresh
    result = connected_shop(control, account, "bye-app")
    store = result.store
    order = Order.objects.filter(store=store).first()
    assert order is not None
    assert order_resync(order_id=order.pk) == [order.pk]
    assert shop_requests  # (the recorder sees the shop's requests)
    as_app_store(store, shop=control.account("shopify", "bye-app"))
    sim_shop = SimAccount.objects.get(provider="shopify", name="bye-app")
    SimGrant.objects.create(app=app, account=sim_shop, access_token="shpat_grant", refresh_token="shprt_grant")
    assert stores_due_for_refresh() == [store.pk]
    # when the merchant uninstalls the app in Shopify
    assert control.shopify_uninstall("bye-app") == {"revoked": 1, "queued": 1}
    deliveries_send_due()
    # then the store is disconnected at once, its tokens and webhook secret forgotten
    store.refresh_from_db()
    assert store.status == StoreStatus.DISCONNECTED
    assert (store.credentials_token, store.webhook_secret_token, store.token_expires_at) == ("", "", None)
    assert "uninstalled" in store.last_error
    assert SimGrant.objects.get().revoked_at is not None
    delivery = WebhookDelivery.objects.get(store=store, topic="app/uninstalled")
    assert delivery.state == DeliveryState.PROCESSED
    # and from then on no entry point calls the shop
    attempts_before = ProviderAttempt.objects.count()
    shop_requests.clear()
    Store.objects.filter(pk=store.pk).update(last_pull_at=None)  # as due as a store can be
    assert pulls_queue_due() == []
    assert store_pull(store_id=store.pk).skipped
    assert stores_due_for_refresh() == []
    assert store_token_refresh(store_id=store.pk) is False
    assert order_resync(order_id=order.pk) == []
    assert store_disconnect(account=account, store_id=store.pk).webhooks_removed is None
    control.create_orders("shopify", "bye-app", count=1, seed=12)  # the shop's own webhooks: refused
    deliveries_send_due()
    assert ProviderAttempt.objects.count() == attempts_before
    assert shop_requests == []
    assert Order.objects.filter(store=store).count() == 3  # the orders stay


def test_customers_redact_from_the_sandbox_erases_the_customer_and_the_order_center_still_lists_the_orders(
    control: Any, site_url: str, account: Any, app: SimApp, member_client: Client
) -> None:
    # given a shop with orders, Shopify knowing the store by its myshopify domain
    result = connected_shop(control, account, "redact-shop")
    store = result.store
    assert store.shop_id == "redact-shop.myshopify.com"
    target = Order.objects.filter(store=store).order_by("number").first()
    assert target is not None
    assert target.customer_email
    assert target.customer_name
    name, email = target.customer_name, target.customer_email
    others = set(Order.objects.filter(store=store).exclude(customer_email=email).values_list("number", flat=True))
    # when the sandbox sends customers/redact for that customer to the app's compliance address
    sent = control.shopify_compliance("redact-shop", "customers/redact", email=email)
    assert sent["payload"]["orders_to_redact"] == [int(target.channel_order_id)]
    deliveries_send_due()
    # then it was stored, processed and its body dropped
    request = ComplianceRequest.objects.get()
    assert (request.state, bytes(request.body)) == (ComplianceState.PROCESSED, b"")
    # and the customer is gone from the order, search included; the order center lists every order
    target.refresh_from_db()
    assert (target.customer_name, target.customer_email) == ("", "")
    listed = order_numbers(center(member_client, status="new"))
    assert sorted(listed) == sorted({target.number, *others})
    assert order_numbers(center(member_client, status="new", q=email)) == []
    assert target.number not in order_numbers(center(member_client, status="new", q=name.split()[0]))
    assert order_numbers(center(member_client, status="new", q=target.number)) == [target.number]
    # and the webhook bodies of that order were emptied
    bodies = [bytes(d.body) for d in WebhookDelivery.objects.filter(store=store) if target.pk in d.order_ids]
    assert bodies
    assert set(bodies) == {b""}


def test_a_compliance_webhook_signed_with_another_secret_is_refused_and_retried(
    control: Any, site_url: str, account: Any, app: SimApp, settings: Any
) -> None:
    control.account("shopify", "wrong-secret")
    settings.SHOPIFY_CLIENT_SECRET = "not-the-app-secret"
    control.shopify_compliance("wrong-secret", "shop/redact")
    deliveries_send_due()
    assert not ComplianceRequest.objects.exists()
    from sandbox.models import WebhookDelivery as SimDelivery

    sent = SimDelivery.objects.get(topic="shop/redact")
    assert (sent.last_status, sent.state) == (401, "pending")  # Shopify retries a refused delivery
