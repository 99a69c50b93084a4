"""What the order center shows about an order's supplier orders: the placement column of a row,
the supplier's own order page, the fix link of a placement problem.

Pure reads of rows the caller loaded (the order center prefetches ``supplier_orders`` with
their accounts through the order's reverse relation): no query per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.enums import OrderStatus, RefundState, SubStatus, SupplierOrderState
from orders.models import Order
from suppliers.enums import SupplierProvider
from suppliers.models import IN_FLIGHT_STATES, SupplierOrder
from suppliers.services.payment import PAYABLE_STATES

HISTORY_STATES = (SupplierOrderState.CANCELED, SupplierOrderState.REPLACED)


def supplier_order_url(supplier_order: SupplierOrder) -> str:
    """The order's page on the supplier's own site (the "View order" link), "" when there is none
    (not created yet, or Temu: simulated). Sources in docs/suppliers.md, "Placing orders"."""
    external_id = quote(supplier_order.external_order_id, safe="")
    if not external_id:
        return ""
    if supplier_order.provider == SupplierProvider.ALIEXPRESS:
        return f"https://www.aliexpress.com/p/order/detail.html?orderId={external_id}"
    if supplier_order.provider == SupplierProvider.CJ:
        return f"https://www.cjdropshipping.com/my.html#/order/detail?orderId={external_id}"
    return ""


def placement_fix_url(fix: object) -> str:
    """The link of ``Order.placement_issue_fix`` ({"view", "args", "query"}), or "".

    The fix is stored with the order when the problem is found; a page renamed since then would
    otherwise make the whole order center fail, so a name that no longer resolves gives "" (the
    row shows the problem without a link). ``test_every_fix_page_the_services_name_exists`` keeps
    the names the services write resolvable.
    """
    if not isinstance(fix, dict) or not isinstance(fix.get("view"), str) or not fix["view"]:
        return ""
    args = [arg for arg in fix.get("args") or [] if isinstance(arg, int | str)]
    try:
        url = reverse(fix["view"], args=args)
    except NoReverseMatch:
        return ""
    query = fix.get("query")
    return f"{url}?{query}" if isinstance(query, str) and query else url


_FIX_LABELS = {
    "suppliers:link_new": gettext_lazy("Link product"),
    "suppliers:link_edit": gettext_lazy("Edit the product link"),
    "suppliers:links": gettext_lazy("Check the product links"),
    "suppliers:accounts": gettext_lazy("Connect supplier"),
    "orders:address_edit": gettext_lazy("Edit address"),
}


def placement_fix_label(fix: object) -> str:
    view = fix.get("view") if isinstance(fix, dict) else None
    return str(_FIX_LABELS.get(view or "") or _("Fix it"))


def margin(order: Order) -> Decimal | None:
    """Channel total − supplier cost − what the customer got back in the channel (final customer
    refunds only, ``CustomerRefund.is_final``) + what suppliers refunded, all in the store's
    currency; None when the cost, a rate or a refund's currency is unknown.

    ``Order.supplier_cost`` counts current supplier orders only. A paid supplier order that is no
    longer current (canceled by the supplier, replaced) but refunded is counted here with its
    refunds: its cost is subtracted and its refunds added back, so a 30 paid then refunded 30
    nets nothing, and a partial refund shows what was lost. A supplier refund is turned into the
    store's currency at its supplier order's rate (the one the cost uses) and must be in that
    supplier order's currency. Reads the order's prefetched ``supplier_orders``, ``refunds`` and
    ``customer_refunds``."""
    if order.supplier_cost is None:
        return None
    value = order.total - order.supplier_cost
    supplier_orders = {supplier_order.pk: supplier_order for supplier_order in order.supplier_orders.all()}
    history_counted: set[int] = set()
    for refund in order.refunds.all():
        if refund.state != RefundState.REFUNDED or not refund.refunded_amount:
            continue
        supplier_order = supplier_orders.get(refund.supplier_order_id or 0)
        if supplier_order is None or supplier_order.fx_rate is None or refund.currency != supplier_order.currency:
            return None
        if supplier_order.state in HISTORY_STATES and supplier_order.pk not in history_counted:
            cost = supplier_order.margin_cost()  # not in supplier_cost: counted with its refunds
            if cost is None:
                return None
            value -= cost
            history_counted.add(supplier_order.pk)
        value += (refund.refunded_amount * supplier_order.fx_rate).quantize(Decimal("0.01"))
    for customer_refund in order.customer_refunds.all():
        if not customer_refund.is_final:
            continue
        if customer_refund.currency != order.currency:
            return None
        value -= customer_refund.amount
    return value


@dataclass
class PlacementRow:
    """The placement facts of one order row (actions offered, notes shown)."""

    current: list[SupplierOrder] = field(default_factory=list)
    placing: bool = False
    paying: bool = False
    can_place: bool = False
    can_retry_payment: bool = False
    can_cancel: bool = False
    can_replace: bool = False
    no_longer_synced: bool = False
    paid_then_channel_canceled: bool = False
    fx_notes: list[str] = field(default_factory=list)

    @property
    def in_flight(self) -> bool:
        return self.placing or self.paying


def placement_row(order: Order) -> PlacementRow:
    """What the row of ``order`` shows about placement (reads the prefetched supplier orders)."""
    supplier_orders = list(order.supplier_orders.all())
    current = [so for so in supplier_orders if so.state not in HISTORY_STATES]
    states = {so.state for so in current}
    live = not order.archived
    row = PlacementRow(
        current=current,
        placing=SupplierOrderState.PLACING in states,
        paying=SupplierOrderState.PAYING in states,
        no_longer_synced=any(so.no_longer_synced for so in supplier_orders),
        paid_then_channel_canceled=order.channel_canceled and SupplierOrderState.PAID in states,
    )
    row.can_place = (
        live
        and order.status == OrderStatus.NEW
        and not order.awaiting_duplicate_confirmation
        and not (states & set(IN_FLIGHT_STATES))
    )
    payable = bool(states & set(PAYABLE_STATES))
    row.can_retry_payment = live and payable and not row.paying
    row.can_cancel = live and payable and not row.in_flight
    # order_replace: from Payment Failed or Source Canceled, nothing paid or in flight.
    row.can_replace = (
        live
        and not row.in_flight
        and SupplierOrderState.PAID not in states
        and order.sub_status in (SubStatus.PAYMENT_FAILED, SubStatus.SOURCE_CANCELED)
    )
    for supplier_order in current:
        if supplier_order.fx_rate is not None and supplier_order.fx_source not in ("", "same currency"):
            row.fx_notes.append(
                _("1 %(from)s = %(rate)s %(to)s (%(source)s)")
                % {
                    "from": supplier_order.currency,
                    "rate": supplier_order.fx_rate.normalize(),
                    "to": order.currency,
                    "source": supplier_order.fx_source,
                }
            )
    return row
