"""Our pacing of supplier calls (``suppliers.ratelimit``) and the sandbox enforcing the limits.

The bucket lives in Redis (REDIS_URL) or in the database; both are tested for the same answers.
Against the sandbox over HTTP with its per-account limit on: paced calls are never refused, and
a call whose slot is further than the inline wait is not sent (the supplier order back to draft
with its key, the task told when to come back).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import requests
from django.db import connection
from django.test import override_settings

from integrations.errors import RateLimited
from orders.enums import SupplierOrderState
from suppliers.enums import PlacementOutcome, SupplierProvider
from suppliers.models import PlacementBatch, PlacementResult, RateSlot, SupplierOrder
from suppliers.providers.base import REGISTRY, PlaceLine, PlaceRequest, ShipTo
from suppliers.ratelimit import Rate, SupplierPacer, slot_reserve, slots_reserve, supplier_pacer_for
from suppliers.services.batches import placement_batch_create
from suppliers.services.connection import provider_for
from suppliers.services.placement import NOT_SENT, order_place
from suppliers.tests.placing import PRODUCTS, link_sku, merchant, order_to_place, source_account_connect
from tests.service_gate import redis_available, require_or_skip
from tests.workers import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE, CJ = SupplierProvider.ALIEXPRESS, SupplierProvider.CJ


def charges(control: Any, key: str) -> list[dict[str, Any]]:
    return [charge for charge in control.ledger() if charge["idempotency_key"] == key]


def test_the_database_bucket_spaces_calls_and_refuses_a_slot_too_far_without_taking_it() -> None:
    key, rate = f"test:{uuid.uuid4().hex}", Rate(per_second=10)

    waits = [slot_reserve(key, rate, max_wait=1.0, now=100.0) for _ in range(3)]

    assert waits == [(True, 0.0), (True, pytest.approx(0.1)), (True, pytest.approx(0.2))]
    # the 11th slot from now is 1.1 s away: more than the 1 s a caller may wait, and not taken
    for _ in range(7):
        slot_reserve(key, rate, max_wait=1.0, now=100.0)
    granted, wait = slot_reserve(key, rate, max_wait=0.5, now=100.0)
    assert (granted, wait) == (False, pytest.approx(1.0))
    assert RateSlot.objects.get(key=key).next_at == pytest.approx(101.0)
    # later, the bucket has refilled: no wait
    assert slot_reserve(key, rate, max_wait=1.0, now=200.0) == (True, 0.0)


def test_a_burst_lets_that_many_calls_through_at_once_then_spaces_them() -> None:
    key, rate = f"test:{uuid.uuid4().hex}", Rate(per_second=4, burst=3)

    waits = [slot_reserve(key, rate, max_wait=5.0, now=50.0)[1] for _ in range(5)]

    assert waits == [0.0, 0.0, 0.0, pytest.approx(0.25), pytest.approx(0.5)]


@pytest.mark.parametrize("store", ["database", "redis"])
def test_several_slots_reserved_at_once_are_the_ones_reserved_one_by_one(store: str, settings: Any) -> None:
    if store == "redis":
        require_or_skip(*redis_available())
    else:
        settings.REDIS_URL = ""
    key, rate = f"test:{uuid.uuid4().hex}", Rate(per_second=10)

    waits, _ = slots_reserve(key, rate, count=4, max_wait=1.0)
    more, _ = slots_reserve(key, rate, count=20, max_wait=1.0)  # only those at most 1 s away

    assert waits == [pytest.approx(0.0, abs=0.02), *(pytest.approx(0.1 * i, abs=0.02) for i in (1, 2, 3))]
    assert len(more) in (6, 7)  # 0.4 s to 1.0 s away (6: the clock moved on a little meanwhile)
    assert more[0] == pytest.approx(0.4, abs=0.05)
    refused, wait = slots_reserve(key, rate, count=3, max_wait=0.2)
    assert (refused, wait) == ([], pytest.approx(1.0, abs=0.1))  # nothing taken: the next is ~1 s away


@pytest.mark.redis
def test_a_pacer_that_reserves_ahead_sends_at_the_rate_and_gives_up_a_slot_it_came_to_late() -> None:
    require_or_skip(*redis_available())
    rate = Rate(per_second=20)
    pacer = SupplierPacer(f"test:{uuid.uuid4().hex}", {"*": rate}, shared=True, ahead=0.25)
    sent: list[float] = []
    for _ in range(10):
        granted, wait = pacer.reserve("op", max_wait=2.0)
        assert granted
        time.sleep(wait)
        sent.append(time.monotonic())
    gaps = [later - earlier for earlier, later in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= 0.05 - 0.01  # never closer than the rate's spacing
    # one slot first (the pace of the calls unknown), then five at a time (20/s × 0.25 s)
    assert pacer.round_trips <= 4
    assert 10 <= pacer.reserved <= 10 + 4

    time.sleep(0.5)  # the run comes back late to the slots it still holds: given up, new ones taken
    trips = pacer.round_trips
    granted, wait = pacer.reserve("op", max_wait=2.0)
    assert granted
    assert wait < 0.06
    assert pacer.round_trips == trips + 1


@pytest.mark.redis
def test_a_pacer_that_reserves_ahead_books_one_slot_when_its_calls_are_slower_than_the_rate() -> None:
    pacer = SupplierPacer(f"test:{uuid.uuid4().hex}", {"*": Rate(per_second=150)}, shared=True, ahead=0.25)
    for _ in range(3):
        assert pacer.reserve("op", max_wait=2.0)[0]
        time.sleep(0.3)  # a call slower than the whole look-ahead: nothing booked to be wasted
    assert (pacer.reserved, pacer.round_trips) == (3, 3)


@pytest.mark.redis
def test_the_redis_bucket_is_shared_by_concurrent_callers_and_never_above_the_rate() -> None:
    require_or_skip(*redis_available())
    key, rate = f"test:{uuid.uuid4().hex}", Rate(per_second=50)
    sent: list[float] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(10):
            granted, wait = slot_reserve(key, rate, max_wait=2.0)
            assert granted
            time.sleep(wait)
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent.sort()
    # 40 slots 20 ms apart: the last is about 0.78 s after the first, whatever the interleaving
    assert len(sent) == 40
    assert sent[-1] - sent[0] >= 39 * 0.02 - 0.05
    # a caller that may not wait at all is refused while the last slot is still ahead
    granted, wait = slot_reserve(key, Rate(per_second=0.1), max_wait=0.0)
    assert (granted, wait > 0) == (False, True)


def test_cj_is_paced_per_account_and_aliexpress_per_app_key_and_method(control: Any, settings: Any) -> None:
    settings.SUPPLIER_RATE_LIMITS = {"cj": 6.0, "aliexpress": {"aliexpress.ds.order.create": 150.0, "*": 20.0}}
    account, _store = merchant()
    cj = supplier_pacer_for(source_account_connect(control, account, CJ))
    ae = supplier_pacer_for(source_account_connect(control, account, AE))
    assert cj is not None
    assert ae is not None

    assert (cj.shared, cj.rate_of("/sandbox/cj/api2.0/v1/shopping/order/createOrderV2")) == (True, Rate(6.0))
    assert cj.rate_of("/api2.0/v1/authentication/refreshAccessToken") is None  # limited by CJ on its own
    assert (ae.scope.startswith("aliexpress:"), ae.shared) == (True, False)
    assert ae.rate_of("aliexpress.ds.order.create") == Rate(150.0)
    assert ae.rate_of("aliexpress.trade.ds.order.get") == Rate(20.0)
    settings.SUPPLIER_RATE_LIMITS = {}
    assert supplier_pacer_for(account.source_accounts.get(provider=CJ)) is None


@pytest.mark.parametrize(("provider", "status", "code"), [(CJ, 429, 1600200), (AE, 200, "ApiCallLimit")])
def test_the_sandbox_enforces_the_accounts_rate_when_its_option_says_so(
    control: Any, provider: str, status: int, code: Any
) -> None:
    account, _store = merchant()
    source = source_account_connect(control, account, provider)
    control.options(provider, source.name, rate_limit_per_second=2, rate_limit_burst=1)
    # not paced, and one attempt per call (the client would wait a refusal out and try again)
    unpaced = REGISTRY[provider](base_url=source.base_url, credentials=source.credentials, max_attempts=1)
    answers = []
    for _ in range(3):
        try:
            unpaced.get("8000000000001")
        except Exception as error:  # noqa: BLE001 - the refusal's shape is what is checked below
            answers.append(str(error))
    refused = [answer for answer in answers if "429 (1600200)" in answer or "ApiCallLimit" in answer]
    assert refused, answers
    options = control.options(provider, source.name)
    assert options["rate_limited"] >= 1
    # the raw answer, in the supplier's own shape (AliExpress: HTTP 200 with ApiCallLimit, above)
    if provider == CJ:
        raw = requests.get(
            f"{source.base_url}/shopping/order/getOrderDetail",
            params={"orderId": "x"},
            headers={"CJ-Access-Token": source.credentials["access_token"]},
            timeout=5,
        )
        assert (raw.status_code, raw.json()["code"]) == (status, code)
        assert raw.json()["message"] == "Too Many Requests, QPS limit is 2 time/1second"


@override_settings(SUPPLIER_RATE_LIMITS={"cj": 8.0}, SUPPLIER_RATE_BURST=1)
def test_paced_placements_from_several_threads_are_never_refused_by_the_enforcing_sandbox(control: Any) -> None:
    account, store = merchant()
    source = source_account_connect(control, account, CJ)
    control.options("cj", source.name, rate_limit_per_second=8, rate_limit_burst=2, rate_admitted=0, rate_limited=0)
    link_sku(account, "EB-1", CJ)
    orders = [order_to_place(store) for _ in range(12)]
    outcomes: list[str] = []
    pending = list(orders)
    lock = threading.Lock()

    def worker() -> None:
        try:
            while True:
                with lock:
                    if not pending:
                        return
                    order = pending.pop()
                outcomes.append(order_place(account=account, order_id=order.pk).outcome)
        finally:
            connection.close()

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    assert outcomes.count(PlacementOutcome.PAID) == 12, outcomes
    options = control.options("cj", source.name)
    assert (options["rate_limited"], options["rate_admitted"]) == (0, 12)
    assert elapsed >= 11 / 8 - 0.1  # 12 calls 125 ms apart
    assert len(control.ledger()) == 12


@override_settings(SUPPLIER_RATE_LIMITS={"cj": 0.5}, OUTBOUND_MAX_INLINE_WAIT=0.5)
def test_a_slot_too_far_away_is_not_sent_and_the_draft_keeps_its_key_until_it_is(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    first, second = order_to_place(store), order_to_place(store)

    assert order_place(account=account, order_id=first.pk).outcome == PlacementOutcome.PAID
    deferred = order_place(account=account, order_id=second.pk)

    # the next slot is 2 s away, more than the 0.5 s a call may wait: nothing is sent
    assert deferred.outcome == PlacementOutcome.DEFERRED
    assert 0.5 < (deferred.retry_after or 0) <= 2.0 + 0.05  # the first call's slot + 2 s, less what passed since
    [supplier_order] = SupplierOrder.objects.filter(order=second)
    assert (supplier_order.state, supplier_order.failure_code) == (SupplierOrderState.DRAFT, NOT_SENT)
    assert deferred.supplier_orders == [supplier_order.pk]
    key = supplier_order.idempotency_key
    assert charges(control, key) == []
    assert len(control.ledger()) == 1

    time.sleep(deferred.retry_after or 0)
    again = order_place(account=account, order_id=second.pk)  # what the task's retry runs

    assert again.outcome == PlacementOutcome.PAID, again.message
    supplier_order.refresh_from_db()
    assert (supplier_order.state, supplier_order.idempotency_key) == (SupplierOrderState.PAID, key)
    assert len(charges(control, key)) == 1


def test_a_client_refused_a_slot_raises_rate_limited_before_sending(control: Any) -> None:
    account, _store = merchant()
    source = source_account_connect(control, account, CJ)
    pacer = SupplierPacer(f"test:{uuid.uuid4().hex}", {"*": Rate(per_second=0.01)}, shared=True)
    provider = provider_for(source, paced=False)
    provider.client.pacer = pacer  # type: ignore[attr-defined]
    product, _sku = PRODUCTS[CJ]
    request = PlaceRequest(
        idempotency_key=f"zopi-{uuid.uuid4().hex}",
        lines=(PlaceLine(product_id=product, sku="", quantity=1),),
        ship_to=ShipTo(
            name="Ana Souza",
            phone="+1 512 555 0100",
            address1="1 Main St",
            city="Austin",
            province="TX",
            zip="78701",
            country_code="US",
        ),
    )

    provider.place(request)  # the bucket's first slot
    with pytest.raises(RateLimited) as raised:
        provider.place(request)

    assert raised.value.retry_after == pytest.approx(100, abs=1)
    assert len(control.ledger()) == 1  # the second was never sent
    assert provider.client.attempts[-1].path.endswith("createOrderV2")  # type: ignore[attr-defined]
    assert len(provider.client.attempts) == 1  # type: ignore[attr-defined]


@pytest.mark.redis
@pytest.mark.celery_worker
@override_settings(SUPPLIER_RATE_LIMITS={"cj": 0.5}, OUTBOUND_MAX_INLINE_WAIT=0.5)
def test_a_deferred_bulk_placement_is_sent_by_its_task_when_the_slot_comes(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    orders = [order_to_place(store), order_to_place(store)]

    with running_worker(["suppliers"]) as ran:
        batch = placement_batch_create(account=account, order_ids=[order.pk for order in orders], actor=None)

        # the second order's slot is 2 s after the first: more than the 0.5 s a call may wait, so its
        # task is retried with a countdown instead of sleeping, and sends it then, under the same key
        assert wait_for(lambda: PlacementBatch.objects.get(pk=batch.pk).finished_at is not None, timeout=30)

    results = dict(PlacementResult.objects.filter(batch=batch).values_list("order_id", "outcome"))
    assert results == {order.pk: PlacementOutcome.PAID for order in orders}
    keys = list(SupplierOrder.objects.filter(order__in=orders).values_list("idempotency_key", flat=True))
    assert sorted(charge["idempotency_key"] for charge in control.ledger()) == sorted(keys)
    deferred = SupplierOrder.objects.get(order__in=orders, transitions__to_state=SupplierOrderState.DRAFT)
    assert list(deferred.transitions.values_list("to_state", flat=True)) == ["placing", "draft", "placing", "paid"]
    assert [name for name, _thread in ran].count("suppliers.place_batch_orders") == 2  # one chunk, and its retry
