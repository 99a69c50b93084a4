"""Reads for the refund views. Every function takes the account: no query crosses tenants."""

from __future__ import annotations

from accounts.models import Account
from orders.models import CustomerRefund, Order, Refund
from suppliers.models import SupplierOrder


def customer_refund_of_order(*, account: Account, order: Order, customer_refund_id: int) -> CustomerRefund | None:
    """One customer refund of this account's order; None when it is not one."""
    return CustomerRefund.objects.filter(account=account, order=order, pk=customer_refund_id).first()


def supplier_order_on_order(*, account: Account, order: Order, supplier_order_id: int) -> bool:
    """Whether this supplier order is one of this account's order's (refundable or not)."""
    return SupplierOrder.objects.filter(pk=supplier_order_id, order=order, account=account).exists()


def refund_of_account(*, account: Account, refund_id: int) -> Refund | None:
    """One refund request of this account; None when it is not one."""
    return Refund.objects.filter(account=account, pk=refund_id).first()
