"""The supplier's tracking number handed over to tracking: supplier ships in the sandbox →
supplier sync → ``tracking.shipment_handover`` in a real worker → Shipment registered at
17TRACK → the fulfillment push enqueued by name; a repeat creates nothing; a shared number is
flagged on both orders; hostile kwargs are dropped with a reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from orders.enums import OrderStatus, SubStatus
from orders.models import OrderLine
from suppliers.enums import SupplierProvider
from suppliers.services.sync import supplier_order_sync, tracking_hand_on_now
from suppliers.tests.test_sync import placed, sim_name
from tests.workers import running_worker, wait_for
from tracking import tasks
from tracking.enums import RegistrationState
from tracking.models import Shipment, ShipmentOrder
from tracking.services.handover import shipment_handover
from tracking.services.pages import tracking_page_url
from tracking.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
from tracking.tests.flow import PUSHED, hand_over, paid_order, track17  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def tracking_worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["tracking"]) as ran:
        yield ran


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_shipped_supplier_order_becomes_a_registered_shipment_and_a_push(
    control: Any,  # noqa: F811
    track17: dict[str, Any],  # noqa: F811
    tracking_worker: list[tuple[str, str]],
) -> None:
    assert django_settings.SUPPLIER_TRACKING_TASK == "tracking.shipment_handover"
    order, supplier_order = placed(control, SupplierProvider.ALIEXPRESS, name="ae-tracking-flow")
    shipped = control.supplier_ship(
        SupplierProvider.ALIEXPRESS, sim_name(supplier_order), supplier_order.external_order_id
    )

    supplier_order_sync(supplier_order_id=supplier_order.pk)

    assert wait_for(lambda: len(PUSHED) == 1, timeout=60), tracking_worker
    shipment = Shipment.objects.get()
    assert (shipment.order_id, shipment.supplier_order_id, shipment.tracking_number) == (
        order.pk,
        supplier_order.pk,
        shipped["tracking_number"],
    )
    assert shipment.registration_state == RegistrationState.REGISTERED  # at once, not waiting for beat
    assert shipment.registered_at is not None
    assert shipment.next_poll_at is not None
    line = order.lines.get()
    assert [
        {
            "order_id": order.pk,
            "shipment_id": shipment.pk,
            "tracking_number": shipment.tracking_number,
            "carrier": shipment.carrier,
            "lines": [{"order_line_id": line.pk, "quantity": line.quantity}],
            "tracking_url": tracking_page_url(order.pk),
        }
    ] == PUSHED
    order.refresh_from_db()
    assert (order.status, order.sub_status) == (OrderStatus.SHIPMENT, SubStatus.AWAITING_SHIPMENT)
    ran = [name for name, _ in tracking_worker]
    assert ran.count("tracking.shipment_handover") == 1

    # handed over again (the supplier sweep, a support resync): nothing new, the push again (idempotent)
    assert tracking_hand_on_now(supplier_order.pk)
    assert wait_for(lambda: len(PUSHED) == 2, timeout=60), tracking_worker
    assert Shipment.objects.count() == 1
    assert not ShipmentOrder.objects.exists()
    assert PUSHED[1] == PUSHED[0]


def test_a_number_given_for_two_orders_is_flagged_on_both(track17: dict[str, Any]) -> None:  # noqa: F811
    first = paid_order(name="Shared")
    second = paid_order(first.account)

    shipment = hand_over(first, " lp00000000000042 ", carrier="Cainiao")
    again = shipment_handover(
        supplier_order_id=None,
        order_id=second.pk,
        account_id=second.account_id,
        tracking_number="LP00000000000042",
        carrier="Cainiao",
        lines=[],
        register_now=False,
    )
    repeat = hand_over(second, "LP00000000000042", carrier="Cainiao")

    assert shipment.tracking_number == "LP00000000000042"
    assert (again.shipment_id, again.created, again.shared) == (shipment.pk, False, True)
    assert repeat.pk == shipment.pk
    assert Shipment.objects.count() == 1
    shipment.refresh_from_db()
    assert shipment.shared_number
    assert list(ShipmentOrder.objects.values_list("order_id", flat=True)) == [second.pk]
    for order in (first, second):
        order.refresh_from_db()
        assert (order.status, order.sub_status) == (OrderStatus.SHIPMENT, SubStatus.AWAITING_SHIPMENT)
    other_account = paid_order(name="Another merchant")
    own = hand_over(other_account, "LP00000000000042", carrier="Cainiao")
    assert own.pk != shipment.pk
    assert not own.shared_number  # another account: its own row


def hostile_cases(order: Any, foreign: Any) -> list[tuple[dict[str, Any], str]]:
    line = order.lines.get()
    good_line = {"order_line_id": line.pk, "quantity": 1}
    base = {
        "supplier_order_id": None,
        "order_id": order.pk,
        "account_id": order.account_id,
        "tracking_number": "LP00000000000001",
        "carrier": "Cainiao",
        "lines": [good_line],
    }
    return [
        ({**base, "order_id": foreign.pk}, "is not an order of account"),
        ({**base, "account_id": foreign.account_id}, "is not an order of account"),
        ({**base, "order_id": "1"}, "positive integers"),
        ({**base, "order_id": True}, "positive integers"),
        ({**base, "account_id": None}, "positive integers"),
        ({**base, "supplier_order_id": -3}, "supplier_order_id"),
        ({**base, "supplier_order_id": 2**70}, "supplier_order_id"),
        ({**base, "order_id": 2**64}, "positive integers"),
        ({**base, "lines": [{"order_line_id": 2**63, "quantity": 1}]}, "positive integers"),
        ({**base, "supplier_order_id": 987654}, "supplier order 987654"),
        ({**base, "tracking_number": "LP0000<script>"}, "letters, digits or dashes"),
        ({**base, "tracking_number": "A" * 65}, "letters, digits or dashes"),
        ({**base, "tracking_number": "   "}, "letters, digits or dashes"),
        ({**base, "tracking_number": 12345}, "not text"),
        ({**base, "carrier": ["x"]}, "carrier is not text"),
        ({**base, "lines": "all"}, "lines must be a list"),
        ({**base, "lines": [{"order_line_id": line.pk, "quantity": 0}]}, "positive integers"),
        ({**base, "lines": [{"order_line_id": foreign.lines.get().pk, "quantity": 1}]}, "not a line of order"),
        ({**base, "lines": [good_line, good_line]}, "given twice"),
        ({**base, "lines": [7]}, "not an object"),
    ]


def test_hostile_handover_kwargs_are_dropped_with_a_reason_and_nothing_is_written() -> None:
    order, foreign = paid_order(name="Target"), paid_order(name="Foreign")

    for kwargs, reason in hostile_cases(order, foreign):
        result = shipment_handover(**kwargs, register_now=False)
        assert reason in result.dropped, (kwargs, result)
        assert result.shipment_id is None

    # the task itself (as the broker would call it): missing and unexpected kwargs are no crash
    assert "positive integers" in tasks.shipment_handover.run(1, tracking_number="LP1")
    assert "positive integers" in tasks.shipment_handover.run(order_id=order.pk, account_id="x", extra=1)
    assert not Shipment.objects.exists()
    order.refresh_from_db()
    assert order.status != OrderStatus.SHIPMENT


def test_two_handovers_of_one_number_at_once_make_one_row() -> None:
    order = paid_order(name="Racing")
    line = order.lines.get()
    kwargs = {
        "supplier_order_id": None,
        "order_id": order.pk,
        "account_id": order.account_id,
        "tracking_number": "LP00000000000077",
        "carrier": "Cainiao",
        "lines": [{"order_line_id": line.pk, "quantity": 1}],
        "register_now": False,
    }
    start = threading.Barrier(4)
    results: list[Any] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(shipment_handover(**kwargs))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == 4
    assert Shipment.objects.count() == 1
    assert {r.shipment_id for r in results} == {Shipment.objects.get().pk}
    assert sum(r.created for r in results) == 1
    assert not ShipmentOrder.objects.exists()


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_second_supplier_order_in_the_same_parcel_adds_its_lines_and_the_push_is_asked_with_all(
    track17: dict[str, Any],  # noqa: F811
    tracking_worker: list[tuple[str, str]],
) -> None:
    # given an order of two lines bought through two supplier orders, shipped as one parcel
    order = paid_order(name="Combined parcel")
    first = order.lines.get()
    second = OrderLine.objects.create(order=order, title="Second item", quantity=2, unit_price=first.unit_price)
    # when each supplier order hands the same number over, the second one later
    hand_over(order, "YT1234567890123456", lines=[{"order_line_id": first.pk, "quantity": first.quantity}])
    assert wait_for(lambda: len(PUSHED) == 1, timeout=60), tracking_worker
    hand_over(order, "YT1234567890123456", lines=[{"order_line_id": second.pk, "quantity": 2}])
    assert wait_for(lambda: len(PUSHED) == 2, timeout=60), tracking_worker
    # then one parcel holds both lines, and the push was asked again with both
    both = [{"order_line_id": first.pk, "quantity": first.quantity}, {"order_line_id": second.pk, "quantity": 2}]
    shipment = Shipment.objects.get()
    assert shipment.lines == both
    assert PUSHED[0]["lines"] == both[:1]
    assert PUSHED[1]["lines"] == both
    # and the first supplier order handing over again changes nothing
    hand_over(order, "YT1234567890123456", lines=[{"order_line_id": first.pk, "quantity": first.quantity}])
    assert wait_for(lambda: len(PUSHED) == 3, timeout=60), tracking_worker
    assert PUSHED[2]["lines"] == both
    assert Shipment.objects.get().lines == both
