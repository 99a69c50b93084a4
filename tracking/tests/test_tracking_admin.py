"""Support's admin: the Shipment list with its filters (registration, sub-status, shared number, the
order stalled), the provider's status as received, the events read-only on the parcel's page, nothing
to add or change; and the order list's "stalled" filter, whose reasons are tracking's own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from orders.admin import StalledFilter
from orders.enums import SubStatus, TrackingStatus
from orders.models import Order
from tests.factories import (
    AccountFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
    TrackingEventFactory,
    UserFactory,
)
from tracking.enums import RegistrationState, StalledReason
from tracking.models import Shipment, ShipmentOrder

pytestmark = pytest.mark.django_db

SHIPMENTS = "/admin/tracking/shipment/"
ORDERS = "/admin/orders/order/"


def listed(response: Any, model: str) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(rf'href="/admin/{model}/(\d+)/change/', response.content.decode())}


@pytest.fixture
def support(client: Client) -> Client:
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def parcels(db: None) -> dict[str, Shipment]:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")
    moving = ShipmentFactory(
        order=OrderFactory(store=store),
        registration_state=RegistrationState.REGISTERED,
        sub_status=SubStatus.IN_TRANSIT,
        provider_status="InTransit",
        provider_sub_status="InTransit_CustomsProcessing",
    )
    refused = ShipmentFactory(
        order=OrderFactory(store=store), registration_state=RegistrationState.REJECTED, shared_number=True
    )
    expired = ShipmentFactory(
        order=OrderFactory(store=store),
        registration_state=RegistrationState.STOPPED,
        sub_status=SubStatus.EXPIRED,
        provider_status="Teleported",  # a status we do not know: kept as received
    )
    Order.objects.filter(pk=moving.order_id).update(stalled=StalledReason.NO_EVENT)
    Order.objects.filter(pk=expired.order_id).update(stalled=StalledReason.NO_TRACKING)
    return {"moving": moving, "refused": refused, "expired": expired}


def test_the_shipment_list_and_its_filters(support: Client, parcels: dict[str, Shipment]) -> None:
    ids = {name: shipment.pk for name, shipment in parcels.items()}
    assert listed(support.get(SHIPMENTS), "tracking/shipment") == set(ids.values())
    cases = {
        "registration_state__exact=rejected": {ids["refused"]},
        "registration_state__exact=stopped": {ids["expired"]},
        "sub_status__exact=expired": {ids["expired"]},
        "shared_number__exact=1": {ids["refused"]},
        "stalled=yes": {ids["moving"], ids["expired"]},
        "stalled=no_event": {ids["moving"]},
        "stalled=no_tracking": {ids["expired"]},
        "stalled=nonsense": set(ids.values()),  # an unknown value filters nothing, never a 500
    }
    for query, expected in cases.items():
        assert listed(support.get(f"{SHIPMENTS}?{query}"), "tracking/shipment") == expected, query
    html = support.get(SHIPMENTS).content.decode()
    assert "InTransit_CustomsProcessing" in html
    assert "Teleported" in html


def test_a_parcels_page_is_read_only_with_its_events(support: Client, parcels: dict[str, Shipment]) -> None:
    shipment = parcels["moving"]
    TrackingEventFactory(shipment=shipment, description="Customs clearance started", location="Los Angeles, US")
    TrackingEventFactory(shipment=shipment, description="Departed from the origin", status=TrackingStatus.IN_TRANSIT)
    other = OrderFactory(store=shipment.order.store, number="#SHARED-2")
    ShipmentOrder.objects.create(shipment=shipment, order=other)
    response = support.get(f"{SHIPMENTS}{shipment.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    for shown in ("Customs clearance started", "Los Angeles, US", "Departed from the origin", "#SHARED-2"):
        assert shown in html
    assert "InTransit_CustomsProcessing" in html
    assert 'name="_save"' not in html  # nothing to save: view only
    assert support.get(f"{SHIPMENTS}add/").status_code == 403
    assert support.post(f"{SHIPMENTS}{shipment.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Shipment.objects.filter(pk=shipment.pk).exists()


def test_the_order_lists_stalled_filter(support: Client, parcels: dict[str, Shipment]) -> None:
    moving, expired = parcels["moving"].order_id, parcels["expired"].order_id
    assert listed(support.get(f"{ORDERS}?stalled=yes"), "orders/order") == {moving, expired}
    assert listed(support.get(f"{ORDERS}?stalled=no_event"), "orders/order") == {moving}
    assert listed(support.get(f"{ORDERS}?stalled=no_tracking"), "orders/order") == {expired}
    assert len(listed(support.get(f"{ORDERS}?stalled=x"), "orders/order")) == 3


def test_the_order_filters_reasons_are_trackings() -> None:
    # orders cannot import tracking's enum: the two lists are kept equal here
    assert [(value, str(label)) for value, label in StalledFilter.REASONS] == [
        (value, str(label)) for value, label in StalledReason.choices if value
    ]
