"""Webhook intake: signed deliveries are stored then processed; bad signatures store nothing;
repeats are no-ops; an older update never wins; a malformed body is kept with its reason and
replays after a fix."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from channels_sync.enums import DeliveryState
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.shopify.provider import ShopifyProvider, shopify_hmac
from channels_sync.services import deliveries_replay, store_connect
from integrations.errors import MalformedPayload
from orders.enums import OrderStatus, SubStatus
from orders.models import Order
from orders.services.counts import order_counts_from_rows, order_counts_stored
from sandbox.webhooks import deliveries_send_due
from tests.factories import StoreFactory

from .conftest import LIVE_DB

SHOPIFY_ORDER = json.loads((Path(__file__).parent / "providers" / "fixtures" / "shopify_order.json").read_text())
SECRET = "whsec-test"


@pytest.fixture
def shop_store(account: Any) -> Store:
    store = StoreFactory(account=account, name="Shop", channel="shopify", base_url="http://shop.invalid")
    store.credentials = {"access_token": "shpat_x"}
    store.webhook_secret = SECRET
    store.save()
    return store


def order_body(**changes: Any) -> bytes:
    return json.dumps({**SHOPIFY_ORDER, **changes}).encode()


def post(
    client: Client,
    store: Store,
    body: bytes,
    *,
    delivery: str = "d-1",
    topic: str = "orders/updated",
    sign: str | None = None,
) -> Any:
    return client.post(
        f"/webhooks/shopify/{store.public_id}/",
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC=topic,
        HTTP_X_SHOPIFY_WEBHOOK_ID=delivery,
        HTTP_X_SHOPIFY_HMAC_SHA256=sign if sign is not None else shopify_hmac(SECRET, body),
    )


@pytest.mark.django_db
def test_a_signed_webhook_is_stored_and_upserts_the_order(
    client: Client, shop_store: Store, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, shop_store, order_body())
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    order = Order.objects.get()
    assert (delivery.state, delivery.order_ids, delivery.attempts) == (DeliveryState.PROCESSED, [order.pk], 1)
    assert order.channel_order_id == str(SHOPIFY_ORDER["id"])
    shop_store.refresh_from_db()
    assert shop_store.last_webhook_at is not None


@pytest.mark.django_db
def test_last_webhook_time_moves_at_most_every_30_seconds(client: Client, shop_store: Store) -> None:
    """Every delivery of a store would otherwise write the store's row (they queue on its lock)."""
    assert post(client, shop_store, order_body(note="1"), delivery="d-1").status_code == 200
    shop_store.refresh_from_db()
    first = shop_store.last_webhook_at
    assert first is not None
    assert post(client, shop_store, order_body(note="2"), delivery="d-2").status_code == 200
    shop_store.refresh_from_db()
    assert shop_store.last_webhook_at == first
    Store.objects.filter(pk=shop_store.pk).update(last_webhook_at=first - timedelta(seconds=31))
    assert post(client, shop_store, order_body(note="3"), delivery="d-3").status_code == 200
    shop_store.refresh_from_db()
    assert shop_store.last_webhook_at is not None
    assert shop_store.last_webhook_at > first
    assert WebhookDelivery.objects.filter(store=shop_store).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("sign", ["", "bm90IHRoZSBzaWduYXR1cmU=", shopify_hmac("other-secret", b"{}")])
def test_a_bad_signature_is_401_and_nothing_is_stored(client: Client, shop_store: Store, sign: str) -> None:
    response = post(client, shop_store, order_body(), sign=sign)
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_unknown_store_or_wrong_channel_is_404(client: Client, shop_store: Store) -> None:
    body = order_body()
    headers = {"HTTP_X_SHOPIFY_HMAC_SHA256": shopify_hmac(SECRET, body), "HTTP_X_SHOPIFY_TOPIC": "orders/create"}
    kwargs = {"data": body, "content_type": "application/json", **headers}
    assert client.post("/webhooks/shopify/6d3c9a4e-0000-4000-8000-000000000000/", **kwargs).status_code == 404
    assert client.post(f"/webhooks/woocommerce/{shop_store.public_id}/", **kwargs).status_code == 404
    assert client.get(f"/webhooks/shopify/{shop_store.public_id}/").status_code == 405
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_a_repeat_delivery_is_acknowledged_and_ignored(
    client: Client, shop_store: Store, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as first:
        post(client, shop_store, order_body(), delivery="same")
    with django_capture_on_commit_callbacks(execute=True) as second:
        response = post(client, shop_store, order_body(), delivery="same")
    assert response.status_code == 200
    assert (len(first), len(second)) == (1, 0)  # the repeat enqueued nothing
    assert WebhookDelivery.objects.count() == 1
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_an_older_update_arriving_late_does_not_win(
    client: Client, shop_store: Store, django_capture_on_commit_callbacks: Any
) -> None:
    newer = order_body(
        cancelled_at="2026-11-02T10:00:00-05:00", cancel_reason="customer", updated_at="2026-11-02T10:00:00-05:00"
    )
    older = order_body(cancelled_at=None, updated_at="2026-11-02T09:00:00-05:00")
    with django_capture_on_commit_callbacks(execute=True):
        post(client, shop_store, newer, delivery="new")
        post(client, shop_store, older, delivery="old")
    order = Order.objects.get()
    assert (order.status, order.sub_status) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSED}


@pytest.mark.django_db
def test_a_malformed_body_is_kept_with_its_reason(client: Client, shop_store: Store) -> None:
    response = post(client, shop_store, b'{"id": 1, "line_items": ')
    assert response.status_code == 200  # the channel must not retry forever: support sees it
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    assert delivery.error.startswith("malformed:")
    assert bytes(delivery.body) == b'{"id": 1, "line_items": '
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_delivery_that_failed_on_a_bug_replays_after_the_fix(
    client: Client, shop_store: Store, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a mapping bug that fails the processing (the intake itself parsed fine)
    real_parse = ShopifyProvider.parse_webhook.__func__  # type: ignore[attr-defined]
    calls = {"n": 0}

    def buggy(cls: Any, *, headers: Any, body: bytes) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            raise MalformedPayload("line_items[0].price: not a number")
        return real_parse(cls, headers=headers, body=body)

    monkeypatch.setattr(ShopifyProvider, "parse_webhook", classmethod(buggy))
    with django_capture_on_commit_callbacks(execute=True):
        post(client, shop_store, order_body())
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.error) == (DeliveryState.FAILED, "malformed: line_items[0].price: not a number")
    assert not Order.objects.exists()
    # when the fix ships and support replays it
    monkeypatch.setattr(ShopifyProvider, "parse_webhook", classmethod(real_parse))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_replay(delivery_ids=[delivery.pk]) == [delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.error, delivery.attempts) == (DeliveryState.PROCESSED, "", 1)  # started over
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_paused_store_acknowledges_and_ignores(
    client: Client, shop_store: Store, django_capture_on_commit_callbacks: Any
) -> None:
    Store.objects.filter(pk=shop_store.pk).update(status="paused")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, shop_store, order_body()).status_code == 200
    assert WebhookDelivery.objects.get().state == DeliveryState.IGNORED
    assert not Order.objects.exists()


# --- Over real HTTP, with the sandbox's Shopify delivering to our endpoint ---------------------


@LIVE_DB
def test_sandbox_shopify_orders_and_cancellation_arrive_by_webhook(control: Any, site_url: str, account: Any) -> None:
    # given a shop connected through the product's own service (registers the webhooks)
    shop = control.account("shopify", "hooks-shop")
    result = store_connect(
        account=account,
        channel="shopify",
        name="Hooks",
        base_url=shop["base_url"],
        credentials=shop["credentials"],
    )
    assert result.webhook_topics
    assert result.webhook_url.startswith(site_url)
    # when customers order and one cancels
    ids = control.create_orders("shopify", "hooks-shop", count=3, seed=7)
    deliveries_send_due()
    control.cancel_order("shopify", "hooks-shop", ids[0])
    deliveries_send_due()
    # then every order is there once, the canceled one in Channel Canceled
    orders = {order.channel_order_id: order for order in Order.objects.filter(store=result.store)}
    assert set(orders) == {str(i) for i in ids}
    assert orders[str(ids[0])].sub_status == SubStatus.CHANNEL_CANCELED
    assert {orders[str(i)].status for i in ids[1:]} == {OrderStatus.NEW}
    assert not WebhookDelivery.objects.exclude(state=DeliveryState.PROCESSED).exists()


@LIVE_DB
def test_a_sandbox_tiktok_event_fetches_the_order(control: Any, site_url: str, account: Any) -> None:
    shop = control.account("tiktok", "hooks-tt")
    result = store_connect(
        account=account, channel="tiktok", name="TT", base_url=shop["base_url"], credentials=shop["credentials"]
    )
    assert result.webhook_topics == []  # TikTok Shop: subscribed in its dashboard
    control.http.post(f"{control.base}/tiktok/hooks-tt/webhook", json={"url": result.webhook_url}, timeout=10)
    ids = control.create_orders("tiktok", "hooks-tt", count=2, seed=3)
    deliveries_send_due()
    assert set(Order.objects.filter(store=result.store).values_list("channel_order_id", flat=True)) == set(
        map(str, ids)
    )


@pytest.mark.django_db
def test_a_delivery_whose_task_was_lost_is_queued_again_by_beat(client: Client, shop_store: Store) -> None:
    """Stored, then the broker was away: no task. Beat's sweep queues it; a young one (maybe in
    a busy queue) or one waiting out its retry backoff is not queued again."""
    from django.utils import timezone

    from channels_sync.services import deliveries_requeue_stuck
    from channels_sync.tasks import requeue_stuck_deliveries

    for n, order_id in enumerate((901, 902, 903, 904)):  # the view's on-commit enqueue never runs here
        assert post(client, shop_store, order_body(id=order_id), delivery=f"lost-{n}").status_code == 200
    now = timezone.now()
    ages = {"lost-0": (timedelta(minutes=11), 0, None), "lost-1": (timedelta(minutes=3), 0, None)}
    ages |= {
        "lost-2": (timedelta(hours=1), 1, timedelta(minutes=5)),
        "lost-3": (timedelta(hours=1), 2, timedelta(minutes=20)),
    }
    for key, (age, attempts, since_attempt) in ages.items():
        WebhookDelivery.objects.filter(dedupe_key=key).update(
            received_at=now - age, attempts=attempts, last_attempt_at=since_attempt and now - since_attempt
        )

    key_of = dict(WebhookDelivery.objects.values_list("id", "dedupe_key"))
    queued = deliveries_requeue_stuck()
    assert [key_of[delivery_id] for delivery_id in queued] == ["lost-0", "lost-3"]
    states = dict(WebhookDelivery.objects.values_list("dedupe_key", "state"))
    assert states == {
        "lost-0": DeliveryState.PROCESSED,
        "lost-1": DeliveryState.PROCESSED,  # never tried: taken along by lost-0's batch
        "lost-2": DeliveryState.RECEIVED,  # its retry is coming
        "lost-3": DeliveryState.PROCESSED,
    }
    assert sorted(Order.objects.values_list("channel_order_id", flat=True)) == ["901", "902", "904"]
    assert requeue_stuck_deliveries() == 0


@pytest.mark.django_db
def test_a_finished_delivery_is_never_worked_on_again_by_a_late_task(client: Client, shop_store: Store) -> None:
    """Two tasks for one delivery (a sweep and the original): the second finds it done; a failed
    one stays failed (only support's replay puts it back) and its attempts do not move."""
    from channels_sync.services import delivery_process

    post(client, shop_store, order_body(), delivery="twice")
    delivery = WebhookDelivery.objects.get()
    assert delivery_process(delivery_id=delivery.pk).state == DeliveryState.PROCESSED
    assert delivery_process(delivery_id=delivery.pk).state == DeliveryState.PROCESSED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED, error="channel error: 500")
    assert delivery_process(delivery_id=delivery.pk).state == DeliveryState.FAILED
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, Order.objects.count()) == (DeliveryState.FAILED, 1, 1)


@pytest.mark.django_db
def test_the_stored_attempt_count_decides_the_last_attempt(account: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A delivery re-queued by the sweep does not start its retries over: at the cap, a passing
    channel error fails it for support instead of asking for another retry."""
    from channels_sync.services import delivery_process
    from channels_sync.services.processing import MAX_ATTEMPTS
    from integrations.http import ProviderHttpClient

    original = ProviderHttpClient.__init__
    monkeypatch.setattr(  # the client's backoff between its own retries, not waited out here
        ProviderHttpClient, "__init__", lambda self, *a, **kw: original(self, *a, **{**kw, "sleep": lambda s: None})
    )
    store = StoreFactory(account=account, channel="tiktok", base_url="http://127.0.0.1:9")  # nothing listens
    store.credentials = {"app_key": "k", "app_secret": "s", "access_token": "t", "shop_cipher": "c"}
    store.save()
    body = json.dumps({"type": 1, "tts_notification_id": "n-1", "data": {"order_id": "576"}}).encode()
    delivery = WebhookDelivery.objects.create(store=store, dedupe_key="n-1", topic="ORDER_STATUS_CHANGE", body=body)

    outcome = delivery_process(delivery_id=delivery.pk)
    assert outcome.retry
    assert outcome.state == DeliveryState.RECEIVED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    outcome = delivery_process(delivery_id=delivery.pk)
    assert not outcome.retry
    assert outcome.state == DeliveryState.FAILED
    assert outcome.error.startswith("channel error:")


@pytest.mark.django_db
def test_with_the_broker_away_the_delivery_is_kept_and_acknowledged(
    client: Client, shop_store: Store, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 5xx would only make the channel resend what is stored (and count against the
    subscription): 200, the delivery waits as received for beat's sweep."""
    from kombu.exceptions import OperationalError

    from channels_sync import tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.process_webhook_delivery, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, shop_store, order_body())
    assert len(callbacks) == 1
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == (DeliveryState.RECEIVED, 0)
    assert not Order.objects.exists()


@LIVE_DB
@pytest.mark.parametrize("channel", ["shopify", "woocommerce"])
def test_disconnect_removes_our_webhooks_at_the_channel(
    control: Any, site_url: str, account: Any, channel: str
) -> None:
    from channels_sync.providers.base import REGISTRY
    from channels_sync.services import store_disconnect

    shop = control.account(channel, f"bye-{channel}")
    result = store_connect(
        account=account, channel=channel, name="Bye", base_url=shop["base_url"], credentials=shop["credentials"]
    )
    client: Any = REGISTRY[channel](base_url=shop["base_url"], credentials=shop["credentials"]).client
    other = f"{site_url}/somebody-else/"  # a subscription that is not ours stays

    def addresses() -> list[str]:
        if channel == "shopify":
            return [hook.address for hook in client.webhook_subscriptions()]
        return [hook.address for hook in client.webhooks()]

    if channel == "shopify":
        client.webhook_subscribe(topic="orders/create", address=other)
    else:
        client.webhook_create(topic="order.created", address=other, secret="x")
    assert addresses().count(result.webhook_url) == len(result.webhook_topics) > 0

    outcome = store_disconnect(account=account, store_id=result.store.pk)

    assert outcome.webhooks_removed == len(result.webhook_topics)
    assert outcome.store.status == "disconnected"
    assert addresses() == [other]


@LIVE_DB
def test_disconnecting_a_tiktok_store_says_to_remove_its_webhook_in_the_dashboard(
    control: Any, site_url: str, account: Any, owner: Any
) -> None:
    shop = control.account("tiktok", "bye-tt")
    store = store_connect(
        account=account, channel="tiktok", name="Bye TT", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store
    client = Client()
    client.force_login(owner)
    response = client.post(f"/stores/{store.pk}/disconnect/", follow=True)
    assert "Remove its webhooks in the TikTok Shop admin" in response.content.decode()
    store.refresh_from_db()
    assert store.status == "disconnected"


def _send_everything(timeout: float = 20.0) -> None:
    """Send the sandbox's due deliveries until none is pending (held-back ones come due 2 s later)."""
    import time

    from sandbox.models import WebhookDelivery as SandboxDelivery

    deadline = time.monotonic() + timeout
    while SandboxDelivery.objects.filter(state="pending").exists():
        assert time.monotonic() < deadline, "sandbox deliveries still pending"
        if not deliveries_send_due():
            time.sleep(0.2)


@LIVE_DB
@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "tiktok"])
def test_each_channels_webhooks_over_http_good_tampered_repeated_out_of_order_and_canceled(
    control: Any, site_url: str, account: Any, channel: str
) -> None:
    """Every channel's own signing, through our endpoint: each webhook sent twice and half of
    them held back so later ones overtake them; one order canceled by its buyer."""
    import requests

    from sandbox.models import WebhookDelivery as SandboxDelivery

    shop = control.account(channel, f"hooks-{channel}")
    result = store_connect(
        account=account, channel=channel, name=channel, base_url=shop["base_url"], credentials=shop["credentials"]
    )
    if channel == "tiktok":  # set in its dashboard, here through the control API
        control.http.post(
            f"{control.base}/tiktok/hooks-{channel}/webhook", json={"url": result.webhook_url}, timeout=10
        )
    control.faults({channel: {"webhook_duplicate": 1.0, "webhook_out_of_order": 0.5}})
    ids = [str(i) for i in control.create_orders(channel, f"hooks-{channel}", count=6, seed=31)]
    control.cancel_order(channel, f"hooks-{channel}", ids[0])
    _send_everything()

    # every order once, the canceled one in Channel Canceled, the rest where payment puts them
    orders = {order.channel_order_id: order for order in Order.objects.filter(store=result.store)}
    assert set(orders) == set(ids)
    assert orders[ids[0]].sub_status == SubStatus.CHANNEL_CANCELED
    assert all(orders[i].status in (OrderStatus.NEW, OrderStatus.UNPAID) for i in ids[1:])
    # each delivery stored once though sent twice, and none left without an outcome; one body
    # sent for two topics (Shopify's orders/create and orders/paid of a paid order) is stored once
    sent = SandboxDelivery.objects.filter(account__name=f"hooks-{channel}", state="delivered")
    stored = WebhookDelivery.objects.filter(store=result.store)
    stored_count = stored.count()
    times_sent = Counter(sent.values_list("body", flat=True))
    assert stored_count == len(times_sent)
    assert all(count % 2 == 0 for count in times_sent.values())
    assert (sent.count() == 2 * stored_count) is (channel != "shopify")
    assert not stored.exclude(state=DeliveryState.PROCESSED).exists()

    # a delivery whose body was changed on the way: 401, nothing stored
    original = sent.first()
    assert original is not None
    tampered = original.body.replace('"', "'", 1) if original.body.startswith('{"') else original.body + " "
    response = requests.post(original.url, data=tampered.encode(), headers=original.headers, timeout=10)
    assert response.status_code == 401
    # the same delivery once more, intact: acknowledged, nothing new
    response = requests.post(original.url, data=original.body.encode(), headers=original.headers, timeout=10)
    assert response.status_code == 200
    assert WebhookDelivery.objects.filter(store=result.store).count() == stored_count


@pytest.mark.django_db
def test_a_burst_of_deliveries_is_turned_into_orders_by_one_task(client: Client, shop_store: Store) -> None:
    """Thirty orders arrive at once (their tasks queued behind): the first task takes the store's
    waiting deliveries along into one upsert; the other tasks find theirs done."""
    from channels_sync.services import delivery_process

    for n in range(30):  # the on-commit enqueue does not run here: all thirty wait
        body = order_body(id=1000 + n, name=f"#{2000 + n}", note_attributes=[])  # thirty purchases
        post(client, shop_store, body, delivery=f"burst-{n}")
    update = order_body(id=1000, name="#2000", note_attributes=[], note="gift")
    post(client, shop_store, update, delivery="burst-update")
    post(client, shop_store, b"{not json", delivery="burst-malformed", topic="orders/updated")
    first = WebhookDelivery.objects.order_by("id").first()
    assert first is not None

    with CaptureQueriesContext(connection) as queries:
        outcome = delivery_process(delivery_id=first.pk)

    assert outcome.state == DeliveryState.PROCESSED
    deliveries = {row.dedupe_key: row for row in WebhookDelivery.objects.all()}
    orders = dict(Order.objects.values_list("channel_order_id", "id"))
    assert len(orders) == 30
    for n in range(30):
        row = deliveries[f"burst-{n}"]
        assert (row.state, row.order_ids, row.attempts) == (DeliveryState.PROCESSED, [orders[str(1000 + n)]], 1)
    assert deliveries["burst-update"].order_ids == [orders["1000"]]
    # the malformed one (stored failed at intake, under its body's hash) was not touched; nothing waits
    malformed = WebhookDelivery.objects.get(dedupe_key__startswith="sha256:")
    assert (malformed.state, malformed.attempts) == (DeliveryState.FAILED, 0)
    assert not WebhookDelivery.objects.filter(state=DeliveryState.RECEIVED).exists()
    assert len(queries) < 20  # one upsert and one write for all (was ~10 queries per delivery)
    # the other tasks, when they run, find their delivery done and change nothing
    assert delivery_process(delivery_id=deliveries["burst-7"].pk).state == DeliveryState.PROCESSED
    assert WebhookDelivery.objects.get(pk=deliveries["burst-7"].pk).attempts == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_burst_never_double_an_order(client: Client, shop_store: Store) -> None:
    """Two tasks of one store's burst at the same moment: each takes what the other does not hold
    (SKIP LOCKED); every delivery ends processed, every order once."""
    import threading

    from django.db import connections

    from channels_sync.services import delivery_process

    for n in range(60):
        body = order_body(id=3000 + n, name=f"#{4000 + n}", note_attributes=[])
        post(client, shop_store, body, delivery=f"pair-{n}")
    ids = list(WebhookDelivery.objects.order_by("id").values_list("id", flat=True))
    start, errors = threading.Barrier(2), []

    def work(delivery_id: int) -> None:
        try:
            start.wait()
            delivery_process(delivery_id=delivery_id)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(delivery_id,)) for delivery_id in (ids[0], ids[-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for delivery_id in ids:  # the tasks still queued behind them
        delivery_process(delivery_id=delivery_id)

    assert errors == []
    assert Order.objects.count() == 60
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PROCESSED}
    assert order_counts_stored(account=shop_store.account) == order_counts_from_rows(account=shop_store.account)


@pytest.mark.django_db
def test_old_processed_deliveries_are_pruned_failed_ones_stay(client: Client, shop_store: Store, settings: Any) -> None:
    from django.utils import timezone

    from channels_sync.tasks import prune_deliveries

    settings.WEBHOOK_RETENTION = timedelta(days=30)
    for n in range(4):
        post(client, shop_store, order_body(id=8000 + n), delivery=f"old-{n}")
    states = {"old-0": DeliveryState.PROCESSED, "old-1": DeliveryState.IGNORED, "old-2": DeliveryState.FAILED}
    states["old-3"] = DeliveryState.PROCESSED
    for key, state in states.items():
        age = timedelta(days=1) if key == "old-3" else timedelta(days=31)
        WebhookDelivery.objects.filter(dedupe_key=key).update(state=state, received_at=timezone.now() - age)
    assert prune_deliveries() == 2
    assert sorted(WebhookDelivery.objects.values_list("dedupe_key", flat=True)) == ["old-2", "old-3"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_order_the_database_refuses_fails_alone_not_its_batch(client: Client, shop_store: Store) -> None:
    from channels_sync.services import delivery_process

    good = order_body(id=9001, name="#9001", note_attributes=[])
    line = {**SHOPIFY_ORDER["line_items"][0], "title": "x" * 300}  # longer than the title column
    bad = order_body(id=9002, name="#9002", note_attributes=[], line_items=[line])
    post(client, shop_store, good, delivery="good")
    post(client, shop_store, bad, delivery="bad")
    first = WebhookDelivery.objects.get(dedupe_key="good")

    assert delivery_process(delivery_id=first.pk).state == DeliveryState.PROCESSED

    states = dict(WebhookDelivery.objects.values_list("dedupe_key", "state"))
    assert states == {"good": DeliveryState.PROCESSED, "bad": DeliveryState.FAILED}
    assert WebhookDelivery.objects.get(dedupe_key="bad").error.startswith("unmappable:")
    assert list(Order.objects.values_list("channel_order_id", flat=True)) == ["9001"]
