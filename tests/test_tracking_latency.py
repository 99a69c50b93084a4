"""Latency, worst case, in sandbox time: from the supplier producing a tracking number to the
channel order being fulfilled takes at most one supplier-sync interval (``PAID_EVERY``,
``SUPPLIER_SYNC_PAID_MINUTES`` = 10 min by default) plus one minute.

The number appears just after a read of the supplier order. The next read is due ``PAID_EVERY``
later (its stored ``next_sync_at``), and beat's dispatcher (every minute) claims it once due, not
before; at its worst alignment a tick falls just before the read is due, so the claim comes a
minute later: "now" is driven through the services' ``now=`` while the sandbox clock is moved by
the same time. From that claim the chain runs through real workers with no beat tick in between
(the sync task → the handover, which registers at once → the push, each enqueued after commit),
and the sandbox's own records give the gap: its parcel's handover time to the carrier, its
channel's fulfillment time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from channels_sync.enums import PushState
from channels_sync.models import FulfillmentPush
from sandbox.clock import sim_now
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from suppliers.services.sync import PAID_EVERY, SyncOutcome, supplier_order_sync, supplier_orders_claim_due
from tests.tracking_world import QUEUES, channel_order, place_and_pay, ship, suppliers_connect, tracking_provider_wire
from tests.workers import running_worker, wait_for
from tracking.enums import RegistrationState
from tracking.models import Shipment

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

BEAT_TICK = timedelta(minutes=1)  # suppliers.sync_due_supplier_orders (zopi/settings.py)
# The chain's own time (sync task → handover and registration → push → the channel's answer), in
# sandbox time at real speed: a few tenths of a second here; 15 s of room for a loaded CI machine.
CHAIN_SLACK = timedelta(seconds=15)


@pytest.fixture
def world(control: Any, settings: Any, live_server: Any) -> Iterator[list[tuple[str, str]]]:
    settings.SITE_URL = live_server.url
    tracking_provider_wire(control, settings, live_server.url + reverse("track17_webhook"))
    with running_worker(QUEUES) as ran:
        yield ran


def test_a_tracking_number_reaches_the_channel_within_one_sync_interval_and_a_minute(
    control: Any, settings: Any, world: list[tuple[str, str]]
) -> None:
    assert PAID_EVERY == timedelta(minutes=settings.SUPPLIER_SYNC_PAID_MINUTES) == timedelta(minutes=10)
    account = Account.objects.create(name="Latency merchant")
    order = channel_order(control, account, "shopify", "latency-shop", seed=31)
    suppliers_connect(control, account, order, [SupplierProvider.ALIEXPRESS], prefix="latency")
    (supplier_order,) = place_and_pay(account, order)

    # a read finds no number yet; the next one is due PAID_EVERY later
    read_at = timezone.now()
    assert supplier_order_sync(supplier_order_id=supplier_order.pk, now=read_at).outcome == SyncOutcome.SYNCED
    supplier_order.refresh_from_db()
    assert (supplier_order.tracking_number, supplier_order.next_sync_at) == ("", read_at + PAID_EVERY)

    # the worst case: the number appears just after that read
    parcel = ship(control, supplier_order)
    shipped_at = parcel.created_at  # sandbox time: the parcel handed to its carrier, its number issued

    # beat's dispatcher, each minute, at its worst alignment: a tick one second before the read
    # is due claims nothing; the next tick, a minute later, claims it (and queues the sync task)
    missed = read_at + PAID_EVERY - timedelta(seconds=1)
    for tick in range(10):
        assert supplier_orders_claim_due(now=missed - tick * BEAT_TICK) == []
    assert not Shipment.objects.exists()
    control.clock(advance_seconds=(PAID_EVERY - timedelta(seconds=1) + BEAT_TICK).total_seconds())
    claimed_in_world = sim_now()
    assert supplier_orders_claim_due(now=missed + BEAT_TICK) == [[supplier_order.pk]]

    assert wait_for(lambda: FulfillmentPush.objects.filter(order=order, state=PushState.PUSHED).exists(), timeout=60), (
        world
    )
    (fulfilled,) = [row for row in control.fulfillments() if row["order_id"] == order.channel_order_id]
    assert fulfilled["tracking_number"] == parcel.number
    gap = datetime.fromisoformat(fulfilled["created_at"]) - shipped_at
    chain = datetime.fromisoformat(fulfilled["created_at"]) - claimed_in_world
    print(  # noqa: T201 - the measured numbers, for docs/tracking.md
        f"latency: number issued → channel fulfilled in {gap.total_seconds():.1f} s of sandbox time "
        f"(the chain from beat's claim: {chain.total_seconds():.1f} s)"
    )
    assert PAID_EVERY < gap <= PAID_EVERY + BEAT_TICK + CHAIN_SLACK
    assert chain <= CHAIN_SLACK  # the chain itself: seconds (sandbox time runs at real speed here)

    # the chain waited for no beat tick: one sync task, one handover (registered at once), one push
    ran = [name for name, _ in world]
    assert ran == [
        "suppliers.sync_supplier_orders",
        "tracking.shipment_handover",
        "channels_sync.fulfillment_push_request",
    ]
    assert Shipment.objects.get(order=order).registration_state == RegistrationState.REGISTERED
    assert SupplierOrder.objects.get(pk=supplier_order.pk).next_sync_at is None  # tracking takes over
