"""The tracking app's hand-over to the push-back (contract 2), checked as hostile input: every
kwarg's type and size, the order, and each line one of the order's lines."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

from orders.models import Order, OrderLine

MAX_LINES = 500


class PushInputError(ValueError):
    """A hand-over that cannot be used; the message says why (logged, the task returns it)."""


@dataclass(frozen=True)
class Handover:
    """A checked hand-over from tracking."""

    order: Order
    shipment_id: int
    tracking_number: str
    carrier: str
    lines: list[dict[str, int]]
    tracking_url: str


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PushInputError(_("%(name)s must be a positive whole number") % {"name": name})
    return value


def _text(value: object, name: str, *, limit: int, required: bool) -> str:
    if not isinstance(value, str):
        raise PushInputError(_("%(name)s must be text") % {"name": name})
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise PushInputError(_("%(name)s is empty") % {"name": name})
    if len(cleaned) > limit or not cleaned.isprintable():
        raise PushInputError(
            _("%(name)s is not readable text of at most %(n)s characters") % {"name": name, "n": limit}
        )
    return cleaned


def handover_check(
    *,
    order_id: object,
    shipment_id: object,
    tracking_number: object,
    carrier: object,
    lines: object,
    tracking_url: object,
) -> Handover:
    """The hand-over's kwargs checked one by one (types, sizes, the order and its lines)."""
    order_pk = _positive_int(order_id, "order_id")
    shipment_pk = _positive_int(shipment_id, "shipment_id")
    number = _text(tracking_number, "tracking_number", limit=64, required=True)
    if " " in number:
        raise PushInputError(_("tracking_number has spaces in it"))
    carrier_name = _text(carrier, "carrier", limit=100, required=False)
    url = _text(tracking_url, "tracking_url", limit=500, required=False)
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise PushInputError(_("tracking_url is not an http(s) address")) from None
    if not isinstance(lines, list) or len(lines) > MAX_LINES:
        raise PushInputError(_("lines must be a list of at most %(n)s lines") % {"n": MAX_LINES})
    parts: list[dict[str, int]] = []
    for item in lines:
        if not isinstance(item, dict) or set(item) != {"order_line_id", "quantity"}:
            raise PushInputError(_("each line must be {order_line_id, quantity}"))
        parts.append(
            {
                "order_line_id": _positive_int(item["order_line_id"], "order_line_id"),
                "quantity": _positive_int(item["quantity"], "quantity"),
            }
        )
    order = Order.objects.select_related("store").filter(pk=order_pk).first()
    if order is None:
        raise PushInputError(_("no order %(id)s") % {"id": order_pk})
    if order.store_id is None or not order.channel_order_id:
        raise PushInputError(_("order %(id)s has no channel order to fulfil") % {"id": order_pk})
    known = dict(OrderLine.objects.filter(order=order).values_list("pk", "quantity"))
    seen: set[int] = set()
    for part in parts:
        line_id = part["order_line_id"]
        if line_id not in known or line_id in seen:
            raise PushInputError(
                _("line %(line)s is not a line of order %(id)s (or is named twice)")
                % {
                    "line": line_id,
                    "id": order_pk,
                }
            )
        if part["quantity"] > known[line_id]:
            raise PushInputError(_("line %(line)s has fewer units than the parcel holds") % {"line": line_id})
        seen.add(line_id)
    return Handover(order, shipment_pk, number, carrier_name, parts, url)
