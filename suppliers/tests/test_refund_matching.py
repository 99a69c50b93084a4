"""Which of the supplier's refunds is ours: by its id, by our key, and (a supplier whose list does
not echo keys) by the money and the lines among the requests no other refund of ours has, made
after our create; never a guess, never another refund's dispute."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import OrderLine, Refund, RefundLine
from suppliers.models import SupplierOrder, SupplierOrderLine
from suppliers.providers.base import RefundInfo
from suppliers.services.refund_send import refund_find
from tests.factories import RefundFactory, SupplierOrderFactory

pytestmark = [pytest.mark.django_db]


def info(
    external_id: str, amount: str, key: str = "", lines: tuple[tuple[str, int], ...] = (), created: int = 0
) -> RefundInfo:
    return RefundInfo(
        external_id=external_id,
        status="PENDING",
        state="in_review",
        idempotency_key=key,
        amount=Decimal(amount),
        lines=lines,
        created_at=timezone.now() + timedelta(minutes=created),
    )


def sent(supplier_order: SupplierOrder, key: str, *lines: SupplierOrderLine, **more: object) -> Refund:
    """One of our refunds whose create was sent a minute ago, on ``lines`` (one unit each)."""
    refund = RefundFactory(
        order=supplier_order.order,
        supplier_order=supplier_order,
        idempotency_key=key,
        create_sent_at=timezone.now() - timedelta(minutes=1),
        **more,
    )
    for line in lines:
        RefundLine.objects.create(refund=refund, supplier_order_line=line, order_line=line.order_line, quantity=1)
    return refund


def line(supplier_order: SupplierOrder, vid: str) -> SupplierOrderLine:
    return SupplierOrderLine.objects.create(
        supplier_order=supplier_order,
        order_line=OrderLine.objects.create(order=supplier_order.order, title=vid, unit_price=Decimal("5.00")),
        supplier_product_id=vid,
        quantity=2,
    )


def test_by_id_then_by_key() -> None:
    supplier_order = SupplierOrderFactory()
    refund = RefundFactory(order=supplier_order.order, supplier_order=supplier_order, idempotency_key="zr-1")
    assert refund_find([info("1", "5.00", "zr-0"), info("2", "5.00", "zr-1")], refund).external_id == "2"  # type: ignore[union-attr]
    refund.external_id = "1"
    assert refund_find([info("1", "5.00", "zr-0"), info("2", "5.00", "zr-1")], refund).external_id == "1"  # type: ignore[union-attr]
    refund.external_id = ""
    assert refund_find([info("3", "5.00", "zr-9")], refund) is None  # keys echoed, none ours: not ours


def test_without_keys_the_one_unclaimed_request_asking_the_same_money() -> None:
    supplier_order = SupplierOrderFactory()
    ours = sent(supplier_order, "zr-a", amount=Decimal("5.00"))
    sent(supplier_order, "zr-b", external_id="7")

    assert refund_find([info("7", "5.00"), info("8", "5.00"), info("9", "2.00")], ours).external_id == "8"  # type: ignore[union-attr]
    assert refund_find([info("8", "5.00"), info("10", "5.00")], ours) is None  # two could be ours: no guess
    assert refund_find([info("9", "2.00")], ours) is None
    assert refund_find([info("8", "5.00", created=-30)], ours) is None  # made before our create: not ours
    Refund.objects.filter(pk=ours.pk).update(create_sent_at=None)
    ours.refresh_from_db()
    assert refund_find([info("8", "5.00")], ours) is None  # we never sent a create: nothing there is ours


def test_another_refunds_dispute_on_another_line_is_never_taken_for_the_same_money() -> None:
    # given two 5.00 requests on different lines; the first SENT with no id (CJ's create answers none)
    supplier_order = SupplierOrderFactory()
    first_line, second_line = line(supplier_order, "VID-1"), line(supplier_order, "VID-2")
    first = sent(supplier_order, "zr-1", first_line)
    second = sent(supplier_order, "zr-2", second_line)
    theirs = info("91", "5.00", lines=(("VID-1", 1),))

    # then the first's dispute is the first's, never the second's
    assert refund_find([theirs], second) is None
    assert refund_find([theirs], first) == theirs
    assert refund_find([theirs, info("92", "5.00", lines=(("VID-2", 1),))], second).external_id == "92"  # type: ignore[union-attr]


def test_two_of_ours_that_could_both_be_one_dispute_take_none() -> None:
    supplier_order = SupplierOrderFactory()
    shared = line(supplier_order, "VID-1")
    first = sent(supplier_order, "zr-1", shared)
    sent(supplier_order, "zr-2", shared)
    assert refund_find([info("91", "5.00", lines=(("VID-1", 1),))], first) is None


def test_one_dispute_is_one_refund_of_ours_in_the_database() -> None:
    supplier_order = SupplierOrderFactory()
    sent(supplier_order, "zr-1", external_id="91")
    with pytest.raises(IntegrityError), transaction.atomic():
        sent(supplier_order, "zr-2", external_id="91")
    sent(supplier_order, "zr-3")  # no id yet: as many as needed
    sent(supplier_order, "zr-4")
