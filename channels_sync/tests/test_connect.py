"""Connecting through a task: the request never calls the channel, a form sent twice neither
errors nor leaves subscriptions behind, a failed connect removes what it subscribed, credentials
update in place (same row, same orders), disconnect survives garbage; beat queues a store once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.providers.shopify.client import ShopifyClient
from channels_sync.services import (
    ConnectError,
    pulls_queue_due,
    store_connect,
    store_connect_check,
    store_connect_start,
    store_disconnect,
    store_pull,
)
from channels_sync.tasks import connect_store, pull_store
from orders.models import Order
from tests.factories import StoreFactory

from .conftest import LIVE_DB
from .test_delivery_cap import SilentChannel


class FakeShop:
    """A Shopify GraphQL Admin API stand-in on loopback: says what it is told, records every
    request as (operation name, path)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.hooks: list[dict[str, Any]] = []  # its subscriptions (GraphQL nodes)
        self.webhooks_body: Any = None  # the webhookSubscriptions answered, when set (else the subscriptions)
        self.post_statuses: list[int] = []  # outcomes of subscription creates, in turn (then 201; else userErrors)
        self.myshopify_domain = "fake.myshopify.com"  # what the shop query says the shop is
        self.raw_listing: bytes | None = None  # a raw body for the webhook and order lists, when set
        self.on_shop: Callable[[], None] | None = None  # run when the shop is asked (mid-check)
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, data: Any, raw: bytes | None = None) -> None:
                body = raw if raw is not None else json.dumps({"data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                operation = request["query"].split("(")[0].split("{")[0].split()[-1]
                variables = request.get("variables") or {}
                shop.requests.append((operation, self.path))
                if operation == "Shop":  # which shop this is (the shop its webhooks name)
                    if shop.on_shop is not None:
                        shop.on_shop()
                    return self._answer({"shop": {"myshopifyDomain": shop.myshopify_domain}})
                if operation in {"OrdersPage", "WebhookSubscriptions"} and shop.raw_listing is not None:
                    return self._answer(None, raw=shop.raw_listing)
                if operation == "OrdersPage":
                    return self._answer({"orders": {"nodes": [], "pageInfo": {"hasNextPage": False}}})
                if operation == "WebhookSubscriptions":
                    listed = shop.webhooks_body if shop.webhooks_body is not None else {"nodes": shop.hooks}
                    return self._answer({"webhookSubscriptions": listed})
                if operation == "WebhookSubscriptionCreate":
                    status = shop.post_statuses.pop(0) if shop.post_statuses else 201
                    if status != 201:
                        refused = [{"field": ["webhookSubscription", "uri"], "message": "Address is invalid"}]
                        return self._answer({"webhookSubscriptionCreate": {"userErrors": refused}})
                    hook_id = f"gid://shopify/WebhookSubscription/{len(shop.requests)}"
                    shop.hooks.append({"id": hook_id, "topic": variables["topic"], "uri": variables["uri"]})
                    return self._answer(
                        {"webhookSubscriptionCreate": {"webhookSubscription": shop.hooks[-1], "userErrors": []}}
                    )
                shop.hooks = [hook for hook in shop.hooks if hook["id"] != variables.get("id")]
                return self._answer(
                    {
                        "webhookSubscriptionDelete": {
                            "deletedWebhookSubscriptionId": variables.get("id"),
                            "userErrors": [],
                        }
                    }
                )

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake_shop() -> Iterator[FakeShop]:
    shop = FakeShop()
    yield shop
    shop.server.shutdown()
    shop.server.server_close()


@pytest.fixture
def silent_channel() -> Iterator[SilentChannel]:
    channel = SilentChannel()
    yield channel
    channel.close()


def shopify_form(name: str, base_url: str) -> dict[str, str]:
    return {
        "shopify-name": name,
        "shopify-base_url": base_url,
        "shopify-access_token": "shpat_x",
        "shopify-webhook_secret": "whsec",
    }


@pytest.mark.django_db
def test_the_connect_form_queues_the_check_and_a_second_submit_changes_nothing(
    owner_client: Client, account: Any, silent_channel: SilentChannel, django_capture_on_commit_callbacks: Any
) -> None:
    # when the form is sent for a shop that never answers, twice
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = owner_client.post(
            "/stores/connect/shopify/", shopify_form("Slow shop", silent_channel.url), HTTP_HX_REQUEST="true"
        )
    with django_capture_on_commit_callbacks(execute=False) as again:
        second = owner_client.post(
            "/stores/connect/shopify/", shopify_form("Slow shop", silent_channel.url), HTTP_HX_REQUEST="true"
        )

    # then the page answered at once, without calling the channel: the row says "Connecting…"
    # and the table polls; one check was queued, the second submit queued nothing and is no error
    assert (first.status_code, second.status_code) == (200, 200)
    for response in (first, second):
        html = response.content.decode()
        assert 'data-connect-state="connecting"' in html
        assert 'hx-trigger="every 3s [document.visibilityState' in html
    assert silent_channel.connections == []
    assert (len(callbacks), len(again)) == (1, 0)
    store = Store.objects.get(account=account)
    assert (store.name, store.status, store.credentials) == ("Slow shop", StoreStatus.CONNECTING, {})


@pytest.mark.django_db
def test_a_failed_connect_removes_the_subscriptions_it_made_and_says_what_to_do(
    owner_client: Client, account: Any, fake_shop: FakeShop, settings: Any
) -> None:
    # given a shop that takes the first subscription and refuses the second
    fake_shop.post_statuses = [201, 422]
    start = store_connect_start(
        account=account, enqueue=False, channel="shopify", name="Half", base_url=fake_shop.url,
        credentials={"access_token": "shpat_x", "webhook_secret": "whsec"},
    )  # fmt: skip

    # when the connect task runs
    assert connect_store.apply(args=[start.store.pk]).get() == "failed"

    # then the subscription it made is deleted again, and the row says why and what to do
    assert [operation for operation, _ in fake_shop.requests] == [
        "Shop",
        "Shop",
        "WebhookSubscriptions",
        "WebhookSubscriptionCreate",
        "WebhookSubscriptionCreate",
        "WebhookSubscriptions",  # refused: is it there anyway? (no)
        "WebhookSubscriptions",
        "WebhookSubscriptionDelete",
    ]
    assert fake_shop.hooks == []
    store = Store.objects.get(pk=start.store.pk)
    assert (store.status, store.credentials, store.connect_started_at) == (StoreStatus.NOT_CONNECTED, {}, None)
    assert "connect again" in store.connect_error
    html = owner_client.get("/stores/").content.decode()
    assert 'data-connect-state="failed"' in html
    assert "Remove" in html
    # and the merchant can remove it
    assert owner_client.post(f"/stores/{store.pk}/discard/").status_code == 302
    assert not Store.objects.filter(pk=store.pk).exists()


@pytest.mark.django_db
def test_disconnect_works_when_the_channel_answers_garbage(
    owner_client: Client, account: Any, fake_shop: FakeShop
) -> None:
    store = StoreFactory(account=account, channel="shopify", base_url=fake_shop.url)
    store.credentials = {"access_token": "shpat_x"}
    store.save()
    fake_shop.webhooks_body = ["not", "an", "object"]

    response = owner_client.post(f"/stores/{store.pk}/disconnect/", follow=True)

    assert response.status_code == 200
    store.refresh_from_db()
    assert (store.status, store.credentials) == (StoreStatus.DISCONNECTED, {})
    assert "Remove its webhooks in the Shopify admin" in response.content.decode()
    assert store_disconnect(account=account, store_id=store.pk).webhooks_removed is None


@pytest.mark.django_db
def test_beat_queues_a_store_once_and_its_late_task_does_not_pull_a_store_pulled_meanwhile(
    account: Any, silent_channel: SilentChannel, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    store = StoreFactory(account=account, channel="shopify", base_url=silent_channel.url)
    store.credentials = {"access_token": "shpat_x"}
    store.save()
    now = timezone.now()
    # beat runs every minute while the pull waits in a busy queue: queued once
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert pulls_queue_due(now=now) == [store.pk]
        assert pulls_queue_due(now=now + timedelta(minutes=1)) == []
        assert pulls_queue_due(now=now + timedelta(minutes=2)) == []
    assert len(callbacks) == 1
    # a queued task lost for good: beat queues it again after SYNC_PULL_QUEUED_EXPIRY
    with django_capture_on_commit_callbacks(execute=False):
        assert pulls_queue_due(now=now + settings.SYNC_PULL_QUEUED_EXPIRY + timedelta(minutes=1)) == [store.pk]
    # the store is pulled meanwhile (a merchant's Resync), then beat's task arrives: nothing to do
    Store.objects.filter(pk=store.pk).update(last_pull_at=timezone.now())
    assert pull_store.apply(args=[store.pk], kwargs={"due_only": True}).get()["skipped"]
    assert silent_channel.connections == []
    store.refresh_from_db()
    assert (store.pull_queued_at, store.pull_runs) == (None, 0)


@LIVE_DB
def test_connecting_again_under_the_same_name_updates_the_store_in_place(
    control: Any, site_url: str, account: Any
) -> None:
    # given a connected store with its orders, disconnected later
    shop = control.account("shopify", "again-shop")
    first = store_connect(
        account=account, channel="shopify", name="Again", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store
    control.create_orders("shopify", "again-shop", count=3, seed=2)
    assert store_pull(store_id=first.pk).created == 3
    numbers = sorted(Order.objects.values_list("number", flat=True))
    store_disconnect(account=account, store_id=first.pk)

    # when the merchant connects it again under its name, twice (a double submit), and the task runs
    given = {"channel": "shopify", "name": "Again", "base_url": shop["base_url"], "credentials": shop["credentials"]}
    start = store_connect_start(account=account, enqueue=False, **given)
    assert not store_connect_start(account=account, enqueue=False, **given).queued
    result = store_connect_check(store_id=start.store.pk, start_import=False)
    assert result is not None
    assert store_connect_check(store_id=start.store.pk) is None  # a duplicate task: nothing to do

    # then it is the same row, active again, with one subscription per topic, the same orders and numbers
    store = Store.objects.get(account=account)
    assert (store.pk, store.public_id, store.status) == (first.pk, first.public_id, StoreStatus.ACTIVE)
    client = ShopifyClient(shop["base_url"], access_token=shop["credentials"]["access_token"])
    hooks = [(h.topic, h.address) for h in client.webhook_subscriptions()]
    assert sorted(hooks) == sorted({(topic, result.webhook_url) for topic in result.webhook_topics})
    assert store_pull(store_id=store.pk).created == 0
    assert sorted(Order.objects.values_list("number", flat=True)) == numbers
    # and another shop under its name is refused, the store unchanged
    other = control.account("shopify", "other-shop")
    with pytest.raises(Exception, match="its credentials can be updated, not its address"):
        store_connect_start(account=account, enqueue=False, **{**given, "base_url": other["base_url"]})
    assert Store.objects.get(pk=store.pk).base_url == shop["base_url"]


@pytest.mark.django_db
def test_new_credentials_for_another_shop_at_the_same_address_are_refused(account: Any, fake_shop: FakeShop) -> None:
    """The store keeps the shop its webhooks must name (``shop_id``); credentials updated in place
    that the channel says are another shop's would make its webhooks refused, and mix shops."""
    given = {"channel": "shopify", "name": "Same", "base_url": fake_shop.url, "credentials": {"access_token": "a"}}
    store = store_connect(account=account, **given).store  # type: ignore[arg-type]
    assert store.shop_id == "fake.myshopify.com"
    fake_shop.myshopify_domain = "another.myshopify.com"

    start = store_connect_start(account=account, enqueue=False, **{**given, "credentials": {"access_token": "b"}})
    with pytest.raises(ConnectError, match="These credentials are for another shop"):
        store_connect_check(store_id=start.store.pk)

    store.refresh_from_db()
    assert (store.shop_id, store.credentials, store.status) == ("fake.myshopify.com", {"access_token": "a"}, "active")
    assert "another shop" in store.connect_error
