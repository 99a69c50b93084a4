"""Connect defects a review found: a new WooCommerce webhook secret reaches its subscriptions, a
pause or disconnect made during a check stays, a hostile answer never leaves a store
"Connecting…", and new details sent while a check is under way are refused, not dropped."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from channels_sync.enums import AuthKind, StoreStatus
from channels_sync.models import Store
from channels_sync.providers.woocommerce.provider import WooCommerceProvider
from channels_sync.services import (
    ConnectError,
    store_connect,
    store_connect_check,
    store_connect_start,
    store_disconnect,
    store_pull,
    store_set_paused,
)
from channels_sync.tasks import connect_store
from integrations.oauth import TokenGrant
from sandbox.tests.conftest import SANDBOX_LIVE_DB
from sandbox.webhooks import deliveries_send_due
from tests.factories import StoreFactory

from .conftest import LIVE_DB
from .test_connect import FakeShop, fake_shop, shopify_form, silent_channel  # noqa: F401 (fixtures)
from .test_delivery_cap import SilentChannel

NESTED = b"[" * 100_000 + b"]" * 100_000  # JSON nested too deep: RecursionError when read


def shopify(url: str, token: str = "a") -> dict[str, Any]:  # noqa: S107 (a fake shop's token)
    return {"channel": "shopify", "name": "Shop", "base_url": url, "credentials": {"access_token": token}}


@SANDBOX_LIVE_DB
def test_a_new_woocommerce_webhook_secret_makes_the_subscriptions_again_so_deliveries_verify(
    control: Any, account: Any, webhook_receiver: Any, settings: Any
) -> None:
    settings.SITE_URL = webhook_receiver.url  # the channel delivers to the receiver
    site = control.account("woocommerce", "secret-site")
    keys = {k: site["credentials"][k] for k in ("consumer_key", "consumer_secret")}
    given = {"channel": "woocommerce", "name": "Woo", "base_url": site["base_url"], "credentials": keys}
    store_connect(account=account, webhook_secret="old-secret", **given)  # type: ignore[arg-type]

    # when its credentials are updated with a new webhook secret
    store = store_connect(account=account, webhook_secret="new-secret", **given).store  # type: ignore[arg-type]

    # then the channel signs with the new one (one subscription per topic), and the store verifies it
    (order_id,) = control.create_orders("woocommerce", "secret-site", count=1, seed=3)
    deliveries_send_due()
    received = webhook_receiver.wait_for(1)
    assert len(received) == 1
    assert store.webhook_secret == "new-secret"
    assert WooCommerceProvider.verify_webhook(
        headers=received[0].headers, body=received[0].body, credentials=store.signing_credentials()
    )


@pytest.mark.django_db
def test_updating_credentials_without_a_webhook_secret_keeps_the_stored_one(
    owner_client: Client, account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    store = StoreFactory(account=account, channel="woocommerce", base_url="https://woo.example.com")
    store.webhook_secret = "kept"
    store.save()
    form = {f"update-{store.pk}-consumer_key": "ck_new", f"update-{store.pk}-consumer_secret": "cs_new"}

    with django_capture_on_commit_callbacks(execute=False):
        response = owner_client.post(f"/stores/{store.pk}/credentials/", form, HTTP_HX_REQUEST="true")

    assert response.status_code == 200, response.content.decode()
    store.refresh_from_db()
    assert store.connect_pending["webhook_secret"] == "kept"
    assert store.connect_pending["credentials"] == {"consumer_key": "ck_new", "consumer_secret": "cs_new"}


@pytest.mark.django_db
def test_a_custom_app_store_reconnected_as_the_shopify_app_keeps_no_webhook_secret(account: Any) -> None:
    # given a shop connected with a custom app's token and its webhook secret
    store = StoreFactory(
        account=account, name="Shop", channel="shopify", base_url="https://shop.myshopify.com",
        domain="shop.myshopify.com", status=StoreStatus.ACTIVE,
    )  # fmt: skip
    store.webhook_secret = "custom-app-secret"
    store.save()

    # when it connects again as the operator's app (its webhooks then signed with the app's secret)
    store_connect_start(
        account=account, enqueue=False, channel="shopify", name="Shop", base_url=store.base_url,
        domain=store.domain, credentials={}, grant=TokenGrant(access_token="shpat_app", refresh_token="shprt"),
    )  # fmt: skip

    # then the custom app's secret is not carried over
    store.refresh_from_db()
    assert (store.connect_pending["auth_kind"], store.connect_pending["webhook_secret"]) == (AuthKind.APP, "")


@LIVE_DB
def test_a_disconnect_drops_the_check_queued_before_it(account: Any, fake_shop: FakeShop) -> None:  # noqa: F811
    store = store_connect(account=account, **shopify(fake_shop.url)).store  # type: ignore[arg-type]
    start = store_connect_start(account=account, enqueue=False, **shopify(fake_shop.url, token="b"))
    store_disconnect(account=account, store_id=store.pk)

    assert store_connect_check(store_id=start.store.pk) is None

    store.refresh_from_db()
    assert (store.status, store.credentials, store.connect_started_at) == (StoreStatus.DISCONNECTED, {}, None)


@LIVE_DB
def test_a_disconnect_during_the_check_stays_and_what_it_subscribed_is_removed(
    account: Any,
    fake_shop: FakeShop,  # noqa: F811
) -> None:
    start = store_connect_start(account=account, enqueue=False, **shopify(fake_shop.url))

    def disconnect() -> None:  # the owner disconnects while the channel is being asked
        store_disconnect(account=account, store_id=start.store.pk)
        connection.close()

    fake_shop.on_shop = disconnect
    assert store_connect_check(store_id=start.store.pk) is None

    store = Store.objects.get(pk=start.store.pk)
    assert (store.status, store.credentials, store.connect_started_at) == (StoreStatus.DISCONNECTED, {}, None)
    assert fake_shop.hooks == []


@LIVE_DB
def test_a_pause_during_a_failing_check_stays(account: Any, fake_shop: FakeShop) -> None:  # noqa: F811
    store = store_connect(account=account, **shopify(fake_shop.url)).store  # type: ignore[arg-type]
    fake_shop.hooks = []  # the update subscribes again, and the channel refuses
    fake_shop.post_statuses = [422]
    start = store_connect_start(account=account, enqueue=False, **shopify(fake_shop.url, token="b"))

    def pause() -> None:
        store_set_paused(account=account, store_id=store.pk, paused=True)
        connection.close()

    fake_shop.on_shop = pause
    with pytest.raises(ConnectError):
        store_connect_check(store_id=start.store.pk)

    store.refresh_from_db()
    assert (store.status, store.credentials, store.connect_started_at) == ("paused", {"access_token": "a"}, None)


@LIVE_DB
def test_a_pause_during_a_check_is_not_undone(account: Any, fake_shop: FakeShop) -> None:  # noqa: F811
    store = store_connect(account=account, **shopify(fake_shop.url)).store  # type: ignore[arg-type]
    start = store_connect_start(account=account, enqueue=False, **shopify(fake_shop.url, token="b"))

    def pause() -> None:
        store_set_paused(account=account, store_id=store.pk, paused=True)
        connection.close()

    fake_shop.on_shop = pause
    assert store_connect_check(store_id=start.store.pk) is None

    store.refresh_from_db()
    assert (store.status, store.credentials, store.connect_started_at) == ("paused", {"access_token": "a"}, None)
    assert "paused or disconnected while its details were checked" in store.connect_error
    assert len(fake_shop.hooks) > 0  # its own subscriptions stay


@pytest.mark.django_db
def test_a_hostile_answer_never_leaves_the_store_connecting(account: Any, fake_shop: FakeShop) -> None:  # noqa: F811
    fake_shop.raw_listing = NESTED  # the webhook list, read when subscribing
    start = store_connect_start(account=account, enqueue=False, **shopify(fake_shop.url))

    assert connect_store(start.store.pk) == "failed"

    store = Store.objects.get(pk=start.store.pk)
    assert (store.status, store.connect_started_at, store.connect_state(timezone.now())) == (
        StoreStatus.NOT_CONNECTED,
        None,
        "failed",
    )
    assert "nested too deeply to read" in store.connect_error
    assert len(store.connect_error) < 400


@pytest.mark.django_db
def test_a_pull_given_a_hostile_answer_is_counted_and_backs_off(account: Any, fake_shop: FakeShop) -> None:  # noqa: F811
    # JSON nested too deep for the parser (a RecursionError once, an uncounted failure pulled
    # again every interval) is a provider error now: counted, with a reason, backing off.
    store = store_connect(account=account, **shopify(fake_shop.url)).store  # type: ignore[arg-type]
    fake_shop.raw_listing = NESTED  # the order list

    result = store_pull(store_id=store.pk)

    store.refresh_from_db()
    assert "nested too deeply to read" in result.error
    assert (store.pull_failures, store.sync_lock_until) == (1, None)
    assert "nested too deeply to read" in store.last_error
    assert store.next_pull_at is not None
    assert store.next_pull_at > timezone.now()


@pytest.mark.django_db
def test_new_details_sent_while_a_check_is_under_way_are_refused_with_a_form_error(
    owner_client: Client,
    account: Any,
    silent_channel: SilentChannel,  # noqa: F811
    django_capture_on_commit_callbacks: Any,
) -> None:
    form = shopify_form("Busy", silent_channel.url)
    with django_capture_on_commit_callbacks(execute=False):
        first = owner_client.post("/stores/connect/shopify/", form)
        again = owner_client.post("/stores/connect/shopify/", form)  # the same form sent twice: quiet
        other = owner_client.post("/stores/connect/shopify/", {**form, "shopify-access_token": "shpat_other"})

    assert (first.status_code, again.status_code, other.status_code) == (302, 302, 422)
    assert "being checked: try again when that check ends" in other.content.decode()
    assert Store.objects.get(name="Busy").connect_pending["credentials"] == {"access_token": "shpat_x"}
