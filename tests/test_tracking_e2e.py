"""Issue 11 end to end, per channel, with the sandbox over HTTP and real worker threads on the
suppliers, tracking and push queues: a channel order pulled in, placed and paid with a sandbox
supplier, shipped; the supplier sync reads the number, the handover makes the Shipment and
registers it, the push fulfils the channel order (its number, the carrier it was told, its
lines); then the parcel moves through every step of its journey to Delivered, read by 17TRACK's
pushes to our webhook and by our polls, the order's tab and sub-status following and every tab
count exact. Then one order bought from two suppliers: two parcels, two fulfillments, each of
its own lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from channels_sync.carriers import carrier_for
from channels_sync.enums import PushState
from channels_sync.models import FulfillmentPush
from channels_sync.tests.push_helpers import units_fulfilled
from orders.enums import OrderStatus, SubStatus
from orders.models import Order
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from suppliers.services.sync import supplier_order_sync
from tests.tracking_world import (
    QUEUES,
    TRACK17_ACCOUNT,
    channel_order,
    counts_exact,
    journey,
    place_and_pay,
    ship,
    sub_status_for,
    suppliers_connect,
    tab_count,
    tracking_provider_wire,
    world_to,
)
from tests.workers import running_worker, wait_for
from tracking.enums import RegistrationState, TrackingMessageState
from tracking.models import Shipment, TrackingMessage
from tracking.services.polling import shipments_poll_due

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

AE, CJ = SupplierProvider.ALIEXPRESS, SupplierProvider.CJ
SUPPLIER_OF = {"shopify": AE, "woocommerce": CJ, "tiktok": AE}
TOLD = {AE: dict.fromkeys(("shopify", "tiktok"), "YunExpress"), CJ: {"woocommerce": "CJPacket"}}


def supplier_order_carrier(supplier_order: SupplierOrder) -> str:
    supplier_order.refresh_from_db()
    return supplier_order.carrier


@pytest.fixture
def world(control: Any, settings: Any, live_server: Any) -> Iterator[list[tuple[str, str]]]:
    settings.SITE_URL = live_server.url
    tracking_provider_wire(control, settings, live_server.url + reverse("track17_webhook"))
    with running_worker(QUEUES) as ran:
        yield ran


def status(order: Order) -> tuple[str, str]:
    order.refresh_from_db()
    return (order.status, order.sub_status)


def sub_status_of(shipment: Shipment) -> str:
    shipment.refresh_from_db()
    return shipment.provider_sub_status


def pushed(order: Order, count: int) -> bool:
    return FulfillmentPush.objects.filter(order=order, state=PushState.PUSHED).count() == count


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "tiktok"])
def test_a_channel_order_is_fulfilled_with_its_tracking_and_followed_to_delivered(
    control: Any, world: list[tuple[str, str]], channel: str
) -> None:
    account = Account.objects.create(name=f"E2E {channel}")
    shop = f"e2e-{channel}"
    order = channel_order(control, account, channel, shop, seed=21)
    suppliers_connect(control, account, order, [SUPPLIER_OF[channel]], prefix=shop)
    (supplier_order,) = place_and_pay(account, order)
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    parcel = ship(control, supplier_order)

    supplier_order_sync(supplier_order_id=supplier_order.pk)  # what beat's sync does when it is due

    assert wait_for(lambda: pushed(order, 1), timeout=60), (world, list(FulfillmentPush.objects.values()))
    shipment = Shipment.objects.get(order=order)
    assert (shipment.tracking_number, shipment.supplier_order_id) == (parcel.number, supplier_order.pk)
    assert shipment.registration_state == RegistrationState.REGISTERED
    push = FulfillmentPush.objects.get(order=order)
    assert (push.tracking_number, push.shipment_id) == (parcel.number, shipment.pk)
    # at the channel: one fulfillment of the order, the number, the carrier it was told, every unit
    mine = [row for row in control.fulfillments() if row["order_id"] == order.channel_order_id]
    assert [(row["provider"], row["tracking_number"]) for row in mine] == [(channel, parcel.number)]
    # the carrier as the supplier named it with the number, told to the channel in its own words
    told = carrier_for(channel, supplier_order_carrier(supplier_order), {}).name
    assert told == TOLD[SUPPLIER_OF[channel]][channel]
    assert (push.carrier_sent, mine[0]["tracking_company"]) == (told, told)
    line = order.lines.get()
    assert sum(units_fulfilled(order, parcel.number).values()) == line.quantity
    assert push.lines == [{"order_line_id": line.pk, "quantity": line.quantity}]
    assert status(order) == (OrderStatus.SHIPMENT, SubStatus.AWAITING_SHIPMENT)
    assert counts_exact(account)
    assert tab_count(account, order) == 1

    # the parcel moves: the first half of its journey read from 17TRACK's pushes to our webhook,
    # the rest (pushes off) by our polls
    steps = journey(parcel)
    assert steps[-1].status == "Delivered"
    half = len(steps) // 2
    seen: list[str] = []
    for index, step in enumerate(steps):
        if index == half:
            control.webhook("17track", TRACK17_ACCOUNT, None)
            assert TrackingMessage.objects.filter(state=TrackingMessageState.PROCESSED).count() >= 1
            pushes_so_far = TrackingMessage.objects.count()
        world_to(control, step.at)
        if index < half:  # 17TRACK pushes it; the worker processes the message
            assert wait_for(lambda s=step: sub_status_of(shipment) == s.sub_status), (index, step, world)
        else:  # only our poll sees it
            assert sub_status_of(shipment) == steps[index - 1].sub_status
            Shipment.objects.filter(pk=shipment.pk).update(next_poll_at=timezone.now())  # its poll is due
            assert shipments_poll_due().polled == 1
        shipment.refresh_from_db()
        assert shipment.provider_sub_status == step.sub_status, (index, step)
        assert status(order) == (OrderStatus.SHIPMENT, sub_status_for(step)), (index, step)
        assert counts_exact(account)
        assert tab_count(account, order) == 1
        seen.append(order.sub_status)
    assert list(dict.fromkeys(seen)) == [SubStatus.AWAITING_SHIPMENT, SubStatus.IN_TRANSIT, SubStatus.DELIVERED]
    shipment.refresh_from_db()
    assert (shipment.registration_state, shipment.next_poll_at) == (RegistrationState.STOPPED, None)
    assert TrackingMessage.objects.count() == pushes_so_far  # the polls read the second half
    assert FulfillmentPush.objects.filter(order=order).count() == 1  # moving on pushed nothing again
    assert len([row for row in control.fulfillments() if row["order_id"] == order.channel_order_id]) == 1


def test_an_order_from_two_suppliers_gets_two_parcels_and_two_partial_fulfillments(
    control: Any, world: list[tuple[str, str]]
) -> None:
    account = Account.objects.create(name="E2E two suppliers")
    order = channel_order(control, account, "shopify", "e2e-two", seed=40, lines=2)
    suppliers_connect(control, account, order, [AE, CJ], prefix="e2e-two")
    supplier_orders = place_and_pay(account, order)
    assert [row.provider for row in supplier_orders] == [AE, CJ]
    parcels = [ship(control, row) for row in supplier_orders]

    supplier_order_sync(supplier_order_id=supplier_orders[0].pk)
    assert wait_for(lambda: pushed(order, 1), timeout=60), world
    # the lowest stage of its parts shows (orders/derivation.py): the other part has no parcel yet
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    assert counts_exact(account)
    supplier_order_sync(supplier_order_id=supplier_orders[1].pk)
    assert wait_for(lambda: pushed(order, 2), timeout=60), world

    first, second = order.lines.order_by("id")
    assert Shipment.objects.filter(order=order).count() == 2
    mine = [row for row in control.fulfillments() if row["order_id"] == order.channel_order_id]
    assert [row["tracking_number"] for row in mine] == [parcel.number for parcel in parcels]
    for parcel, line in ((parcels[0], first), (parcels[1], second)):
        assert units_fulfilled(order, parcel.number) == {line.channel_line_id: line.quantity}
        push = FulfillmentPush.objects.get(order=order, tracking_number=parcel.number)
        assert push.lines == [{"order_line_id": line.pk, "quantity": line.quantity}]
    assert status(order) == (OrderStatus.SHIPMENT, SubStatus.AWAITING_SHIPMENT)
    assert counts_exact(account)
