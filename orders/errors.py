"""Domain errors of the orders app. Services and selectors raise these; views map them to HTTP."""

from __future__ import annotations


class OrdersNotFound(LookupError):
    """Some ids are not orders of the account: nothing was read or changed (a view's 404)."""

    def __init__(self, order_ids: list[int]) -> None:
        super().__init__(order_ids)
        self.order_ids = order_ids


class AddressLocked(Exception):
    """The order is already with a supplier (placing, placed or paid): its address there does not
    change, so editing it here would say something false. Re-place the order to send a new one."""
