"""Chaos: N parcels handed over to tracking (``tracking.shipment_handover``, contract 1) for orders
of the sandbox's Shopify, WooCommerce and TikTok Shop shops, run by real Celery worker PROCESSES
(queues ``tracking`` and ``push``) on the Redis broker and PostgreSQL, while the sandbox injects
5xx, 429 and timeouts on 17TRACK and on the three channels, and pushes its TRACKING_UPDATED
webhooks to our endpoint duplicated and out of order. The simulated world's clock is advanced in
steps until every parcel's planned journey ended; beat's work (register_due, poll_due,
fulfillment_pushes_due, requeue_tracking_messages) is sent by name from a loop, as beat sends it;
one pool process is killed with SIGKILL mid-run.

Each parcel's fate is planned (``sandbox/sim/carriers.py``: delivered, pickup, failed attempt,
exception, silent → Expired), so the journey's last step says the sub-status it must end in.
Afterwards, with the faults off and the sweeps run until nothing is left: every shipment in the
sub-status its fate implies and every order in Shipment with it, every tab count exact, every
sandbox channel order fulfilled exactly once with the parcel's number and all its units, no push
left waiting, retrying or held, no webhook message pending, no tracking event twice.

Our own clock does not run a day in a test: the loop moves our due times back instead
(``_our_clock_passes``: the next polls, the retrying pushes' next try, and — while settling — the
holds a killed worker left), the seam a real beat would not need.

``CHAOS_PARCELS`` sets N (default 100: about two minutes; the 1,000-parcel run is in
docs/tracking.md, "Chaos run"); ``CHAOS_POOL`` the pool processes per worker (2).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import Account
from channels_sync.enums import PushState
from channels_sync.models import FulfillmentPush
from channels_sync.services import store_pull
from channels_sync.services.push import CLAIM_FOR
from channels_sync.tests.push_helpers import CHANNELS, connect, units_fulfilled
from orders.enums import OrderStatus, SubStatus, SupplierOrderState, TrackingStatus
from orders.models import Order
from orders.services.counts import order_counts_from_rows, order_counts_stored
from sandbox.clock import sim_now
from sandbox.models import Fulfillment as SimFulfillment
from sandbox.models import Parcel
from sandbox.models import WebhookDelivery as SandboxDelivery
from sandbox.sim import carriers
from sandbox.tests.conftest import Control
from sandbox.webhooks import deliveries_send_due
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from tests.workers import WorkerProcess, wait_for, worker_processes
from tracking.enums import RegistrationState, TrackingMessageState
from tracking.models import Shipment, TrackingEvent, TrackingMessage
from tracking.services.messages import tracking_messages_requeue
from tracking.services.polling import HOLD

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

N = int(os.environ.get("CHAOS_PARCELS", "100"))
POOL = int(os.environ.get("CHAOS_POOL", "2"))  # pool processes per worker process
SIM_ACCOUNT = "zopi-chaos-tracking"
FATES = ("delivered", "delivered", "pickup", "failed_attempt", "exception", "silent")
TRACK17_FAULTS = {
    "http_5xx": 0.08,
    "http_429": 0.08,
    "timeout": 0.04,
    "webhook_duplicate": 0.3,
    "webhook_out_of_order": 0.3,
}
CHANNEL_FAULTS = {"http_5xx": 0.05, "http_429": 0.05, "timeout": 0.03}
STEP = timedelta(days=4)  # the world's clock per step; the longest journey is about 34 days
STEPS = 10
# The 17TRACK main status a journey ends with → the shipment's tracking status and sub-status.
EXPECTED = {
    "Delivered": (TrackingStatus.DELIVERED, SubStatus.DELIVERED),
    "AvailableForPickup": (TrackingStatus.AVAILABLE_FOR_PICKUP, SubStatus.PICKUP),
    "DeliveryFailure": (TrackingStatus.DELIVERY_FAILURE, SubStatus.FAILED),
    "Exception": (TrackingStatus.EXCEPTION, SubStatus.FAILED),
    "Expired": (TrackingStatus.EXPIRED, SubStatus.EXPIRED),
}
PENDING_PUSHES = SandboxDelivery.objects.filter(state="pending", account__name=SIM_ACCOUNT)  # 17TRACK's
STOPPED = RegistrationState.STOPPED
ACTIVE_PUSH = (PushState.PENDING, PushState.PUSHING, PushState.RETRYING)
BEAT = (
    "tracking.register_due",
    "tracking.poll_due",
    "tracking.requeue_tracking_messages",
    "channels_sync.fulfillment_pushes_due",
)


@pytest.fixture
def track17(control: Control, live_server: Any, settings: Any) -> dict[str, Any]:
    """The sandbox's 17TRACK account as our provider, pushing to our webhook on the live server."""
    account: dict[str, Any] = control.account("17track", SIM_ACCOUNT)
    settings.TRACK17_API_URL = account["base_url"]
    settings.TRACK17_API_KEY = account["credentials"]["token"]
    settings.SITE_URL = live_server.url
    control.webhook("17track", SIM_ACCOUNT, f"{live_server.url}/webhooks/17track/")
    return account


@pytest.fixture
def workers(track17: dict[str, Any], live_server: Any, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Two worker processes of ``POOL`` pool processes each on the tracking and push queues (torn down
    before the live server and the database). A call gives up after 1 s (the sandbox's timeout
    fault stalls 3 s, then acts), a whole call after 3 s; no retry waits inside a task."""
    env = {
        "SITE_URL": live_server.url,
        "TRACK17_API_URL": track17["base_url"],
        "TRACK17_API_KEY": track17["credentials"]["token"],
        "TRACK17_CALLS_PER_SECOND": "0",
        "SYNC_PROVIDER_TIMEOUT": "1",
        "OUTBOUND_CALL_DEADLINE": "3",
        "OUTBOUND_MAX_INLINE_WAIT": "0.5",
    }
    with worker_processes(2, queues=["tracking", "push"], concurrency=POOL, env=env, log_dir=tmp_path) as running:
        yield running


def _orders(control: Control) -> tuple[Account, list[Order]]:
    """N paid orders spread over the three sandbox channels, pulled into our database, each with a
    paid supplier order (the parcel's origin)."""
    account = Account.objects.create(name="Chaos tracking merchant")
    orders: list[Order] = []
    for index, channel in enumerate(CHANNELS):
        shop = f"chaos-track-{channel}"
        store = connect(control, account, channel, shop)
        count = N // len(CHANNELS) + (1 if index < N % len(CHANNELS) else 0)
        for start in range(0, count, 50):
            control.create_orders(channel, shop, count=min(50, count - start), seed=100 + index * 1000 + start)
        result = store_pull(store_id=store.pk)
        assert not result.error, result.error
        pulled = list(Order.objects.filter(store=store).prefetch_related("lines").order_by("pk"))
        assert len(pulled) == count, (channel, len(pulled), count)
        orders += pulled
    SupplierOrder.objects.bulk_create(
        SupplierOrder(
            account=account,
            order=order,
            provider=SupplierProvider.ALIEXPRESS,
            state=SupplierOrderState.PAID,
            idempotency_key=f"chaos-track-{order.pk}",
            external_order_id=str(8_200_000_000_000 + order.pk),
            paid_at=timezone.now(),
        )
        for order in orders
    )
    return account, orders


def _parcels(orders: list[Order]) -> dict[int, tuple[str, str]]:
    """A YunExpress parcel per order in the simulated world, its fate planned; order id → (number,
    the 17TRACK main status its journey ends with)."""
    carrier = carriers.CARRIERS["yunexpress"]
    rng = random.Random(11)
    start = sim_now()
    planned: dict[int, tuple[str, str]] = {}
    parcels: list[Parcel] = []
    for index, order in enumerate(orders):
        number = carriers.tracking_number_draw(carrier, rng)
        fate = f"{FATES[index % len(FATES)]}@US"
        steps = carriers.itinerary(number, fate, start, carrier.key)
        assert steps[-1].at < start + STEP * (STEPS - 1), (fate, steps[-1])
        planned[order.pk] = (number, steps[-1].status)
        parcels.append(
            Parcel(
                number=number,
                carrier_code=carrier.key,
                carrier_name=carrier.name,
                fate=fate,
                created_at=start,
                updated_at=start,
            )
        )
    Parcel.objects.bulk_create(parcels)
    return planned


def _hand_over(orders: list[Order], planned: dict[int, tuple[str, str]]) -> None:
    """The supplier sync's hand-over (contract 1), one task per parcel, by name."""
    supplier_order_of = dict(SupplierOrder.objects.filter(order__in=orders).values_list("order_id", "pk"))
    for order in orders:
        current_app.send_task(
            "tracking.shipment_handover",
            args=(supplier_order_of[order.pk],),
            kwargs={
                "order_id": order.pk,
                "account_id": order.account_id,
                "tracking_number": planned[order.pk][0],
                "carrier": "YunExpress",
                "lines": [{"order_line_id": line.pk, "quantity": line.quantity} for line in order.lines.all()],
            },
        )


def _beat() -> None:
    for name in BEAT:
        current_app.send_task(name)


def _our_clock_passes(hours: float, *, holds: bool = False) -> None:
    """Our due times come ``hours`` nearer (see the module docstring). With ``holds``, a hold taken
    more than 30 s ago (a worker's call takes 3 s at most: its worker died) has run out."""
    now = timezone.now()
    shift = timedelta(hours=hours)
    Shipment.objects.filter(next_poll_at__isnull=False).update(next_poll_at=F("next_poll_at") - shift)
    FulfillmentPush.objects.filter(state=PushState.RETRYING).update(next_attempt_at=F("next_attempt_at") - shift)
    if holds:
        stale = now + HOLD - timedelta(seconds=30)
        Shipment.objects.filter(poll_claimed_until__lt=stale).update(poll_claimed_until=now - timedelta(seconds=1))
        held = now + CLAIM_FOR - timedelta(seconds=30)
        FulfillmentPush.objects.filter(state=PushState.PUSHING, claimed_until__lt=held).update(
            claimed_until=now - timedelta(seconds=1), next_attempt_at=now - timedelta(seconds=1)
        )


def _deliver_webhooks(seconds: float) -> None:
    """The sandbox's delivery job for at least ``seconds`` (held-back pushes come due 2 s later),
    then until none is pending (or twice that long). The channels' own order webhooks (created,
    paid, updated: the pull took those orders) are not this test's subject: dropped unsent."""
    started = time.monotonic()
    SandboxDelivery.objects.filter(state="pending").exclude(account__name=SIM_ACCOUNT).delete()
    while (elapsed := time.monotonic() - started) < seconds or (elapsed < 2 * seconds and PENDING_PUSHES.exists()):
        if not deliveries_send_due(limit=500):
            time.sleep(0.3)


def _ended() -> Any:
    """The numbers whose parcel reached a state 17TRACK reports nothing more after (the sandbox's
    record): Delivered, Expired, returned or lost."""
    return Parcel.objects.filter(
        Q(status__in=("Delivered", "Expired")) | Q(sub_status__in=("Exception_Returned", "Exception_Lost"))
    ).values("number")


def _settled(planned: dict[int, tuple[str, str]]) -> bool:
    if PENDING_PUSHES.exists():
        return False
    if TrackingMessage.objects.filter(state=TrackingMessageState.PENDING).exists():
        return False
    if FulfillmentPush.objects.filter(state__in=ACTIVE_PUSH).exists():
        return False
    if FulfillmentPush.objects.count() < len(planned):
        return False
    if Shipment.objects.filter(tracking_number__in=_ended()).exclude(registration_state=STOPPED).exists():
        return False
    rows = Shipment.objects.values_list("order_id", "tracking_status", "registration_state")
    if len(rows) < len(planned):
        return False
    for order_id, status, state in rows:
        wanted = EXPECTED[planned[order_id][1]][0]
        if status != wanted or state == RegistrationState.PENDING:
            return False
    return True


def test_every_parcel_ends_in_its_sub_status_and_every_order_is_fulfilled_once(
    control: Control, workers: list[WorkerProcess]
) -> None:
    started = time.monotonic()
    control.clock(seed=13)
    account, orders = _orders(control)
    planned = _parcels(orders)
    setup = time.monotonic() - started
    control.faults({"17track": TRACK17_FAULTS, **dict.fromkeys(CHANNELS, CHANNEL_FAULTS)})
    _hand_over(orders, planned)
    assert wait_for(lambda: Shipment.objects.count() >= N // 2, timeout=60 + N)  # the rest come on the way

    # the world moves on in steps; beat's sweeps run; a pool process is killed half-way
    victim: list[int] = []
    for step in range(STEPS):
        for half in (0, 1):  # two ticks at once: a parcel's two pushes, the older one maybe held back
            control.clock(advance_seconds=STEP.total_seconds() / 2)
            carriers.tick(now=sim_now(), rng=random.Random(f"{step}:{half}"))
        _beat()
        if step == STEPS // 2:  # while the step's pushes are being processed
            deliveries_send_due(limit=500)
            victim.append(workers[0].kill_one())
            assert wait_for(lambda: not Path(f"/proc/{victim[0]}").exists(), timeout=10)
        _deliver_webhooks(2.5)
        _our_clock_passes(12)

    # then the faults stop and beat's sweeps run until nothing is left to do
    control.faults({"17track": {}, **dict.fromkeys(CHANNELS, {})})
    deadline = time.monotonic() + 240 + N
    while not _settled(planned):
        assert time.monotonic() < deadline, _stuck(planned)
        tracking_messages_requeue(older_than=timedelta(seconds=10))
        _beat()
        _deliver_webhooks(2)
        _our_clock_passes(12, holds=True)

    # every shipment in the sub-status its fate implies, stopped at 17TRACK when terminal
    shipments = {row.order_id: row for row in Shipment.objects.all()}
    assert len(shipments) == N
    fates: Counter[str] = Counter()
    for order_id, (number, last) in planned.items():
        row = shipments[order_id]
        assert row.tracking_number == number
        assert (row.tracking_status, row.sub_status) == EXPECTED[last], (order_id, number, last, row.provider_status)
        fates[last] += 1
    ended = Shipment.objects.filter(tracking_number__in=_ended())
    assert set(ended.values_list("registration_state", flat=True)) == {STOPPED}
    still = Shipment.objects.exclude(pk__in=ended.values("pk"))  # pickup, a delivery failure, damaged
    assert set(still.values_list("registration_state", flat=True)) <= {RegistrationState.REGISTERED}
    # and every order in Shipment with its parcel's sub-status; every tab count exact
    statuses = dict(Order.objects.filter(account=account).values_list("pk", "sub_status"))
    assert set(Order.objects.filter(account=account).values_list("status", flat=True)) == {OrderStatus.SHIPMENT}
    assert {pk: statuses[pk] for pk in planned} == {pk: EXPECTED[last][1] for pk, (_n, last) in planned.items()}
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)

    # every channel order fulfilled exactly once, with the parcel's number and all its units
    pushes = Counter(FulfillmentPush.objects.values_list("state", flat=True))
    assert set(pushes) <= {PushState.PUSHED, PushState.ALREADY_FULFILLED}, pushes
    assert FulfillmentPush.objects.count() == N
    made = Counter(
        SimFulfillment.objects.filter(order__account__name__startswith="chaos-track-").values_list(
            "order__account__provider", "order__external_id", "tracking_number"
        )
    )
    by_order = {(order.channel, order.channel_order_id): order for order in orders}
    assert [key for key, times in made.items() if times > 1] == []
    assert len(made) == N
    for (channel, external_id, number), _times in made.items():
        order = by_order[(channel, external_id)]
        assert number == planned[order.pk][0]
        wanted = {line.channel_line_id: line.quantity for line in order.lines.all()}
        fulfilled = units_fulfilled(order, number)
        if channel == "tiktok":  # its line items are units (a package is shipped whole)
            assert sum(fulfilled.values()) == sum(wanted.values()), (channel, external_id)
        else:
            assert fulfilled == wanted, (channel, external_id)

    # no webhook message pending or failed, no event twice
    messages = Counter(TrackingMessage.objects.values_list("state", flat=True))
    assert set(messages) == {TrackingMessageState.PROCESSED}, messages  # each for a parcel we follow
    twice = TrackingEvent.objects.values("shipment_id", "occurred_at", "description_hash").annotate(n=Count("id"))
    assert list(twice.filter(n__gt=1)[:5]) == []
    deliveries = SandboxDelivery.objects.filter(account__name=SIM_ACCOUNT)
    assert not deliveries.exclude(state="delivered").exists()

    # the killed process was replaced and the workers kept going
    assert len(workers[0].pool()) == POOL
    log = workers[0].log.read_text()
    assert "signal 9 (SIGKILL)" in log
    polled = Shipment.objects.exclude(last_polled_at=None).count()
    lost = "mid-task: its task was redelivered" if "WorkerLostError" in log else "between tasks"
    print(  # noqa: T201 - the run's numbers, for docs
        f"chaos tracking: {N} parcels (ends {dict(fates)}) over {', '.join(CHANNELS)} in "
        f"{time.monotonic() - started:.1f}s (setup {setup:.1f}s); {deliveries.count()} webhook deliveries, "
        f"{sum(messages.values())} messages {dict(messages)}; {TrackingEvent.objects.count()} events; "
        f"{polled} shipments polled at least once; "
        f"pushes {dict(pushes)} after {sum(FulfillmentPush.objects.values_list('attempts', flat=True))} tries; "
        f"killed pool process {victim[0]} ({lost})"
    )


def _stuck(planned: dict[int, tuple[str, str]]) -> str:
    wrong = [
        (row.order_id, row.tracking_status, row.registration_state, row.registration_error, planned[row.order_id][1])
        for row in Shipment.objects.all()
        if row.tracking_status != EXPECTED[planned[row.order_id][1]][0]
        or row.registration_state == RegistrationState.PENDING
    ]
    pushes = list(
        FulfillmentPush.objects.filter(state__in=ACTIVE_PUSH).values_list("pk", "state", "attempts", "last_error")
    )
    messages = TrackingMessage.objects.filter(state=TrackingMessageState.PENDING).count()
    deliveries = PENDING_PUSHES.count()
    return (
        f"not settled: shipments {len(wrong)} {wrong[:8]}; pushes {len(pushes)} {pushes[:8]}; "
        f"pending messages {messages}; pending deliveries {deliveries}; pushes {FulfillmentPush.objects.count()}"
    )
