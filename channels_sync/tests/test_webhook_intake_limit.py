"""The per-store limit on webhook intake: past it, 429 with Retry-After before anything is
looked at or stored; other stores are not affected; counted in the cache (real Redis in
production, the local-memory cache in the embedded default)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.shopify.provider import shopify_hmac
from channels_sync.services.intake_limit import IntakeLimit, intake_admit
from tests.factories import StoreFactory

SHOPIFY_ORDER = json.loads((Path(__file__).parent / "providers" / "fixtures" / "shopify_order.json").read_text())
SECRET = "whsec-test"
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "intake-limit"}}


def _redis_caches(url: str) -> dict[str, Any]:
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


@pytest.fixture(
    params=[
        pytest.param("locmem", id="locmem"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
def cache_backend(request: Any, settings: Any) -> str:
    """The limit counted in the local-memory cache, then in real Redis (REDIS_URL)."""
    settings.CACHES = LOCMEM if request.param == "locmem" else _redis_caches(os.environ["REDIS_URL"])
    return str(request.param)


def _shop(account: Any, name: str) -> Store:
    store = StoreFactory(account=account, name=name, channel="shopify", base_url="http://shop.invalid", shop_id="")
    store.credentials = {"access_token": "shpat_x"}
    store.webhook_secret = SECRET
    store.save()
    return store


def _post(client: Client, store: Store, n: int, *, signed: bool = True) -> Any:
    body = json.dumps({**SHOPIFY_ORDER, "id": 1000 + n}).encode()
    return client.post(
        f"/webhooks/shopify/{store.public_id}/",
        data=body,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC="orders/updated",
        HTTP_X_SHOPIFY_WEBHOOK_ID=f"d-{n}",
        HTTP_X_SHOPIFY_HMAC_SHA256=shopify_hmac(SECRET, body) if signed else "forged",
    )


@pytest.mark.django_db
def test_past_its_limit_a_store_gets_429_with_retry_after_and_nothing_is_stored(
    client: Client, account: Any, settings: Any, cache_backend: str
) -> None:
    # given a limit of 3 deliveries per hour-long window (no window ends during the test)
    settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 3 / 3600, 3
    store, other = _shop(account, "Flooding"), _shop(account, "Quiet")

    statuses = [_post(client, store, n).status_code for n in range(3)]
    over = _post(client, store, 3)
    unsigned = _post(client, store, 4, signed=False)

    assert statuses == [200, 200, 200]
    assert over.status_code == 429
    assert 1 <= int(over["Retry-After"]) <= 3600
    assert unsigned.status_code == 429  # counted before the signature is looked at
    assert WebhookDelivery.objects.filter(store=store).count() == 3
    # another store's address has its own allowance
    assert _post(client, other, 5).status_code == 200
    assert WebhookDelivery.objects.filter(store=other).count() == 1


@pytest.mark.django_db
def test_with_the_limit_off_nothing_is_counted(client: Client, account: Any, settings: Any) -> None:
    settings.CACHES = LOCMEM
    settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 0, 1
    store = _shop(account, "Unlimited")
    assert [_post(client, store, n).status_code for n in range(3)] == [200, 200, 200]


def test_the_window_ends_and_the_store_is_let_in_again(cache_backend: str) -> None:
    """Fixed windows of BURST / PER_SECOND seconds: 2 per 10 s here; Retry-After is the window's end."""
    limit = IntakeLimit(per_second=0.2, burst=2)
    start = 1_800_000_000.0  # the start of a window (a multiple of 10)
    address = f"shopify:window-{cache_backend}-{os.getpid()}"
    assert [intake_admit(address=address, limit=limit, now=start + t) for t in (0, 1, 2, 9.2)] == [0, 0, 8, 1]
    assert intake_admit(address=address, limit=limit, now=start + 10) == 0  # the next window
    assert intake_admit(address=address, limit=limit, now=start + 11) == 0
    assert intake_admit(address=address, limit=limit, now=start + 11.5) == 9


@pytest.mark.django_db
def test_with_the_cache_unreachable_deliveries_still_come_in(client: Client, account: Any, settings: Any) -> None:
    """As with the broker away: the delivery is stored and acknowledged, the limit is not applied."""
    settings.CACHES = _redis_caches("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    settings.WEBHOOK_RATE_PER_SECOND, settings.WEBHOOK_RATE_BURST = 1 / 3600, 1
    store = _shop(account, "Cacheless")
    assert [_post(client, store, n).status_code for n in range(2)] == [200, 200]
    assert WebhookDelivery.objects.filter(store=store).count() == 2
