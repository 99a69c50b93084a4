"""What the order center shows of tracking: the row's parcel column (carrier, linked number, latest
event, "+N"), the drawer's parcel timelines with the shared-number warning and the fulfillment
pushes, tenant isolation, and constant query counts. The stalled badge and filter are in
test_order_center_tracking_stalled.py; the carrier links in test_order_center_tracking_links.py.

Test data is written with the ORM (Shipment, ShipmentOrder, TrackingEvent, FulfillmentPush), as
the tracking and channels_sync services will write it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_sync.models import FulfillmentPush
from orders.enums import SubStatus, TrackingStatus
from orders.models import Order
from tests.factories import OrderFactory, ShipmentFactory, TrackingEventFactory, order_in_state
from tests.pages import HTMX, center, tags, text
from tracking.models import Shipment, ShipmentOrder

pytestmark = pytest.mark.django_db


def shipment(order: Order, number: str, **fields: Any) -> Shipment:
    fields.setdefault("carrier", "AliExpress Standard Shipping")
    fields.setdefault("registration_state", "registered")
    return ShipmentFactory(order=order, tracking_number=number, **fields)  # type: ignore[no-any-return]


def links_to(response: Any, number: str) -> list[str]:
    """The hrefs of the links marked as tracking number ``number``."""
    return [tag.attrs["href"] for tag in tags(response) if tag.attrs.get("data-tracking-number") == number]


def row_html(response: Any, order: Order) -> str:
    """The HTML of one table row (from its opening tag to the next row)."""
    page = text(response)
    start = page.index(f'data-order-id="{order.pk}"')
    end = page.find("<tr ", start)
    return page[start : end if end != -1 else len(page)]


# --- The table --------------------------------------------------------------------------------


def test_a_row_shows_the_carrier_the_linked_number_and_the_latest_event(member_client: Client, store: Any) -> None:
    # given an order in transit whose parcel the tracking provider identified as Cainiao
    order = order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1001")
    Shipment.objects.filter(order=order).update(
        tracking_number="LP00123456789012",
        carrier="AliExpress Standard Shipping",
        carrier_name="Cainiao",
        carrier_code="190271",
        last_event_at=timezone.now() - timedelta(hours=3, minutes=5),
        last_event_description="Departed from sorting center",
        last_event_location="Guangzhou, CN",
    )
    # when
    response = center(member_client, status="shipment")
    # then
    row = row_html(response, order)
    assert "<span data-carrier>Cainiao</span>" in row
    assert links_to(response, "LP00123456789012") == [
        "https://global.cainiao.com/newDetail.htm?mailNoList=LP00123456789012"
    ]
    assert "Departed from sorting center" in row
    assert "Guangzhou, CN" in row
    assert ">3 hours ago</time>" in row
    assert "data-more-parcels" not in row


def test_without_the_providers_name_the_row_shows_the_suppliers_carrier_and_17tracks_page(
    member_client: Client, store: Any
) -> None:
    # given a parcel not registered yet: only the supplier's carrier name, no scan
    order = order_in_state(SubStatus.AWAITING_SHIPMENT, store=store, number="#1001")
    Shipment.objects.filter(order=order).update(
        tracking_number="SP 77/1", carrier="Speedy Parcels", last_event_at=None, last_event_description=""
    )
    # when
    response = center(member_client, status="shipment")
    # then
    row = row_html(response, order)
    assert "<span data-carrier>Speedy Parcels</span>" in row
    assert links_to(response, "SP 77/1") == ["https://t.17track.net/en#nums=SP%2077%2F1"]
    assert "data-latest-event" not in row
    assert "data-event-ago" not in row


def test_a_row_with_several_parcels_shows_the_latest_one_and_how_many_more(member_client: Client, store: Any) -> None:
    # given an order with two parcels of its own and one whose number it shares with another order
    now = timezone.now()
    order = order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1001")
    Shipment.objects.filter(order=order).update(last_event_at=now - timedelta(days=2), last_event_description="Old")
    shipment(order, "YT0000000000000001", carrier_name="YunExpress", last_event_at=now - timedelta(days=1))
    other = OrderFactory(store=store, number="#1002")
    shared = shipment(
        other,
        "4PX0000000000001CN",
        carrier_name="4PX",
        last_event_at=now - timedelta(minutes=10),
        last_event_description="Arrived at destination country",
        shared_number=True,
    )
    ShipmentOrder.objects.create(shipment=shared, order=order)
    # when
    response = center(member_client, status="shipment")
    # then the shared parcel has the latest news
    row = row_html(response, order)
    assert "<span data-carrier>4PX</span>" in row
    assert links_to(response, "4PX0000000000001CN") == ["https://track.4px.com/#/result/0/4PX0000000000001CN"]
    assert "Arrived at destination country" in row
    assert 'data-more-parcels="2"' in row
    assert '<span aria-hidden="true">+2</span><span class="visually-hidden">2 more parcels</span>' in row


def test_an_order_without_parcels_shows_no_parcel(member_client: Client, store: Any) -> None:
    order = OrderFactory(store=store, number="#1001")
    row = row_html(center(member_client, status="new"), order)
    assert "data-row-parcel" not in row
    assert "data-tracking-number" not in row


def count_queries(client: Client, url: str, **extra: Any) -> int:
    client.get(url, **extra)  # warm the session (the first request stores the current account)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(queries)


def order_with_parcels(store: Any, number: str, *, parcels: int, shared_with: Order | None = None) -> Order:
    order = order_in_state(SubStatus.IN_TRANSIT, store=store, number=number)
    for index in range(parcels - 1):
        extra = shipment(order, f"{number[1:]}X{index}", carrier_name="YunExpress")
        TrackingEventFactory(shipment=extra)
    if shared_with is not None:
        link = shipment(shared_with, f"{number[1:]}S", shared_number=True)
        ShipmentOrder.objects.create(shipment=link, order=order)
    return order


def test_the_page_runs_the_same_queries_for_1_or_25_orders_with_parcels(
    member_client: Client, store: Any, settings: Any
) -> None:
    settings.ORDER_CENTER_PAGE_SIZE = 50
    url = "/orders/?status=shipment"
    # given one order with one parcel and one shared
    elsewhere = OrderFactory(store=store, number="#9999")
    order_with_parcels(store, "#1000", parcels=1, shared_with=elsewhere)
    one = count_queries(member_client, url)
    one_htmx = count_queries(member_client, url, **HTMX)
    # when there are 25, with up to 3 parcels each and some shared
    for index in range(1, 25):
        order_with_parcels(store, f"#{1000 + index}", parcels=1 + index % 3, shared_with=elsewhere)
    response = member_client.get(url)
    assert len([tag for tag in tags(response) if "data-tracking-number" in tag.attrs]) == 25
    # then
    assert count_queries(member_client, url) == one
    assert count_queries(member_client, url, **HTMX) == one_htmx
    assert one <= 16  # + the refunds both ways the rows' margin reads


# --- The drawer -------------------------------------------------------------------------------


def test_the_drawer_shows_one_timeline_per_parcel_newest_first(member_client: Client, store: Any) -> None:
    # given an order with two parcels: one with three scans, one refused by the tracking provider
    order = OrderFactory(store=store, number="#1001")
    first = shipment(
        order,
        "LP00123456789012",
        carrier_name="Cainiao",
        carrier_code="190271",
        tracking_status=TrackingStatus.IN_TRANSIT,
        sub_status=SubStatus.IN_TRANSIT,
        provider_status="InTransit",
        provider_sub_status="InTransit_Arrival",
    )
    start = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    for hours, description, location in (
        (0, "Accepted by carrier", "Shenzhen, CN"),
        (30, "Departed from sorting center", "Guangzhou, CN"),
        (50, "Arrived at destination country", "Los Angeles, US"),
    ):
        TrackingEventFactory(
            shipment=first,
            occurred_at=start + timedelta(hours=hours),
            description=description,
            location=location,
            provider_sub_status="InTransit_Other",
        )
    shipment(
        order,
        "BAD-NUMBER",
        carrier="Speedy Parcels",
        registration_state="rejected",
        registration_error="The carrier cannot be detected automatically",
        tracking_status=TrackingStatus.NOT_FOUND,
        sub_status=SubStatus.AWAITING_SHIPMENT,
        last_event_at=None,
    )
    # when
    for response in (member_client.get(f"/orders/{order.pk}/"), member_client.get(f"/orders/{order.pk}/", **HTMX)):
        page = text(response)
        # then each parcel has its block, with its link
        parcels = [tag.attrs["data-parcel"] for tag in tags(response) if "data-parcel" in tag.attrs]
        assert sorted(parcels) == ["BAD-NUMBER", "LP00123456789012"]
        assert links_to(response, "LP00123456789012") == [
            "https://global.cainiao.com/newDetail.htm?mailNoList=LP00123456789012"
        ]
        assert links_to(response, "BAD-NUMBER") == ["https://t.17track.net/en#nums=BAD-NUMBER"]
        cainiao = page[page.index('data-parcel="LP00123456789012"') :]
        cainiao = cainiao[: cainiao.index("</article>")]
        assert "<span data-carrier>Cainiao</span>" in cainiao
        assert '<span class="badge badge-shipment" data-parcel-status>In Transit</span>' in cainiao
        assert "tracking provider: InTransit · InTransit_Arrival" in cainiao
        assert "data-registration" not in cainiao
        # the scans newest first, in the current time zone (UTC here)
        descriptions = [
            part.split("</bdi>")[0] for part in cainiao.split('<bdi translate="no" data-scan-description>')[1:]
        ]
        assert descriptions == ["Arrived at destination country", "Departed from sorting center", "Accepted by carrier"]
        assert '<time datetime="2026-11-30T10:00:00+00:00">' in cainiao
        assert '<bdi translate="no" data-scan-location>Los Angeles, US</bdi>' in cainiao
        assert "Times are in UTC." in page
        refused = page[page.index('data-parcel="BAD-NUMBER"') :]
        refused = refused[: refused.index("</article>")]
        assert "<span data-carrier>Speedy Parcels</span>" in refused
        assert "Refused by the tracking provider:" in refused
        assert "The carrier cannot be detected automatically" in refused
        assert "No carrier scan yet." in refused


def test_scan_times_are_shown_in_the_time_zone_in_use(member_client: Client, store: Any) -> None:
    # given the account's time zone is New York's
    type(store.account).objects.filter(pk=store.account_id).update(time_zone="America/New_York")
    order = OrderFactory(store=store, number="#1001")
    TrackingEventFactory(
        shipment=shipment(order, "LP1"), occurred_at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC), description="Scan"
    )
    # when
    page = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    # then
    assert '<time datetime="2026-11-30T10:00:00-05:00">' in page
    assert "Times are in America/New_York." in page


def test_a_shared_number_is_flagged_on_both_orders(member_client: Client, store: Any) -> None:
    # given the supplier gave one number to #1001 (the parcel's order) and #1002
    first = OrderFactory(store=store, number="#1001")
    second = OrderFactory(store=store, number="#1002")
    parcel = shipment(first, "LP555", carrier_name="Cainiao", shared_number=True)
    TrackingEventFactory(shipment=parcel, description="Accepted by carrier")
    ShipmentOrder.objects.create(shipment=parcel, order=second)
    # when
    on_first = text(member_client.get(f"/orders/{first.pk}/", **HTMX))
    on_second = text(member_client.get(f"/orders/{second.pk}/", **HTMX))
    # then each shows the parcel, its scans and the other order's number
    assert "The supplier gave this tracking number to order #1002 too." in on_first
    assert "The supplier gave this tracking number to order #1001 too." in on_second
    for page in (on_first, on_second):
        assert 'data-parcel="LP555"' in page
        assert "Accepted by carrier" in page
    # and a parcel not shared has no warning
    alone = OrderFactory(store=store, number="#1003")
    shipment(alone, "LP777")
    assert "data-shared-number" not in text(member_client.get(f"/orders/{alone.pk}/", **HTMX))


def test_a_parcel_linked_to_another_accounts_order_never_shows_that_order(
    member_client: Client, store: Any, other_store: Any
) -> None:
    # given a (wrongly written) link from our parcel to another account's order
    ours = OrderFactory(store=store, number="#1001")
    theirs = OrderFactory(store=other_store, number="#SECRET-77")
    parcel = shipment(ours, "LP555", shared_number=True)
    ShipmentOrder.objects.create(shipment=parcel, order=theirs)
    # when
    page = text(member_client.get(f"/orders/{ours.pk}/", **HTMX))
    # then the warning stays, without the other tenant's number
    assert "The supplier gave this tracking number to another order too." in page
    assert "#SECRET-77" not in page


def push(order: Order, parcel: Shipment, **fields: Any) -> FulfillmentPush:
    return FulfillmentPush.objects.create(
        account=order.account,
        store=order.store,
        order=order,
        shipment_id=parcel.pk,
        tracking_number=parcel.tracking_number,
        carrier=parcel.carrier,
        **fields,
    )


def block_of(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start : page.index("</div>", start)]


def test_the_drawer_shows_the_push_state_of_each_parcel(member_client: Client, store: Any) -> None:
    # given three parcels: one fulfilled in Shopify, one refused, one being retried
    order = OrderFactory(store=store, number="#1001")
    sent_at = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    pushed = push(
        order,
        shipment(order, "LP1", carrier_name="Cainiao"),
        state="pushed",
        carrier_sent="Cainiao",
        attempts=1,
        pushed_at=sent_at,
        external_id="gid://shopify/Fulfillment/1",
    )
    failed = push(
        order,
        shipment(order, "LP2"),
        state="failed",
        carrier_sent="Speedy Parcels",
        attempts=1,
        error_code="unknown_carrier",
        last_error="TikTok Shop has no shipping provider named Speedy Parcels",
    )
    retrying = push(
        order,
        shipment(order, "LP3"),
        state="retrying",
        attempts=2,
        next_attempt_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        last_error="Shopify answered 503",
    )
    # when
    response = member_client.get(f"/orders/{order.pk}/", **HTMX)
    page = text(response)
    # then
    states = {
        tag.attrs["data-push"]: tag.attrs["data-push-state"] for tag in tags(response) if "data-push" in tag.attrs
    }
    assert states == {str(pushed.pk): "pushed", str(failed.pk): "failed", str(retrying.pk): "retrying"}
    ok = block_of(page, f'id="push-{pushed.pk}"')
    assert "<strong>Shopify</strong>" in ok
    assert "Fulfilled in the channel" in ok
    assert "carrier sent: Cainiao" in ok
    assert '<time class="muted" datetime="2026-11-30T09:30:00+00:00">' in ok
    assert "data-push-error" not in ok
    refused = block_of(page, f'id="push-{failed.pk}"')
    assert "Push failed" in refused
    assert (
        'Shopify said: <bdi translate="no">TikTok Shop has no shipping provider named Speedy Parcels</bdi>' in refused
    )
    assert "Map the supplier&#x27;s carrier name to one the channel knows" in refused
    again = block_of(page, f'id="push-{retrying.pk}"')
    assert "Failed, retrying" in again
    assert "Will be sent again automatically at 12/01/2026 noon." in again
    assert 'Shopify said: <bdi translate="no">Shopify answered 503</bdi>' in again
    assert "data-push-advice" not in again
    # Retry on the failed push only: a POST form (CSRF) that htmx sends too
    assert [tag.attrs.get("data-action") for tag in tags(response)].count("retry-push") == 1
    assert f'action="/pushes/{failed.pk}/retry/"' in refused
    assert f'hx-post="/pushes/{failed.pk}/retry/"' in refused
    assert 'name="csrfmiddlewaretoken"' in refused
    assert f'name="next" value="/orders/{order.pk}/"' in refused
    assert "/pushes/" not in ok
    assert "/pushes/" not in again


def test_a_failed_push_without_a_known_code_says_what_to_do(member_client: Client, store: Any) -> None:
    order = OrderFactory(store=store, number="#1001")
    failed = push(order, shipment(order, "LP2"), state="failed", error_code="user_error", last_error="<b>bad</b>")
    page = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    refused = block_of(page, f'id="push-{failed.pk}"')
    assert 'Shopify said: <bdi translate="no">&lt;b&gt;bad&lt;/b&gt;</bdi>' in refused  # the channel's words, escaped
    assert "fulfill the order in the channel by hand" in refused


def test_a_push_of_a_parcel_no_longer_on_the_order_is_still_shown(member_client: Client, store: Any) -> None:
    order = OrderFactory(store=store, number="#1001")
    elsewhere = OrderFactory(store=store, number="#1002")
    moved = push(order, shipment(elsewhere, "LP9"), state="pushed", attempts=1, pushed_at=timezone.now())
    response = member_client.get(f"/orders/{order.pk}/", **HTMX)
    assert "Other parcels sent to the channel" in text(response)
    assert [tag.attrs["data-push"] for tag in tags(response) if "data-push" in tag.attrs] == [str(moved.pk)]


def test_a_foreign_orders_drawer_is_not_found(member_client: Client, other_store: Any) -> None:
    # given another account's shipped order with a parcel, a scan and a push
    theirs = order_in_state(SubStatus.IN_TRANSIT, store=other_store, number="#B-1")
    parcel = theirs.shipments.get()
    TrackingEventFactory(shipment=parcel, description="Secret scan")
    push(theirs, parcel, state="failed", last_error="Secret error")
    # when / then
    for extra in ({}, HTMX):
        response = member_client.get(f"/orders/{theirs.pk}/", **extra)
        assert response.status_code == 404
        page = text(response)
        assert parcel.tracking_number not in page
        assert "Secret" not in page


def test_the_drawer_runs_the_same_queries_for_1_or_4_parcels(member_client: Client, store: Any) -> None:
    # given an order with one parcel (shared), one scan and one push, and one with 4 of each and more
    def order_with(number: str, parcels: int) -> Order:
        order = OrderFactory(store=store, number=number)
        other = OrderFactory(store=store, number=f"{number}-other")
        for index in range(parcels):
            own = shipment(order, f"{number[1:]}-{index}", shared_number=True)
            ShipmentOrder.objects.create(shipment=own, order=other)
            ShipmentOrder.objects.create(shipment=shipment(other, f"{number[1:]}-s{index}"), order=order)
            for _ in range(index + 1):
                TrackingEventFactory(shipment=own)
            push(order, own, state="failed" if index % 2 else "pushed", last_error="No")
        return order

    small, big = order_with("#1001", 1), order_with("#2001", 4)
    assert len(text(member_client.get(f"/orders/{big.pk}/")).split("data-parcel=")) == 9  # 8 parcels
    # when / then
    assert count_queries(member_client, f"/orders/{small.pk}/") == count_queries(member_client, f"/orders/{big.pk}/")
    assert count_queries(member_client, f"/orders/{small.pk}/", **HTMX) == count_queries(
        member_client, f"/orders/{big.pk}/", **HTMX
    )


# --- Edges (review round 2) -------------------------------------------------------------------


def test_another_accounts_parcel_wrongly_linked_never_shows(
    member_client: Client, store: Any, other_store: Any
) -> None:
    # given a (wrongly written) link from another account's parcel, the freshest, to our order
    ours = order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1001")
    theirs = OrderFactory(store=other_store, number="#SECRET-77")
    foreign = shipment(theirs, "LP-THEIRS-SECRET", last_event_description="Their secret scan")
    TrackingEventFactory(shipment=foreign, description="Their secret scan")
    ShipmentOrder.objects.create(shipment=foreign, order=ours)
    # when
    drawer = text(member_client.get(f"/orders/{ours.pk}/", **HTMX))
    row = row_html(center(member_client, status="shipment"), ours)
    # then neither the drawer nor the row shows their parcel, only ours
    assert ours.shipments.get().tracking_number in drawer
    assert ours.shipments.get().tracking_number in row
    for page in (drawer, row):
        assert "LP-THEIRS-SECRET" not in page
        assert "Their secret scan" not in page
    assert "data-more-parcels" not in row


def test_the_drawer_shows_the_newest_50_scans_and_how_many_earlier(member_client: Client, store: Any) -> None:
    start = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)

    def order_with(number: str, scans: int) -> Order:
        order = OrderFactory(store=store, number=number)
        parcel = shipment(order, f"LP{number[1:]}")
        for n in range(1, scans + 1):
            TrackingEventFactory(shipment=parcel, occurred_at=start + timedelta(hours=n), description=f"Scan {n}")
        return order

    few, many = order_with("#1001", 3), order_with("#2001", 57)
    page = text(member_client.get(f"/orders/{many.pk}/", **HTMX))
    # then the 50 newest, newest first, and a note of the 7 left out
    descriptions = [part.split("</bdi>")[0] for part in page.split('<bdi translate="no" data-scan-description>')[1:]]
    assert len(descriptions) == 50
    assert (descriptions[0], descriptions[-1]) == ("Scan 57", "Scan 8")
    assert 'data-earlier-scans="7"' in page
    assert "7 earlier scans not shown" in page
    assert "data-earlier-scans" not in text(member_client.get(f"/orders/{few.pk}/", **HTMX))
    # and the same queries for 3 or 57 scans
    assert count_queries(member_client, f"/orders/{few.pk}/", **HTMX) == count_queries(
        member_client, f"/orders/{many.pk}/", **HTMX
    )


def test_a_script_in_a_scan_is_escaped_in_the_drawer_and_the_row(member_client: Client, store: Any) -> None:
    order = order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1001")
    Shipment.objects.filter(order=order).update(
        last_event_description="<script>alert('row')</script>", last_event_location="<img src=x onerror=alert(2)>"
    )
    TrackingEventFactory(
        shipment=order.shipments.get(),
        description="<script>alert('drawer')</script>",
        location="<img src=x onerror=alert(1)>",
    )
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    row = row_html(center(member_client, status="shipment"), order)
    for page in (drawer, row):
        assert "<script>alert" not in page
        assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#x27;drawer&#x27;)&lt;/script&gt;" in drawer
    assert "&lt;img src=x onerror=alert(1)&gt;" in drawer
    assert "&lt;script&gt;alert(&#x27;row&#x27;)&lt;/script&gt;" in row
