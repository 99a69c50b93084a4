"""The public tracking page's edges (review round 2): a signed-in merchant's session never gets into
a shared answer, the parcels are read through indexes, a parcel of another account never shows, a
stored status outside our enums is a neutral label, a wrong token's 404 is not kept, IPv6 clients
are limited per /64, and what the provider wrote is escaped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from orders.services import order_recompute_status
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
    SupplierOrderFactory,
    TrackingEventFactory,
    UserFactory,
)
from tracking.models import Shipment, ShipmentOrder
from tracking.services.pages import tracking_page_for
from tracking.services.public import public_client_key, public_shipments

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    cache.clear()


@pytest.fixture
def store() -> Any:
    return StoreFactory(account=AccountFactory(name="Edge A"), name="Juniper Gadgets")


def shipped(store: Any, number: str) -> tuple[Order, Shipment]:
    order = OrderFactory(store=store)
    shipment = ShipmentFactory(
        order=order,
        supplier_order=SupplierOrderFactory(order=order),
        tracking_number=number,
        carrier="YunExpress",
        last_event_at=NOW - timedelta(hours=1),
    )
    TrackingEventFactory(shipment=shipment, occurred_at=NOW - timedelta(days=1), description="Scan one")
    order_recompute_status(order_id=order.pk)
    return order, shipment


def page_url(order: Order) -> str:
    return reverse("tracking_public", args=[tracking_page_for(order.pk).token])


# --- 1. a signed-in visitor ---------------------------------------------------------------------


def test_a_signed_in_merchant_gets_no_cookie_and_a_private_answer(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    merchant = UserFactory(username="mira")
    MembershipFactory(user=merchant, account=store.account, role="owner")
    client.force_login(merchant)
    response = client.get(page_url(order))
    assert response.status_code == 200
    # the session is neither touched nor sent back: no Set-Cookie at all
    assert not response.cookies
    # a signed-in visitor's answer is never a shared cache's (safety net)
    assert response["Cache-Control"] == "private, no-store"
    assert "cookie" not in response["Vary"].lower()
    assert "Accept-Language" in response["Vary"]


def test_an_anonymous_visitor_gets_a_shared_answer_that_does_not_vary_on_cookies(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    client.cookies["sessionid"] = "not-a-session"  # a stale cookie: not read
    response = client.get(page_url(order))
    assert response["Cache-Control"] == f"public, max-age={settings.TRACKING_PAGE_MAX_AGE}"
    assert response["Vary"] == "Accept-Language"
    assert not response.cookies


def test_the_order_center_still_varies_on_cookies(client: Client, store: Any) -> None:
    merchant = UserFactory(username="mira")
    MembershipFactory(user=merchant, account=store.account, role="owner")
    client.force_login(merchant)
    response = client.get(reverse("orders:center"))
    assert response.status_code == 200
    assert "Cookie" in response["Vary"]


# --- 2. the parcels' query plan -------------------------------------------------------------


def test_the_parcels_are_read_through_indexes_not_a_scan(store: Any) -> None:
    order, _ = shipped(store, "YT2412345678900000")
    other_store = StoreFactory(account=store.account)
    # enough parcels and links that a sequential scan would not be the cheap plan
    others = [OrderFactory(store=other_store) for _ in range(40)]
    Shipment.objects.bulk_create(
        [
            Shipment(account=store.account, order=others[n % 40], tracking_number=f"YT9{n:015d}", carrier="YunExpress")
            for n in range(4000)
        ]
    )
    ShipmentOrder.objects.bulk_create(
        [
            ShipmentOrder(shipment_id=pk, order=others[(n + 1) % 40])
            for n, pk in enumerate(Shipment.objects.exclude(order=order).values_list("pk", flat=True)[:3000])
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_shipment")
        cursor.execute("ANALYZE tracking_shipmentorder")
    query = public_shipments(order_id=order.pk, account_id=store.account_id).order_by("created_at", "id")
    plan = query.explain()
    assert "Seq Scan on tracking_shipment " not in plan + " ", plan
    assert "Seq Scan on tracking_shipmentorder" not in plan, plan
    assert [s.tracking_number for s in query] == ["YT2412345678900000"]


# --- 8. a parcel of another account ----------------------------------------------------------


def test_a_parcel_of_another_account_wrongly_linked_never_shows(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    foreign_order, foreign = shipped(StoreFactory(account=AccountFactory(name="Edge B")), "YT9999999999999999")
    ShipmentOrder.objects.create(shipment=foreign, order=order)  # a wrong link across accounts
    html = client.get(page_url(order)).content.decode()
    assert "YT2412345678901234" in html
    assert "YT9999999999999999" not in html
    assert "YT9999999999999999" in client.get(page_url(foreign_order)).content.decode()


# --- 13. a stored status outside the enums ---------------------------------------------------


def test_a_status_outside_the_enums_is_a_neutral_label_not_a_500(client: Client, store: Any) -> None:
    order, shipment = shipped(store, "YT2412345678901234")
    Shipment.objects.filter(pk=shipment.pk).update(tracking_status="Teleported")
    response = client.get(page_url(order))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Status unavailable" in html
    assert "YT2412345678901234" in html
    assert "Scan one" in html


# --- 10. a wrong token's 404 ----------------------------------------------------------------


def test_a_wrong_tokens_404_is_not_cached(client: Client, store: Any) -> None:
    order, _ = shipped(store, "YT2412345678901234")
    token = tracking_page_for(order.pk).token
    wrong = ("A" if token[0] != "A" else "B") + token[1:]
    for bad in (wrong, "short"):
        response = client.get(reverse("tracking_public", args=[bad]))
        assert response.status_code == 404
        assert response["Cache-Control"] == "no-store"
    assert client.get(page_url(order))["Cache-Control"] == f"public, max-age={settings.TRACKING_PAGE_MAX_AGE}"


# --- 9. IPv6 clients per /64 ----------------------------------------------------------------


def test_ipv6_clients_are_limited_per_64(client: Client, store: Any, settings: Any) -> None:
    settings.TRACKING_PAGE_RATE_LIMIT = 2
    order, _ = shipped(store, "YT2412345678901234")
    url = page_url(order)
    # one host rotating addresses inside its /64
    answers = [client.get(url, REMOTE_ADDR=f"2001:db8:1:2::{n:x}").status_code for n in range(1, 4)]
    assert answers == [200, 200, 429]
    # another /64 is another client
    assert client.get(url, REMOTE_ADDR="2001:db8:1:3::1").status_code == 200
    assert public_client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert public_client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert public_client_key("203.0.113.7") == "203.0.113.7"
    assert public_client_key("not an address") == "not an address"


# --- 12. what the provider wrote is escaped ---------------------------------------------------


def test_a_script_in_an_events_description_or_place_is_escaped(client: Client, store: Any) -> None:
    order, shipment = shipped(store, "YT2412345678901234")
    TrackingEventFactory(
        shipment=shipment,
        occurred_at=NOW,
        description="<script>alert('d')</script>",
        location="<img src=x onerror=alert(1)>",
    )
    html = client.get(page_url(order)).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;d&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
