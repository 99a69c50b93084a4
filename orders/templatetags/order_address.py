"""The drawer's address panel: what stops a placement, and whether the address can still be edited."""

from __future__ import annotations

from django import template

from orders.address import AddressProblem, address_problems
from orders.models import Order
from orders.services.address_edit import SENT_STATES

register = template.Library()


@register.simple_tag
def order_address_problems(order: Order) -> list[AddressProblem]:
    return address_problems(order)


@register.simple_tag
def order_address_editable(order: Order) -> bool:
    """False once a supplier order was sent the address (read from the drawer's prefetched rows)."""
    return not any(supplier_order.state in SENT_STATES for supplier_order in order.supplier_orders.all())
