"""The fulfillment push-back runner against the sandbox channels over real HTTP: a hand-over pushed,
a partial parcel, a parcel fulfilled by hand, 5xx then the sweep, a worker killed mid-push, the same
hand-over twice, a disconnected store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_sync.enums import PushState, StoreStatus
from channels_sync.fulfillment import FulfillmentRequest
from channels_sync.models import FulfillmentPush, ProviderAttempt, Store
from channels_sync.providers.base import provider_for
from channels_sync.providers.shopify.fulfillment import push_fulfillment as shopify_push
from channels_sync.providers.tiktok.fulfillment import push_fulfillment as tiktok_push
from channels_sync.providers.woocommerce.fulfillment import push_fulfillment as woocommerce_push
from channels_sync.services.push import (
    MAX_PUSH_ATTEMPTS,
    _backoff,
    fulfillment_push_request,
    fulfillment_push_run,
    fulfillment_pushes_due,
)
from channels_sync.tasks import fulfillment_pushes_due as sweep_task
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent
from tests import factories

from .conftest import LIVE_DB
from .push_helpers import CHANNELS, connect, made, multi_line_order, new_order, units_fulfilled

pytestmark = LIVE_DB

CARRIER_SENT = {"shopify": "YunExpress", "woocommerce": "YunExpress", "tiktok": "YunExpress"}
PUSHERS = {"shopify": shopify_push, "woocommerce": woocommerce_push, "tiktok": tiktok_push}


@pytest.fixture(autouse=True)
def _no_inline_waits(settings: Any) -> None:
    """A 5xx is not retried inside the call (no sleep in a worker): the push itself goes RETRYING."""
    settings.OUTBOUND_MAX_INLINE_WAIT = 0


def request(order: Order, number: str, *, shipment_id: int = 1, lines: Any = (), carrier: str = "Yun Express") -> Any:
    return fulfillment_push_request(
        order_id=order.pk,
        shipment_id=shipment_id,
        tracking_number=number,
        carrier=carrier,
        lines=[{"order_line_id": line.pk, "quantity": line.quantity} for line in lines],
        tracking_url=f"https://zopi.example/t/{number}/",
    )


def statements(queries: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in queries.captured_queries
        if query["sql"].startswith(("SELECT", "INSERT", "UPDATE", "DELETE")) and "providerattempt" not in query["sql"]
    )


def notes(order: Order) -> list[str]:
    return [
        str(event.parameters.get("code"))
        for event in OrderEvent.objects.filter(order=order, type=OrderEventType.NOTE).order_by("id")
    ]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_handover_is_pushed_with_the_number_and_carrier(
    control: Any, site_url: str, account: Any, channel: str
) -> None:
    store = connect(control, account, channel, f"pp-{channel}")
    order = new_order(control, store, f"pp-{channel}", seed=11)

    push = request(order, "YT2412345678901")

    assert push.state == PushState.PUSHED, push.last_error
    assert (push.carrier_sent, push.attempts, push.claimed_until, push.next_attempt_at) == (
        CARRIER_SENT[channel],
        1,
        None,
        None,
    )
    assert push.external_id
    assert push.pushed_at is not None
    assert made(order) == [("YT2412345678901", "YunExpress")]
    everything = sum(line.quantity for line in order.lines.all())
    assert sum(units_fulfilled(order, "YT2412345678901").values()) == everything
    assert notes(order) == ["fulfillment_pushed"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_partial_parcel_fulfils_only_its_lines(control: Any, site_url: str, account: Any, channel: str) -> None:
    store = connect(control, account, channel, f"pl-{channel}")
    order = multi_line_order(control, store, f"pl-{channel}")
    first, *rest = list(order.lines.order_by("id"))

    with CaptureQueriesContext(connection) as one_line:
        push = request(order, "LP00111222333CN", lines=[first], carrier="4PX")

    assert push.state == PushState.PUSHED, push.last_error
    assert push.lines == [{"order_line_id": first.pk, "quantity": first.quantity}]
    fulfilled = units_fulfilled(order, "LP00111222333CN")
    if channel == "tiktok":  # a package is shipped whole: its units, one per line item
        assert sum(fulfilled.values()) == first.quantity
    else:
        assert fulfilled == {first.channel_line_id: first.quantity}
    assert made(order) == [("LP00111222333CN", "4PX")]
    with CaptureQueriesContext(connection) as more_lines:
        other = request(order, "LP00444555666CN", shipment_id=2, lines=rest, carrier="4PX")
    # our own statements (the provider attempts logged per HTTP call aside): as many for one line as for
    # the rest; the claim (order lock, spent check, take) and a hold check before each write included
    assert statements(one_line) == statements(more_lines) <= 20
    assert other.state == PushState.PUSHED, other.last_error
    assert [number for number, _ in made(order)] == ["LP00111222333CN", "LP00444555666CN"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_parcel_fulfilled_by_hand_is_recorded_not_sent(
    control: Any, site_url: str, account: Any, channel: str
) -> None:
    store = connect(control, account, channel, f"ph-{channel}")
    order = new_order(control, store, f"ph-{channel}", seed=13)
    shop = control.account(channel, f"ph-{channel}")
    by_hand = provider_for(channel, base_url=shop["base_url"], credentials=shop["credentials"])
    PUSHERS[channel](by_hand, FulfillmentRequest(order.channel_order_id, "BYHAND0001", "USPS"))  # the merchant
    before = made(order)

    push = request(order, "OURS12345678")

    assert push.state == PushState.ALREADY_FULFILLED
    assert push.detail
    assert push.external_id == ""
    assert made(order) == before
    assert "OURS12345678" not in [number for number, _ in made(order)]


@pytest.mark.parametrize(
    ("channel", "fault"),
    [("shopify", "http_5xx"), ("woocommerce", "http_5xx"), ("tiktok", "http_5xx"), ("woocommerce", "http_429")],
)
def test_a_5xx_is_retried_then_pushed_by_the_sweep(
    control: Any, site_url: str, account: Any, channel: str, fault: str
) -> None:
    store = connect(control, account, channel, f"pf-{channel}")
    order = new_order(control, store, f"pf-{channel}", seed=14)
    control.faults({channel: {fault: 1.0}})

    push = request(order, "FAULT0000001")
    control.faults({channel: {}})

    assert push.state == PushState.RETRYING
    assert (push.attempts, push.error_code) == (1, "retryable")
    assert push.last_error
    assert push.next_attempt_at is not None
    assert push.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert made(order) == []
    assert fulfillment_pushes_due() == []  # not due yet
    FulfillmentPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    assert sweep_task() == 1  # eager: the run task ran

    push.refresh_from_db()
    assert (push.state, push.attempts, push.last_error) == (PushState.PUSHED, 2, "")
    assert made(order) == [("FAULT0000001", "YunExpress")]


def test_retries_run_out_into_failed(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pr-out")
    order = new_order(control, store, "pr-out", seed=15)
    control.faults({"shopify": {"http_5xx": 1.0}})
    push = request(order, "FAULT0000002")
    waits = []
    for _ in range(MAX_PUSH_ATTEMPTS - 1):
        push.refresh_from_db()
        waits.append(push.next_attempt_at - push.updated_at)
        FulfillmentPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
        fulfillment_push_run(push_id=push.pk)
    control.faults({"shopify": {}})

    push.refresh_from_db()
    assert (push.state, push.attempts, push.error_code) == (PushState.FAILED, MAX_PUSH_ATTEMPTS, "retries_exhausted")
    assert "tried 8 times" in push.last_error
    assert [round(wait.total_seconds() / 60) for wait in waits] == [1, 2, 4, 8, 16, 32, 60]
    assert notes(order) == ["fulfillment_push_failed"]
    assert made(order) == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_worker_killed_mid_push_is_taken_again_and_fulfils_once(
    control: Any, site_url: str, account: Any, channel: str
) -> None:
    store = connect(control, account, channel, f"pk-{channel}")
    order = new_order(control, store, f"pk-{channel}", seed=16)
    control.faults({channel: {"http_5xx": 1.0}})
    push = request(order, "KILLED000001")  # stored, RETRYING
    control.faults({channel: {}})
    # What a worker killed after the channel's write leaves: the channel has the parcel, the row is
    # PUSHING with a hold that ran out (its claim set next_attempt_at to the hold).
    shop = control.account(channel, f"pk-{channel}")
    dead = provider_for(channel, base_url=shop["base_url"], credentials=shop["credentials"])
    PUSHERS[channel](dead, FulfillmentRequest(order.channel_order_id, "KILLED000001", "Yun Express"))
    gone = timezone.now() - timedelta(seconds=1)
    FulfillmentPush.objects.filter(pk=push.pk).update(
        state=PushState.PUSHING, claimed_until=gone, next_attempt_at=gone, attempts=2
    )
    # a run while it is held does nothing
    held = timezone.now() + timedelta(minutes=3)
    FulfillmentPush.objects.filter(pk=push.pk).update(claimed_until=held, next_attempt_at=held)
    assert fulfillment_push_run(push_id=push.pk) == "not due"
    assert fulfillment_pushes_due() == []
    FulfillmentPush.objects.filter(pk=push.pk).update(claimed_until=gone, next_attempt_at=gone)

    assert sweep_task() == 1  # its run carries the sweep's lease
    assert fulfillment_pushes_due() == []

    push.refresh_from_db()
    assert push.state in (PushState.ALREADY_FULFILLED, PushState.PUSHED)
    assert (push.attempts, push.claimed_until) == (3, None)
    assert made(order) == [("KILLED000001", "YunExpress")]  # exactly once


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_same_handover_twice_is_one_row_and_one_fulfillment(
    control: Any, site_url: str, account: Any, channel: str
) -> None:
    store = connect(control, account, channel, f"pt-{channel}")
    order = new_order(control, store, f"pt-{channel}", seed=17)
    first = request(order, "TWICE0000001", shipment_id=7)
    calls = ProviderAttempt.objects.filter(store=store).count()

    with CaptureQueriesContext(connection) as queries:
        again = request(order, "TWICE0000001", shipment_id=7)

    assert (again.pk, again.state, again.attempts) == (first.pk, PushState.PUSHED, 1)
    assert FulfillmentPush.objects.filter(order=order).count() == 1
    assert made(order) == [("TWICE0000001", "YunExpress")]
    assert len(queries) <= 4  # checks and the get: nothing runs, the channel is not called
    assert ProviderAttempt.objects.filter(store=store).count() == calls


def test_a_disconnected_store_fails_with_the_reason(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pd-shop")
    order = new_order(control, store, "pd-shop", seed=18)
    Store.objects.filter(pk=store.pk).update(status=StoreStatus.DISCONNECTED)

    push = request(order, "DISC00000001")

    assert (push.state, push.error_code) == (PushState.FAILED, "store_unusable")
    assert push.last_error == "The store pd-shop is disconnected: connect it again, then retry"
    assert made(order) == []
    event = OrderEvent.objects.get(order=order, type=OrderEventType.NOTE)
    assert event.parameters["push_id"] == push.pk
    assert "disconnected" in event.parameters["text"]


def test_refused_credentials_fail_asking_to_reconnect(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "pu-shop")
    order = new_order(control, store, "pu-shop", seed=19)
    store.credentials = {**store.credentials, "access_token": "shpat_revoked_in_the_shop"}  # revoked there
    store.save(update_fields=["credentials_token"])

    push = request(order, "UNINST000001")

    assert (push.state, push.error_code) == (PushState.FAILED, "credentials")
    assert push.last_error.endswith(": reconnect the store, then retry")
    assert made(order) == []


def test_backoff_doubles_to_an_hour_and_honours_the_channels_wait() -> None:
    assert [_backoff(attempt, None) for attempt in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert _backoff(1, 299.2) == 300  # Retry-After / a full bucket, when longer
    assert _backoff(3, 10) == 240
    assert _backoff(1, 86_400) == 3600


def test_the_sweep_is_one_query_on_the_due_index(account: Any, store: Store) -> None:
    orders = [factories.OrderFactory(store=store) for _ in range(3)]
    now = timezone.now()
    rows = [
        (orders[0], PushState.RETRYING, now - timedelta(minutes=1), None),
        (orders[1], PushState.PUSHING, now - timedelta(seconds=5), now - timedelta(seconds=5)),  # a dead worker's
        (orders[2], PushState.PENDING, now + timedelta(minutes=1), None),  # not due
    ]
    made_rows = [
        FulfillmentPush.objects.create(
            account=account,
            store=store,
            order=order,
            shipment_id=1,
            tracking_number=f"N{index}",
            state=state,
            next_attempt_at=due,
            claimed_until=held,
        )
        for index, (order, state, due, held) in enumerate(rows)
    ]
    FulfillmentPush.objects.create(
        account=account, store=store, order=orders[2], shipment_id=2, tracking_number="DONE", state=PushState.PUSHED
    )

    with CaptureQueriesContext(connection) as queries:
        due = fulfillment_pushes_due()

    assert due == [made_rows[0].pk, made_rows[1].pk]
    selects = [query["sql"] for query in queries if query["sql"].startswith("SELECT")]
    assert len(selects) == 1
    assert "FOR UPDATE SKIP LOCKED" in selects[0]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + selects[0].replace(" FOR UPDATE SKIP LOCKED", ""))
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "fulfillmentpush_due_idx" in plan


def test_push_tasks_are_routed_to_the_push_queue() -> None:
    from zopi.celery import app

    for name in (
        "channels_sync.fulfillment_push_request",
        "channels_sync.fulfillment_push_run",
        "channels_sync.fulfillment_pushes_due",
    ):
        assert name in app.tasks
        assert app.amqp.router.route({}, name)["queue"].name == "push"


def test_two_handovers_at_once_make_one_row_and_one_fulfillment(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "woocommerce", "pt-race")
    order = new_order(control, store, "pt-race", seed=20)
    start = threading.Barrier(2)

    def hand_over() -> str:
        try:
            start.wait(timeout=10)
            return str(request(order, "RACE00000001", shipment_id=9).state)
        finally:
            connection.close()  # the thread's own connection

    with ThreadPoolExecutor(max_workers=2) as pool:
        states = list(pool.map(lambda _: hand_over(), range(2)))

    assert FulfillmentPush.objects.filter(order=order).count() == 1
    push = FulfillmentPush.objects.get(order=order)
    assert (push.state, push.attempts) == (PushState.PUSHED, 1)
    # one ran it; the other found the row and either saw it held ("pushing") or done
    assert PushState.PUSHED in states
    assert set(states) <= {PushState.PUSHING, PushState.PUSHED}
    assert made(order) == [("RACE00000001", "YunExpress")]
