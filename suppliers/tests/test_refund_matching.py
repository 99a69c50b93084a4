"""Which of the supplier's refunds is ours: by its id, by our key, and (a supplier whose list does
not echo keys) by the money among the requests no other refund of ours has; never a guess."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suppliers.providers.base import RefundInfo
from suppliers.services.refund_send import refund_find
from tests.factories import RefundFactory, SupplierOrderFactory

pytestmark = [pytest.mark.django_db]


def info(external_id: str, amount: str, key: str = "") -> RefundInfo:
    return RefundInfo(
        external_id=external_id, status="PENDING", state="in_review", idempotency_key=key, amount=Decimal(amount)
    )


def test_by_id_then_by_key() -> None:
    supplier_order = SupplierOrderFactory()
    refund = RefundFactory(order=supplier_order.order, supplier_order=supplier_order, idempotency_key="zr-1")
    assert refund_find([info("1", "5.00", "zr-0"), info("2", "5.00", "zr-1")], refund) == info("2", "5.00", "zr-1")
    refund.external_id = "1"
    assert refund_find([info("1", "5.00", "zr-0"), info("2", "5.00", "zr-1")], refund) == info("1", "5.00", "zr-0")
    refund.external_id = ""
    assert refund_find([info("3", "5.00", "zr-9")], refund) is None  # keys echoed, none ours: not ours


def test_without_keys_the_one_unclaimed_request_asking_the_same_money() -> None:
    supplier_order = SupplierOrderFactory()
    order = supplier_order.order
    ours = RefundFactory(order=order, supplier_order=supplier_order, idempotency_key="zr-a", amount=Decimal("5.00"))
    RefundFactory(order=order, supplier_order=supplier_order, idempotency_key="zr-b", external_id="7")

    assert refund_find([info("7", "5.00"), info("8", "5.00"), info("9", "2.00")], ours) == info("8", "5.00")
    assert refund_find([info("8", "5.00"), info("10", "5.00")], ours) is None  # two could be ours: no guess
    assert refund_find([info("9", "2.00")], ours) is None
