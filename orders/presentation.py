"""What the order center shows about an order beyond its fields: links and one timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from orders.enums import Channel, OrderEventType, OrderStatus, RefundState, SubStatus
from orders.models import Order, OrderEvent


def order_view_url(order: Order) -> str:
    """The order's page in the channel's own admin (the "View Order" action)."""
    domain = order.store.domain
    order_id = quote(order.channel_order_id, safe="")
    if order.channel == Channel.SHOPIFY:
        return f"https://{domain}/admin/orders/{order_id}"
    if order.channel == Channel.WOOCOMMERCE:
        return f"https://{domain}/wp-admin/admin.php?page=wc-orders&action=edit&id={order_id}"
    return f"https://seller-us.tiktok.com/order/detail?order_no={order_id}"


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    title: str
    detail: str
    source: str  # "order" or "carrier"


def _status_label(status: str, sub_status: str) -> str:
    label = str(OrderStatus(status).label)
    return f"{label} – {SubStatus(sub_status).label}" if sub_status else label


_CHANGE_LABELS = {
    "customer_name": _lazy("customer"),
    "customer_email": _lazy("customer email"),
    "currency": _lazy("currency"),
    "total": _lazy("total"),
    "channel_paid": _lazy("payment"),
    "channel_canceled": _lazy("cancellation"),
    "lines": _lazy("items"),
    "address": _lazy("shipping address"),
}


def _address_field_label(name: str) -> str:
    """An Order ``ship_*`` field's label ("city"); the state's code reads as the state."""
    name = "ship_province" if name == "ship_province_code" else name
    try:
        field = Order._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(field, "verbose_name", name))


def _event_entry(event: OrderEvent) -> TimelineEntry:
    params = event.parameters or {}
    detail = ""
    if event.type == OrderEventType.STATUS_CHANGED:
        old, new = params.get("from", {}), params.get("to", {})
        detail = _("%(old)s → %(new)s") % {
            "old": _status_label(old.get("status", "new"), old.get("sub_status", "")),
            "new": _status_label(new.get("status", "new"), new.get("sub_status", "")),
        }
    elif event.type == OrderEventType.CREATED:
        detail = _status_label(params.get("status", "new"), params.get("sub_status", ""))
    elif event.type == OrderEventType.RENUMBERED:
        detail = _("%(old)s is now %(new)s: another order has the same number.") % {
            "old": params.get("from", ""),
            "new": params.get("to", ""),
        }
    elif event.type == OrderEventType.CHANNEL_UPDATED:
        detail = ", ".join(str(_CHANGE_LABELS.get(change, change)) for change in params.get("changes", []))
    elif event.type == OrderEventType.POSSIBLE_DUPLICATE:
        detail = _("Same purchase as order %(number)s: confirm it or archive it before placing.") % {
            "number": params.get("twin_number", "")
        }
    elif event.type == OrderEventType.NOTE:
        detail = str(params.get("text", ""))
    elif event.type == OrderEventType.ADDRESS_EDITED:
        labels = dict.fromkeys(_address_field_label(name) for name in params.get("fields", []))
        detail = _("Changed: %(fields)s. The channel's order keeps its own address.") % {"fields": ", ".join(labels)}
    elif event.type == OrderEventType.CUSTOMER_ERASED:
        detail = _("The customer's name, e-mail and contact details were erased at %(channel)s's request.") % {
            "channel": params.get("channel", "")
        }
    elif event.type == OrderEventType.REFUND:
        state = str(params.get("state", ""))
        detail = str(RefundState(state).label) if state in RefundState.values else ""
        if params.get("what") == "retry":
            detail = _("Sent to the supplier again")
    if event.actor is not None:
        detail = f"{detail} ({event.actor.get_username()})" if detail else event.actor.get_username()
    return TimelineEntry(at=event.created_at, title=str(event.get_type_display()), detail=detail, source="order")


def order_timeline(order: Order) -> list[TimelineEntry]:
    """The order's own history, newest first (uses the prefetched rows). The carrier's scans are in
    each parcel's timeline (``orders.presentation_parcels.order_parcels``), not repeated here."""
    entries = [_event_entry(event) for event in order.events.all()]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
