"""The merchant corrects an order's shipping address on the order (the channel order is not changed)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from orders import events
from orders.address import is_address_issue
from orders.enums import SupplierOrderState
from orders.errors import AddressLocked, OrdersNotFound
from orders.models import Order
from orders.services.intake import AddressData

# A supplier order in one of these has (or may have) the address as it was sent: it stays so.
SENT_STATES = (
    SupplierOrderState.PLACING,
    SupplierOrderState.PLACED,
    SupplierOrderState.PAYING,
    SupplierOrderState.PAYMENT_FAILED,
    SupplierOrderState.PAID,
)


def order_address_locked(*, order: Order) -> bool:
    """Whether a supplier order of ``order`` was sent (or is being sent) the address as it is."""
    return order.supplier_orders.filter(state__in=SENT_STATES).exists()


@transaction.atomic
def order_edit_address(
    *, account: Account, order_id: int, address: AddressData, actor: AbstractBaseUser | None = None
) -> Order:
    """Write ``address`` on the order as the merchant's correction.

    The order keeps it whatever the channel sends later (``ship_edited_at``); an
    ``address_edited`` event names the fields that changed; a placement stopped by an address
    problem (``placement_issue``) is cleared, so the row no longer shows it. Saving the same
    address again changes nothing and writes no event.

    Raises ``OrdersNotFound`` for an id that is not an order of ``account``, ``AddressLocked`` when
    a supplier order was already sent this address.
    """
    order = Order.objects.select_for_update(of=("self",)).filter(account=account, pk=order_id).first()
    if order is None:
        raise OrdersNotFound([order_id])
    if order_address_locked(order=order):
        raise AddressLocked(order_id)
    changed = [field for field, value in address.order_fields().items() if getattr(order, field) != value]
    if not changed:
        return order
    for field, value in address.order_fields().items():
        setattr(order, field, value)
    order.ship_edited_at = timezone.now()
    update = [*changed, "ship_edited_at", "updated_at"]
    if is_address_issue(order.placement_issue, order.placement_issue_fix):
        order.placement_issue, order.placement_issue_message, order.placement_issue_fix = "", "", None
        update += ["placement_issue", "placement_issue_message", "placement_issue_fix"]
    order.save(update_fields=update)
    events.event_address_edited(order=order, fields=changed, actor=actor)
    return order
