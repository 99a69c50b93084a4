"""The supplier's own tracking read for the fallback (``suppliers.tracking_fallback_fetch``): an
AliExpress order's scans read from the sandbox over real HTTP (``aliexpress.ds.order.tracking.get``,
signed, paced, its attempt recorded) and sent back by task name; a CJ order asks nothing; bad
arguments ask nothing; what AliExpress answers is read as hostile input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from celery import shared_task

from integrations.errors import ProviderError
from sandbox.models import Parcel
from sandbox.sim import carriers
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierAttempt
from suppliers.providers.aliexpress.tracking import (
    SupplierParcelTracking,
    SupplierScan,
    parcel_of,
    parcels_of,
    scan_of,
)
from suppliers.services.tracking_fallback import FallbackOutcome, supplier_tracking_fallback
from suppliers.tests.test_sync import placed, sim_name
from tests.workers import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE, CJ = SupplierProvider.ALIEXPRESS, SupplierProvider.CJ
MERGED: list[dict[str, Any]] = []  # what the stand-in tracking task received (in the worker thread)
MERGE_STAND_IN = "suppliers.tests.events_merge_stand_in"


@shared_task(name=MERGE_STAND_IN)
def events_merge_stand_in(*args: Any, **kwargs: Any) -> None:
    MERGED.append({"args": args, **kwargs})


@pytest.fixture
def suppliers_worker(settings: Any) -> Iterator[list[tuple[str, str]]]:
    settings.SUPPLIER_EVENTS_MERGE_TASK = MERGE_STAND_IN
    MERGED.clear()
    with running_worker(["suppliers"]) as ran:
        yield ran


def shipped(control: Any, provider: str, name: str) -> tuple[Any, str]:
    """A paid order of ``provider`` shipped in the sandbox, its parcel held still (the test says
    what its carrier has scanned)."""
    _, supplier_order = placed(control, provider, name=name)
    number = control.supplier_ship(provider, sim_name(supplier_order), supplier_order.external_order_id)[
        "tracking_number"
    ]
    Parcel.objects.filter(number=number).update(fate=carriers.UNKNOWN_FATE, events=[], status="NotFound")
    return supplier_order, number


SCANS = [
    {
        "time_utc": "2026-11-29T23:15:00Z",
        "description": "Accepted by carrier",
        "location": "Shenzhen, CN",
        "stage": "PickedUp",
        "sub_status": "InTransit_PickedUp",
    },
    {
        "time_utc": "2026-11-30T06:40:00Z",
        "description": "Departed from sorting center",
        "location": "Shenzhen, CN",
        "stage": "Departure",
        "sub_status": "InTransit_Departure",
    },
]


@pytest.mark.redis
@pytest.mark.celery_worker
def test_an_aliexpress_orders_scans_are_read_and_sent_back_by_task_name(
    control: Any, suppliers_worker: list[tuple[str, str]]
) -> None:
    supplier_order, number = shipped(control, AE, "ae-fallback-read")
    Parcel.objects.filter(number=number).update(events=SCANS)
    attempts = SupplierAttempt.objects.filter(source_account=supplier_order.source_account).count()

    result = supplier_tracking_fallback(supplier_order_id=supplier_order.pk, shipment_id=77, tracking_number=number)

    assert (result.outcome, result.events) == (FallbackOutcome.SENT, 2)
    assert wait_for(lambda: len(MERGED) == 1), suppliers_worker
    assert [
        {
            "args": (),
            "shipment_id": 77,
            "tracking_number": number,
            "events": [
                {"time": "2026-11-29T23:15:00Z", "description": "Accepted by carrier", "location": ""},
                {"time": "2026-11-30T06:40:00Z", "description": "Departed from sorting center", "location": ""},
            ],
        }
    ] == MERGED
    # one signed, paced call, recorded like every supplier call
    assert SupplierAttempt.objects.filter(source_account=supplier_order.source_account).count() == attempts + 1


@pytest.mark.redis
@pytest.mark.celery_worker
def test_nothing_scanned_yet_a_cj_order_or_bad_arguments_send_nothing(
    control: Any, suppliers_worker: list[tuple[str, str]]
) -> None:
    ae_order, number = shipped(control, AE, "ae-fallback-empty")
    assert supplier_tracking_fallback(supplier_order_id=ae_order.pk, shipment_id=1, tracking_number=number).outcome == (
        FallbackOutcome.NO_EVENTS
    )
    # a number the order does not have: its scans are not someone else's parcel's
    Parcel.objects.filter(number=number).update(events=SCANS)
    other = supplier_tracking_fallback(supplier_order_id=ae_order.pk, shipment_id=1, tracking_number="LP99999999999")
    assert other.outcome == FallbackOutcome.NO_EVENTS

    cj_order, cj_number = shipped(control, CJ, "cj-fallback")
    Parcel.objects.filter(number=cj_number).update(events=SCANS)
    cj_attempts = SupplierAttempt.objects.filter(source_account=cj_order.source_account).count()
    cj = supplier_tracking_fallback(supplier_order_id=cj_order.pk, shipment_id=1, tracking_number=cj_number)
    assert cj.outcome == FallbackOutcome.NOT_SUPPORTED
    assert SupplierAttempt.objects.filter(source_account=cj_order.source_account).count() == cj_attempts  # not asked

    for bad in (
        {"supplier_order_id": "1", "shipment_id": 1, "tracking_number": number},
        {"supplier_order_id": True, "shipment_id": 1, "tracking_number": number},
        {"supplier_order_id": ae_order.pk, "shipment_id": None, "tracking_number": number},
        {"supplier_order_id": ae_order.pk, "shipment_id": 1, "tracking_number": ["x"]},
        {"supplier_order_id": ae_order.pk, "shipment_id": 1, "tracking_number": "X" * 65},
        {"supplier_order_id": 10**9, "shipment_id": 1, "tracking_number": number},
    ):
        assert supplier_tracking_fallback(**bad).outcome == FallbackOutcome.REFUSED, bad
    assert not wait_for(lambda: bool(MERGED), timeout=1)
    ran = [name for name, _ in suppliers_worker]
    assert MERGE_STAND_IN not in ran


def test_the_task_takes_the_contracts_arguments_and_ignores_extra_ones(control: Any) -> None:
    from suppliers.tasks import tracking_fallback_fetch

    cj_order, number = shipped(control, CJ, "cj-fallback-task")
    assert tracking_fallback_fetch(cj_order.pk, shipment_id=1, tracking_number=number, extra=1) == "not supported"
    assert tracking_fallback_fetch("x", shipment_id=1, tracking_number=number) == "refused"


def test_what_aliexpress_answers_is_read_as_hostile_input() -> None:
    assert parcels_of({"ret": False, "code": "TRACKING DATA NOT FOUND", "msg": "TRACKING DATA NOT FOUND"}) == []
    assert parcels_of({"ret": True, "code": "200", "data": {}}) == []
    for bad in (
        None,
        [],
        "ok",
        {"ret": False, "code": "UnsupportedParamMapping"},
        {"ret": True, "data": {"tracking_detail_line_list": {"a": 1}}},
    ):
        with pytest.raises(ProviderError):
            parcels_of(bad)
    stamp = int(datetime(2026, 11, 30, 6, 40, tzinfo=UTC).timestamp() * 1000)
    good = {"time_stamp": stamp, "tracking_name": "Departure", "tracking_detail_desc": "Departed"}
    assert scan_of(good) is not None
    assert scan_of({**good, "time_stamp": str(stamp)}) == scan_of(good)  # a stamp as text is read
    for node in (
        "node",
        {**good, "time_stamp": True},
        {**good, "time_stamp": -5},
        {**good, "time_stamp": "12a"},
        {**good, "time_stamp": 10**20},  # past 2100
        {**good, "time_stamp": 1000},  # 1970
        {**good, "time_stamp": 1.5},
        {**good, "tracking_detail_desc": "", "tracking_name": None},
        {**good, "tracking_detail_desc": 7, "tracking_name": "  "},
    ):
        assert scan_of(node) is None, node
    assert scan_of({**good, "tracking_detail_desc": None}).description == "Departure"  # type: ignore[union-attr]
    marked = scan_of({**good, "tracking_detail_desc": "<b>Arrived</b>\x00 at\u202e hub"})
    assert marked is not None
    assert marked.description == "Arrived at hub"

    parcel = parcel_of(
        {"carrier_name": "Cainiao", "mail_no": "lp0012", "detail_node_list": [good, "junk", {**good, "time_stamp": 1}]}
    )
    assert parcel is not None
    assert (parcel.number, parcel.carrier, len(parcel.events), parcel.dropped) == ("LP0012", "Cainiao", 1, 2)
    for line in ("x", {"mail_no": 5}, {"mail_no": ""}, {"mail_no": "L" * 65}):
        assert parcel_of(line) is None, line
    assert parcel_of({"mail_no": "LP1", "detail_node_list": "nodes"}).events == ()  # type: ignore[union-attr]
    many = {"mail_no": "LP2", "detail_node_list": [{**good, "time_stamp": stamp + n} for n in range(500)]}
    assert len(parcel_of(many).events) == 200  # type: ignore[union-attr]


def test_a_real_shaped_answer_reads_whole() -> None:
    """The answer's shape as the reference gives it (external-apis.md section 4), nodes newest first."""
    answer = {
        "ret": True,
        "code": "200",
        "msg": "",
        "data": {
            "tracking_detail_line_list": [
                {
                    "carrier_name": "AliExpress Standard Shipping",
                    "mail_no": "LP00712345678901",
                    "eta_time_stamps": 1765238400000,
                    "package_item_list": [
                        {
                            "item_id": 1005006454451334,
                            "sku_id": 12000037255569170,
                            "quantity": 2,
                            "item_title": "",
                            "sku_desc": "Black",
                        }
                    ],
                    "detail_node_list": [
                        {
                            "time_stamp": 1764487800000,
                            "tracking_name": "Departure",
                            "tracking_detail_desc": "Departed from sorting center",
                        },
                        {
                            "time_stamp": 1764458100000,
                            "tracking_name": "PickedUp",
                            "tracking_detail_desc": "Accepted by carrier",
                        },
                    ],
                }
            ]
        },
    }
    assert parcels_of(answer) == [
        SupplierParcelTracking(
            number="LP00712345678901",
            carrier="AliExpress Standard Shipping",
            events=(
                SupplierScan(time=datetime(2025, 11, 29, 23, 15, tzinfo=UTC), description="Accepted by carrier"),
                SupplierScan(
                    time=datetime(2025, 11, 30, 7, 30, tzinfo=UTC), description="Departed from sorting center"
                ),
            ),
            dropped=0,
        )
    ]
