"""The push runner's hold, against the sandbox channels over real HTTP: one parcel of an order at a
time, a push that keeps stopping ends FAILED, the sweep's lease, the hold checked before each
write, a late real result wins, more lines for a parcel, another number for a shipment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from channels_sync.enums import PushState
from channels_sync.models import FulfillmentPush
from channels_sync.services import push as push_services
from channels_sync.services.push import (
    MAX_PUSH_ATTEMPTS,
    PUSHERS,
    _backoff,
    fulfillment_push_request,
    fulfillment_push_retry,
    fulfillment_push_run,
    fulfillment_pushes_due,
)
from channels_sync.tasks import fulfillment_push_run as run_task
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent
from sandbox.models import ChannelOrder as SimOrder
from sandbox.models import Fulfillment as SimFulfillment

from .conftest import LIVE_DB
from .push_helpers import CHANNELS, connect, made, multi_line_order, new_order, units_fulfilled

pytestmark = LIVE_DB


@pytest.fixture(autouse=True)
def _no_inline_waits(settings: Any) -> None:
    settings.OUTBOUND_MAX_INLINE_WAIT = 0


def request(order: Order, number: str, *, shipment_id: int = 1, lines: Any = ()) -> FulfillmentPush:
    return fulfillment_push_request(
        order_id=order.pk,
        shipment_id=shipment_id,
        tracking_number=number,
        carrier="Yun Express",
        lines=[{"order_line_id": line.pk, "quantity": line.quantity} for line in lines],
        tracking_url=f"https://zopi.example/t/{number}/",
    )


def waiting(order: Order, number: str, *, shipment_id: int, lines: Any = (), **fields: Any) -> FulfillmentPush:
    """A push row as the outbox keeps it, not run yet."""
    values: dict[str, Any] = {"state": PushState.PENDING, "next_attempt_at": timezone.now(), **fields}
    return FulfillmentPush.objects.create(
        account_id=order.account_id,
        store_id=order.store_id,
        order=order,
        shipment_id=shipment_id,
        tracking_number=number,
        carrier="Yun Express",
        lines=[{"order_line_id": line.pk, "quantity": line.quantity} for line in lines],
        **values,
    )


def codes(order: Order) -> list[str]:
    events = OrderEvent.objects.filter(order=order, type=OrderEventType.NOTE).order_by("id")
    return [str(event.parameters.get("code")) for event in events]


@pytest.fixture
def wrapped_pusher() -> Iterator[Callable[[str, Callable[..., Any]], None]]:
    """A seam: the channel's pusher called through ``around(real, *args, **kwargs)`` for one test
    (the real pusher still talks to the sandbox); something another worker does happens there."""
    saved = dict(PUSHERS)

    def wrap(channel: str, around: Callable[..., Any]) -> None:
        real = saved[channel]
        PUSHERS[channel] = lambda *args, **kwargs: around(real, *args, **kwargs)

    yield wrap
    PUSHERS.clear()
    PUSHERS.update(saved)


def test_a_second_parcel_of_the_order_waits_while_the_first_is_held(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "woocommerce", "pc-busy")
    order = multi_line_order(control, store, "pc-busy")
    first, *rest = list(order.lines.order_by("id"))
    held = timezone.now() + timedelta(minutes=4)
    running = waiting(order, "BUSY00000001", shipment_id=1, lines=[first], state=PushState.PUSHING, claimed_until=held)
    other = waiting(order, "BUSY00000002", shipment_id=2, lines=rest)

    said = fulfillment_push_run(push_id=other.pk)

    other.refresh_from_db()
    assert said == "order busy"
    assert (other.state, other.attempts) == (PushState.PENDING, 0)  # no attempt counted
    assert other.next_attempt_at is not None
    assert timedelta(seconds=20) < other.next_attempt_at - timezone.now() <= timedelta(seconds=31)
    assert made(order) == []
    FulfillmentPush.objects.filter(pk=running.pk).update(state=PushState.PUSHED, claimed_until=None)
    FulfillmentPush.objects.filter(pk=other.pk).update(next_attempt_at=timezone.now())
    assert fulfillment_push_run(push_id=other.pk) == PushState.PUSHED


def test_a_push_that_keeps_stopping_mid_way_ends_failed(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pc-spent")
    order = new_order(control, store, "pc-spent", seed=31)
    gone = timezone.now() - timedelta(seconds=1)
    push = waiting(
        order,
        "SPENT0000001",
        shipment_id=1,
        state=PushState.PUSHING,
        claimed_until=gone,
        next_attempt_at=gone,
        attempts=MAX_PUSH_ATTEMPTS,
    )

    said = fulfillment_push_run(push_id=push.pk)

    push.refresh_from_db()
    assert said.startswith("failed")
    assert (push.state, push.error_code, push.attempts, push.next_attempt_at) == (
        PushState.FAILED,
        "kept_stopping",
        MAX_PUSH_ATTEMPTS,
        None,
    )
    assert "kept stopping mid-way" in push.last_error
    assert codes(order) == ["fulfillment_push_failed"]
    assert made(order) == []
    assert fulfillment_pushes_due() == []


def test_backoff_ignores_a_wait_that_is_not_a_number() -> None:
    assert _backoff(1, float("nan")) == 60
    assert _backoff(2, float("inf")) == 120
    assert _backoff(1, -5) == 60
    assert _backoff(40, None) == 3600


def test_the_sweep_leases_what_it_sends(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pc-lease")
    order = new_order(control, store, "pc-lease", seed=32)
    push = waiting(order, "LEASE0000001", shipment_id=1)
    lease = timezone.now() + push_services.SWEEP_LEASE

    first = fulfillment_pushes_due(lease=lease)
    second = fulfillment_pushes_due()

    assert (first, second) == ([push.pk], [])  # queued once, not every minute
    assert fulfillment_push_run(push_id=push.pk) == "not due"  # a stray run without the lease
    assert run_task(push.pk, lease.isoformat()) == PushState.PUSHED
    assert made(order) == [("LEASE0000001", "YunExpress")]


def test_the_run_task_checks_its_push_id() -> None:
    assert run_task("12; drop").startswith("dropped")
    assert run_task(True).startswith("dropped")
    assert run_task(10**12, lease="not a time") == "missing"


@pytest.mark.parametrize("channel", CHANNELS)
def test_nothing_is_written_once_another_worker_has_the_push(
    control: Any, site_url: str, account: Any, channel: str, wrapped_pusher: Any
) -> None:
    store = connect(control, account, channel, f"pc-lost-{channel}")
    order = new_order(control, store, f"pc-lost-{channel}", seed=33)
    push = waiting(order, "LOSTHOLD0001", shipment_id=1)

    def slow(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # the channel answered slowly; the hold ran out and worker B took the push meanwhile
        later = timezone.now() + timedelta(minutes=5)
        FulfillmentPush.objects.filter(pk=push.pk).update(claimed_until=later, next_attempt_at=later)
        return real(*args, **kwargs)

    wrapped_pusher(channel, slow)

    said = fulfillment_push_run(push_id=push.pk)

    assert said == "claim lost"
    assert made(order) == []  # worker B, reading first, sends it once


def test_a_late_real_result_wins_over_already_fulfilled(
    control: Any, site_url: str, account: Any, wrapped_pusher: Any
) -> None:
    store = connect(control, account, "shopify", "pc-late")
    order = new_order(control, store, "pc-late", seed=34)
    push = waiting(order, "LATE00000001", shipment_id=1)

    def raced(real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        # the hold ran out as the answer came: worker B found the fulfillment and recorded that
        FulfillmentPush.objects.filter(pk=push.pk).update(
            state=PushState.ALREADY_FULFILLED, claimed_until=None, next_attempt_at=None
        )
        return result

    wrapped_pusher("shopify", raced)

    said = fulfillment_push_run(push_id=push.pk)

    push.refresh_from_db()
    assert said == PushState.PUSHED
    assert push.state == PushState.PUSHED
    assert push.external_id
    assert push.pushed_at is not None
    assert codes(order) == ["fulfillment_pushed"]
    assert made(order) == [("LATE00000001", "YunExpress")]


@pytest.mark.parametrize("channel", CHANNELS)
def test_more_lines_for_a_parcel_are_pushed_once_more(control: Any, site_url: str, account: Any, channel: str) -> None:
    store = connect(control, account, channel, f"pc-more-{channel}")
    order = multi_line_order(control, store, f"pc-more-{channel}")
    lines = list(order.lines.order_by("id"))
    push = request(order, "COMBO0000001", lines=lines[:1])
    assert push.state == PushState.PUSHED, push.last_error

    again = request(order, "COMBO0000001", lines=lines)
    same = request(order, "COMBO0000001", lines=lines)

    assert again.pk == push.pk
    assert again.state in (PushState.PUSHED, PushState.ALREADY_FULFILLED), again.last_error
    assert again.lines == [{"order_line_id": line.pk, "quantity": line.quantity} for line in lines]
    assert same.state == again.state
    everything = sum(line.quantity for line in lines)
    assert sum(units_fulfilled_all(order, "COMBO0000001").values()) == everything
    assert codes(order) == ["fulfillment_pushed", "fulfillment_push_lines_added", "fulfillment_pushed"]


def units_fulfilled_all(order: Order, number: str) -> dict[str, int]:
    """Every unit fulfilled under ``number`` (Shopify may hold two fulfillments with it)."""
    if order.channel != "shopify":
        return units_fulfilled(order, number)
    total: dict[str, int] = {}
    for row in SimFulfillment.objects.filter(order__external_id=order.channel_order_id, tracking_number=number):
        for key, value in row.payload["quantities"].items():
            total[str(key)] = total.get(str(key), 0) + int(value)
    return total


def test_another_number_for_a_shipment_is_logged_and_not_pushed(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pc-renum")
    order = new_order(control, store, "pc-renum", seed=35)
    push = request(order, "FIRST0000001")

    again = request(order, "SECOND000001")

    assert (again.pk, again.tracking_number, again.state) == (push.pk, "FIRST0000001", PushState.PUSHED)
    assert codes(order) == ["fulfillment_pushed", "fulfillment_push_number_changed"]
    assert made(order) == [("FIRST0000001", "YunExpress")]


def test_retry_clears_the_old_error(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pc-retry")
    order = new_order(control, store, "pc-retry", seed=36)
    push = waiting(order, "RETRY0000001", shipment_id=1, state=PushState.FAILED, error_code="x", last_error="bad")

    fulfillment_push_retry(account=order.account, push_id=push.pk, actor=None)

    push.refresh_from_db()
    assert (push.state, push.error_code, push.last_error) == (PushState.PENDING, "", "")


def test_two_parcels_of_one_order_run_at_once_both_land(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "woocommerce", "pc-race")
    order = multi_line_order(control, store, "pc-race")
    first, *rest = list(order.lines.order_by("id"))
    pushes = [
        waiting(order, "RACE00000001", shipment_id=1, lines=[first]),
        waiting(order, "RACE00000002", shipment_id=2, lines=rest),
    ]
    start = threading.Barrier(2)

    def run(push: FulfillmentPush) -> str:
        try:
            start.wait(timeout=10)
            return fulfillment_push_run(push_id=push.pk)
        finally:
            connection.close()  # the thread's own connection

    with ThreadPoolExecutor(max_workers=2) as pool:
        said = list(pool.map(run, pushes))
    for push in pushes:  # the one refused runs when the sweep sends it again
        if FulfillmentPush.objects.filter(pk=push.pk, state=PushState.PENDING).update(next_attempt_at=timezone.now()):
            assert fulfillment_push_run(push_id=push.pk) == PushState.PUSHED

    assert set(said) <= {PushState.PUSHED, "order busy"}
    assert [p.state for p in FulfillmentPush.objects.filter(order=order).order_by("shipment_id")] == [
        PushState.PUSHED,
        PushState.PUSHED,
    ]
    sim = SimOrder.objects.get(external_id=order.channel_order_id, account__provider="woocommerce")
    meta = {item["key"]: item["value"] for item in sim.extra["meta_data"]}
    assert sorted(meta["_zopi_parcels"]) == ["RACE00000001", "RACE00000002"]
    assert sim.status == "completed"
