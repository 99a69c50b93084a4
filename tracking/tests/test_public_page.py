"""The public tracking page ``/t/<token>/``: the right token shows the parcels and their timelines,
newest first, and nothing personal; a wrong or malformed token is a 404 from the same template (a
malformed one without asking the database); crawling hits the per-client limit (429, Retry-After);
the answer is cacheable (public, max-age, Vary: Accept-Language, an ETag that answers 304), not
indexed, and in the browser's language; a shared number shows on both orders' pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.enums import TrackingStatus
from orders.models import Order
from orders.services import AddressData, order_recompute_status
from tests.factories import (
    AccountFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
    SupplierOrderFactory,
    TrackingEventFactory,
)
from tracking.models import Shipment, ShipmentOrder
from tracking.services.pages import tracking_page_for

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = timezone.now()
ADDRESS = AddressData(
    name="Ruth Recipient",
    phone="+1 502 459 2181",
    address1="4417 Juniper Hollow Rd",
    city="Louisville",
    province="Kentucky",
    zip="40202",
    country_code="US",
)
PERSONAL = (
    "Carla Customer",
    "carla.customer@example.com",
    "Ruth Recipient",
    "502 459 2181",
    "4417 Juniper Hollow",
    "Louisville",
    "40202",
)


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()  # the per-client counters of earlier tests (this test run's own cache database)


@pytest.fixture
def store() -> Any:
    return StoreFactory(account=AccountFactory(name="Edge A"), name="Juniper Gadgets")


def shipped(store: Any, number: str, *, events: int = 3) -> tuple[Order, Shipment]:
    """An order of Carla's, paid to the supplier, with one parcel in transit and ``events`` scans."""
    order = OrderFactory(
        store=store,
        customer_name="Carla Customer",
        customer_email="carla.customer@example.com",
        ship=ADDRESS,
        total="87.65",
    )
    supplier_order = SupplierOrderFactory(order=order, cost="31.42")
    shipment = ShipmentFactory(
        order=order,
        supplier_order=supplier_order,
        tracking_number=number,
        carrier="YunExpress",
        provider_status="InTransit",
        provider_sub_status="InTransit_Arrival",
        last_event_at=NOW - timedelta(hours=1),
    )
    for n in range(events):
        TrackingEventFactory(
            shipment=shipment,
            occurred_at=NOW - timedelta(days=events - n),
            description=f"Scan number {n + 1}",
            location=f"Hub {n + 1}, CN",
        )
    order_recompute_status(order_id=order.pk)
    return order, shipment


def page_url(order: Order) -> str:
    return reverse("tracking_public", args=[tracking_page_for(order.pk).token])


def body(response: Any) -> str:
    return response.content.decode()


def test_the_right_token_shows_the_parcel_and_its_timeline_newest_first(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    # when the customer opens the page
    response = client.get(page_url(order))
    # then: the store, the order, the carrier, the number, both statuses and the scans, newest first
    assert response.status_code == 200
    html = body(response)
    for expected in ("Juniper Gadgets", order.number, "YunExpress", "YT2412345678901234", "In Transit"):
        assert expected in html
    assert "InTransit · InTransit_Arrival" in html
    positions = [html.index(f"Scan number {n}") for n in (3, 2, 1)]
    assert positions == sorted(positions)
    assert "Hub 3, CN" in html


def test_no_personal_data_prices_or_supplier_on_the_page(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    html = body(client.get(page_url(order)))
    for personal in PERSONAL:
        assert personal not in html
    # no amount (order total, supplier cost), no supplier, no internal id
    for private in ("87.65", "31.42", "AliExpress", order.supplier_orders.get().external_order_id):
        assert private not in html


def test_wrong_and_malformed_tokens_are_404_from_the_same_template(
    client: Client, store: Any, django_assert_num_queries: Any
) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    token = tracking_page_for(order.pk).token
    wrong = ("A" if token[0] != "A" else "B") + token[1:]
    # a well-formed token that is no page: one indexed look-up, then the same page says not found
    with django_assert_num_queries(1):
        response = client.get(reverse("tracking_public", args=[wrong]))
    assert response.status_code == 404
    assert "Tracking page not found" in body(response)
    assert "YT2412345678901234" not in body(response)
    # malformed ones (too short, too long, a character outside the alphabet): refused before the database
    for malformed in (token[:-1], token + "x", token[:-1] + "*", token[:-1] + "é", "' OR 1=1 --"):
        with django_assert_num_queries(0):
            response = client.get(reverse("tracking_public", args=[malformed]))
        assert response.status_code == 404, malformed
        assert "Tracking page not found" in body(response)


def test_three_queries_whatever_the_parcels_and_events(
    client: Client, store: Any, django_assert_num_queries: Any
) -> None:
    small, _ = shipped(store, "YT0000000000000001", events=1)
    large, _ = shipped(store, "YT0000000000000002", events=12)
    for n in range(4):
        ShipmentFactory(order=large, tracking_number=f"YT00000000000001{n:02d}")
    for order in (small, large):
        url = page_url(order)
        with django_assert_num_queries(3):
            assert client.get(url).status_code == 200


def test_crawling_gets_429_with_retry_after_per_client(client: Client, store: Any, settings: Any) -> None:
    settings.TRACKING_PAGE_RATE_LIMIT = 3
    order, _ = shipped(store, "YT2412345678901234")
    url = page_url(order)
    # when one address asks more often than the limit (wrong tokens count as much as right ones)
    answers = [client.get(url).status_code, client.get(url[:-2] + "/").status_code, client.get(url).status_code]
    limited = client.get(url)
    # then the next one is refused, saying how long to wait, and never cached for others
    assert answers == [200, 404, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= settings.TRACKING_PAGE_RATE_WINDOW
    assert limited["Cache-Control"] == "no-store"
    assert "Too many requests" in body(limited)
    assert "YT2412345678901234" not in body(limited)
    # and another address is not affected
    assert client.get(url, REMOTE_ADDR="203.0.113.9").status_code == 200


def test_cacheable_not_indexed_and_answers_304(client: Client, store: Any) -> None:
    order, shipment = shipped(store, "YT2412345678901234")
    url = page_url(order)
    response = client.get(url)
    assert response["Cache-Control"] == f"public, max-age={settings.TRACKING_PAGE_MAX_AGE}"
    assert "Accept-Language" in response["Vary"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in body(response)
    assert not response.cookies  # nothing of the visitor's in a shared answer
    # the same page again: 304 on its ETag
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == response["ETag"]
    # a new scan changes the page and its ETag
    TrackingEventFactory(shipment=shipment, occurred_at=NOW, description="Arrived at the destination hub")
    changed = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != response["ETag"]
    assert "Arrived at the destination hub" in body(changed)


def test_in_the_browsers_language_not_a_cookies(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    url = page_url(order)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr-CH, fr;q=0.9, en;q=0.5")
    unknown = client.get(url, HTTP_ACCEPT_LANGUAGE="tlh, xx;q=0.8")
    assert (french["Content-Language"], unknown["Content-Language"]) == ("fr", "en")
    assert '<html lang="fr" dir="ltr">' in body(french)
    assert '<html lang="en" dir="ltr">' in body(unknown)
    arabic = client.get(url, HTTP_ACCEPT_LANGUAGE="ar")
    assert '<html lang="ar" dir="rtl">' in body(arabic)


def test_a_shared_number_shows_on_both_orders_pages(client: Client, store: Any) -> None:
    first, shipment = shipped(store, "YT2412345678909999")
    second = OrderFactory(store=store)
    ShipmentOrder.objects.create(shipment=shipment, order=second, supplier_order=SupplierOrderFactory(order=second))
    lonely = OrderFactory(store=store)
    for order in (first, second):
        html = body(client.get(page_url(order)))
        assert "YT2412345678909999" in html
        assert "Scan number 3" in html
        assert order.number in html
    assert "YT2412345678909999" not in body(client.get(page_url(lonely)))
    assert "has not shipped yet" in body(client.get(page_url(lonely)))


def test_only_get_and_head(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    assert client.head(page_url(order)).status_code == 200
    assert client.post(page_url(order)).status_code == 405


def test_a_parcel_silent_past_the_accounts_days_shows_expired(client: Client, store: Any) -> None:
    order, shipment = shipped(store, "YT2412345678901234")
    Shipment.objects.filter(pk=shipment.pk).update(
        last_event_at=NOW - timedelta(days=31), tracking_status=TrackingStatus.IN_TRANSIT
    )
    assert "Expired" in body(client.get(page_url(order)))


def test_hostile_headers_are_an_ordinary_answer(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    url = page_url(order)
    # an Accept-Language far too long, one of junk, a forwarded-for header that is not trusted
    for headers in (
        {"HTTP_ACCEPT_LANGUAGE": "fr;q=0.1," * 2000},
        {"HTTP_ACCEPT_LANGUAGE": "<script>;q=é, \x00"},
        {"HTTP_X_FORWARDED_FOR": "' OR 1=1 --, 999.1.1.1"},
    ):
        response = client.get(url, **headers)
        assert response.status_code == 200, headers
        assert response["Content-Language"] in {"en", "fr"}
        assert "<script>" not in body(response)


def test_with_the_cache_unreachable_the_page_is_served(
    client: Client, store: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    url = page_url(order)
    # given a cache (the rate limit's counters) that does not answer
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    settings.TRACKING_PAGE_RATE_LIMIT = 1
    # then customers still get their page, and the missing limit is logged
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
    assert "rate limit not applied" in caplog.text
