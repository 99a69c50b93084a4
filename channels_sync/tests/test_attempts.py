"""Outbound attempts for support (recorded, in admin, pruned) and a provider's long wait as the
task's countdown instead of a sleep in the worker."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import task_retry
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_sync import tasks
from channels_sync.enums import DeliveryState
from channels_sync.models import ProviderAttempt, WebhookDelivery
from channels_sync.services import store_connect, store_pull
from integrations.tests.servers import answer, serving
from tests.factories import OrderFactory, StoreFactory, UserFactory

from .conftest import LIVE_DB


@LIVE_DB
def test_every_attempt_of_a_sandbox_pull_is_recorded_and_shown_in_admin(
    control: Any, site_url: str, account: Any, client: Client
) -> None:
    shop = control.account("shopify", "attempts-shop")
    # 3: one page (a pull's first Shopify page asks for 3 orders until it has seen the cost bucket)
    control.create_orders("shopify", "attempts-shop", count=3, seed=3)
    store = store_connect(
        account=account, channel="shopify", name="Attempts", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store
    connecting = list(ProviderAttempt.objects.filter(store=store).order_by("id").values_list("id", "method", "status"))

    result = store_pull(store_id=store.pk)

    assert (result.error, result.orders) == ("", 3)
    assert connecting[0][1:] == ("POST", 200)  # the credentials check, on the store's row being connected
    pulled = list(
        ProviderAttempt.objects.filter(store=store, id__gt=connecting[-1][0]).values_list(
            "provider", "method", "path", "status"
        )
    )
    assert pulled == [
        (
            "shopify",
            "POST",
            f"/sandbox/shopify/attempts-shop/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json",
            200,
        )
    ]

    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    changelist = reverse("admin:channels_sync_providerattempt_changelist")
    page = client.get(
        changelist, {"provider": "shopify", "status": "200", "store__id__exact": store.pk, "q": "graphql"}
    )
    assert page.status_code == 200
    assert (
        f"/sandbox/shopify/attempts-shop/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json" in page.content.decode()
    )
    row = ProviderAttempt.objects.filter(store=store, id__gt=connecting[-1][0]).get()
    assert client.get(reverse("admin:channels_sync_providerattempt_change", args=[row.pk])).status_code == 200
    assert client.post(reverse("admin:channels_sync_providerattempt_add")).status_code == 403


@pytest.mark.django_db
def test_attempts_older_than_the_retention_are_pruned_in_chunks(store: Any, settings: Any) -> None:
    settings.PROVIDER_ATTEMPT_RETENTION = timedelta(days=14)
    rows = [
        ProviderAttempt.objects.create(store=store, provider="shopify", method="GET", path="/x", duration_ms=5)
        for _ in range(5)
    ]
    ProviderAttempt.objects.filter(pk__in=[row.pk for row in rows[:4]]).update(
        created_at=timezone.now() - timedelta(days=15)
    )

    assert tasks.prune_provider_attempts() == 4
    assert list(ProviderAttempt.objects.values_list("pk", flat=True)) == [rows[4].pk]


@pytest.fixture
def countdowns() -> Any:
    """The countdown of every retry a task asks for (Celery's task_retry signal, eager or not)."""
    seen: list[float] = []

    def on_retry(sender: Any = None, reason: Any = None, **kwargs: Any) -> None:
        seen.append(reason.when)

    task_retry.connect(on_retry, weak=False)
    yield seen
    task_retry.disconnect(on_retry)


def tiktok_store(account: Any, url: str) -> Any:
    store = StoreFactory(account=account, channel="tiktok", base_url=url)
    store.credentials = {"app_key": "k", "app_secret": "s", "access_token": "t", "shop_cipher": "c"}
    store.save()
    return store


@pytest.mark.django_db
def test_a_long_retry_after_becomes_the_delivery_tasks_countdown_not_a_sleep(
    account: Any, countdowns: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.http import ProviderHttpClient

    slept: list[float] = []
    original = ProviderHttpClient.__init__
    monkeypatch.setattr(  # record every inline wait (none may be above the cap)
        ProviderHttpClient, "__init__", lambda self, *a, **kw: original(self, *a, **{**kw, "sleep": slept.append})
    )
    with serving(answer(429, b"", {"Retry-After": "120"})) as server:
        store = tiktok_store(account, server.url)
        body = json.dumps({"type": 1, "tts_notification_id": "n-1", "data": {"order_id": "576"}}).encode()
        delivery = WebhookDelivery.objects.create(store=store, dedupe_key="n-1", topic="ORDER_STATUS_CHANGE", body=body)

        tasks.process_webhook_delivery.apply(args=[delivery.pk])

    # Each run asked once (no wait slept), then retried 120 s later; the last run gave up for support.
    assert countdowns == [120] * tasks.MAX_RETRIES
    assert len(server.requests) == tasks.MAX_RETRIES + 1
    assert slept == []
    delivery.refresh_from_db()
    assert (delivery.state, "try again in 120" in delivery.error) == (DeliveryState.FAILED, True)


@pytest.mark.django_db
def test_a_long_retry_after_becomes_the_resync_tasks_countdown(account: Any, countdowns: list[float]) -> None:
    with serving(answer(429, b"", {"Retry-After": "90"})) as server:
        store = tiktok_store(account, server.url)
        order = OrderFactory(store=store, account=account)

        tasks.resync_order.apply(args=[order.pk])

    assert countdowns == [90, 90, 90]


@pytest.mark.django_db
def test_the_sweep_leaves_a_delivery_waiting_out_a_long_retry_after_alone(account: Any) -> None:
    """The channel asked for an hour (Retry-After 3600): the task's retry is due then. The beat
    sweep 20 minutes on must not queue it again (each re-queue starts its own retry chain and
    burns the attempts); 16 minutes past the due time, its retry is lost and the sweep queues it."""
    from channels_sync.services import deliveries_requeue_stuck

    seen: list[tuple[float, float, list[int]]] = []

    def on_retry(sender: Any = None, reason: Any = None, **kwargs: Any) -> None:
        delivery = WebhookDelivery.objects.get()
        assert delivery.next_attempt_at is not None
        due_in = (delivery.next_attempt_at - timezone.now()).total_seconds()
        swept = deliveries_requeue_stuck(now=timezone.now() + timedelta(minutes=20))
        seen.append((reason.when, due_in, swept))

    task_retry.connect(on_retry, weak=False)
    try:
        with serving(answer(429, b"", {"Retry-After": "3600"})) as server:
            store = tiktok_store(account, server.url)
            body = json.dumps({"type": 1, "tts_notification_id": "n-1", "data": {"order_id": "576"}}).encode()
            WebhookDelivery.objects.create(store=store, dedupe_key="n-1", topic="ORDER_STATUS_CHANGE", body=body)
            delivery = WebhookDelivery.objects.get()

            tasks.process_webhook_delivery.apply(args=[delivery.pk], retries=tasks.MAX_RETRIES - 1)
    finally:
        task_retry.disconnect(on_retry)

    when, due_in, swept = seen[0]
    assert (when, swept) == (3600, [])
    assert 3590 <= due_in <= 3600
    assert len(server.requests) == 2  # the retry itself (eager here) and nothing from the sweep


@pytest.mark.django_db
def test_the_sweep_queues_a_delivery_whose_retry_is_long_overdue(account: Any) -> None:
    from channels_sync.services import deliveries_requeue_stuck

    store = tiktok_store(account, "http://127.0.0.1:9")
    now = timezone.now()
    rows = {
        "due-later": now + timedelta(minutes=40),
        "overdue": now - timedelta(minutes=16),
        "unset": None,
    }
    ids = {}
    for key, next_at in rows.items():
        row = WebhookDelivery.objects.create(store=store, dedupe_key=key, topic="ORDER_STATUS_CHANGE", body=b"{}")
        WebhookDelivery.objects.filter(pk=row.pk).update(
            attempts=1, last_attempt_at=now - timedelta(minutes=20), next_attempt_at=next_at
        )
        ids[row.pk] = key

    queued = deliveries_requeue_stuck(now=now)

    assert sorted(ids[pk] for pk in queued) == ["overdue", "unset"]
