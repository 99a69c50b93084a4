"""The whole of issue 11 in one simulated world, for the end-to-end and latency tests: a merchant
whose store is a sandbox channel and whose supplier accounts are sandbox suppliers, the
sandbox's 17TRACK as our tracking provider pushing to our webhook, and the real fulfillment push
task (nothing stands in for a part of ours)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accounts.models import Account
from channels_sync.models import Store
from channels_sync.tests.push_helpers import connect, pulled
from orders.enums import SubStatus, TrackingStatus
from orders.models import Order
from orders.services.counts import order_counts_from_rows, order_counts_stored
from sandbox.clock import sim_now
from sandbox.models import ChannelOrder as SimOrder
from sandbox.models import Parcel
from sandbox.sim import carriers
from sandbox.webhooks import deliveries_send_due
from sandbox.world import world_tick
from suppliers.models import SupplierOrder
from suppliers.services.placement import order_place
from suppliers.tests.placing import US_ADDRESS, link_sku, source_account_connect
from tracking.providers.track17.mapping import status_of

TRACK17_ACCOUNT = "zopi-e2e"
# The shipping service the AliExpress links ask for (its sandbox ships it with that carrier and names
# the service with the number); CJ's links ask for its default (CJPacket Ordinary).
SHIPPING_METHOD = {"aliexpress": "YUNEXPRESS"}
QUEUES = ["suppliers", "tracking", "push"]

# What the order's sub-status is while its one parcel is in a 17TRACK main status (our own
# reading of docs/tracking.md, written out here, not imported from the code under test).
SUB_STATUS_OF = {
    TrackingStatus.NOT_FOUND: SubStatus.AWAITING_SHIPMENT,
    TrackingStatus.INFO_RECEIVED: SubStatus.AWAITING_SHIPMENT,
    TrackingStatus.IN_TRANSIT: SubStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: SubStatus.IN_TRANSIT,
    TrackingStatus.AVAILABLE_FOR_PICKUP: SubStatus.PICKUP,
    TrackingStatus.DELIVERED: SubStatus.DELIVERED,
}


def tracking_provider_wire(control: Any, settings: Any, webhook_url: str) -> dict[str, Any]:
    """The sandbox's 17TRACK account as our provider, pushing to ``webhook_url``; the real push."""
    account: dict[str, Any] = control.account("17track", TRACK17_ACCOUNT)
    settings.TRACK17_API_URL = account["base_url"]
    settings.TRACK17_API_KEY = account["credentials"]["token"]
    settings.TRACK17_CALLS_PER_SECOND = 0
    settings.FULFILLMENT_PUSH_TASK = "channels_sync.fulfillment_push_request"
    settings.SUPPLIER_TRACKING_TASK = "tracking.shipment_handover"
    settings.OUTBOUND_MAX_INLINE_WAIT = 0
    control.webhook("17track", TRACK17_ACCOUNT, webhook_url)
    return account


def channel_order(control: Any, account: Account, channel: str, shop: str, *, seed: int, lines: int = 1) -> Order:
    """A sandbox channel order of ``lines`` lines (distinct SKUs) pulled into our database, shipped
    to a US address (the suppliers' sandboxes check it)."""
    store = connect(control, account, channel, shop)
    control.options(channel, shop, orders_per_hour=0)  # no buyers while the clock jumps days ahead
    for attempt in range(seed, seed + 60):
        extra = {"split_packages": True} if channel == "tiktok" and lines > 1 else {}
        (external_id,) = control.create_orders(channel, shop, count=1, seed=attempt, **extra)
        sim = SimOrder.objects.get(account__name=shop, external_id=external_id)
        if channel == "tiktok" and lines > 1 and len(sim.extra.get("packages", [])) < lines:
            continue
        order = pulled(store, external_id)
        skus = [line.sku for line in order.lines.all()]
        if len(skus) == lines and len(set(skus)) == lines and all(skus):
            Order.objects.filter(pk=order.pk).update(**US_ADDRESS)
            return Order.objects.get(pk=order.pk)
    raise AssertionError(f"no {channel} order of {lines} line(s) with distinct SKUs")


def suppliers_connect(control: Any, account: Account, order: Order, providers: list[str], prefix: str) -> None:
    """Each of the order's lines (by id) bought from the matching supplier in ``providers``."""
    for provider in dict.fromkeys(providers):
        source_account_connect(control, account, provider, name=f"{prefix}-{provider}")
    for line, provider in zip(order.lines.order_by("id"), providers, strict=True):
        link_sku(account, line.sku, provider, shipping_method=SHIPPING_METHOD.get(provider, ""))


def place_and_pay(account: Account, order: Order) -> list[SupplierOrder]:
    result = order_place(account=account, order_id=order.pk)
    supplier_orders = list(SupplierOrder.objects.select_related("source_account").filter(order=order).order_by("id"))
    assert supplier_orders, result.message
    assert {row.state for row in supplier_orders} == {"paid"}, [(r.state, r.failure_reason) for r in supplier_orders]
    return supplier_orders


def ship(control: Any, supplier_order: SupplierOrder) -> Parcel:
    """The supplier hands the parcel to its carrier now; its fate in the world: delivered (planned,
    pure: ``journey`` gives every step before it happens)."""
    assert supplier_order.source_account is not None
    shipped = control.supplier_ship(
        supplier_order.provider, supplier_order.source_account.name, supplier_order.external_order_id
    )
    parcel = Parcel.objects.get(number=shipped["tracking_number"])
    parcel.fate = "delivered@US"
    parcel.save(update_fields=["fate"])
    return parcel


def journey(parcel: Parcel) -> list[carriers.Step]:
    return carriers.itinerary(parcel.number, parcel.fate, parcel.created_at, parcel.carrier_code)


def world_to(control: Any, when: Any) -> int:
    """The sandbox clock moved (over HTTP) just past ``when``, the world ticked, its due 17TRACK
    pushes sent to our webhook; returns how many were sent."""
    ahead = (when - sim_now()).total_seconds() + 1
    if ahead > 0:
        control.clock(advance_seconds=ahead)
    world_tick()
    sent = 0
    while batch := deliveries_send_due():
        sent += batch
    return sent


def counts_exact(account: Account) -> bool:
    return order_counts_stored(account=account) == order_counts_from_rows(account=account)


def tab_count(account: Account, order: Order) -> int:
    """The stored count of the order's tab and sub-status in its store (what the tab shows)."""
    return sum(
        count
        for key, count in order_counts_stored(account=account).items()
        if (key.store_id, key.status, key.sub_status, key.archived)
        == (order.store_id, order.status, order.sub_status, False)
    )


def sub_status_for(step: carriers.Step) -> str:
    return SUB_STATUS_OF[status_of(step.status, step.sub_status)]


def store_of(order: Order) -> Store:
    return Store.objects.get(pk=order.store_id)


SECOND = timedelta(seconds=1)
