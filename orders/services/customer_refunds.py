"""Customer refunds from the channels in: money the merchant gave back to the customer in Shopify,
WooCommerce or TikTok Shop, stored once per (store, channel refund id) whatever path brings it.

Webhooks and pulls hand the refunds of an order (``ChannelOrder.refunds``) to the order upsert,
which calls ``customer_refunds_store`` for the batch in its own transaction (the orders' rows are
locked there, so two deliveries of one order's refunds queue on each other). The statements do
not grow with the number of refunds: one read of the lines, one of the known refunds, one insert,
one update, one insert of events, and two for refusal notes.

Decisions:
- A known refund is updated only when the channel's status, amount or lines changed (a fuller
  read repairs lines a truncated one missed); a refund the
  channel reports final (``FINAL_STATUSES``) never goes back to an earlier status (an older
  body arriving late). Bodies older than the stored order never get here (the upsert skips them).
- Refused, never half-stored: a refund with no id, a negative amount or one above the order's
  total, another currency than the order's, or a line the order does not have (or a quantity
  below zero or above the line's) is not stored; the order gets one note saying why (once per
  refund and reason, however often the channel repeats it).
- A refund id the store already has on another order is refused the same way (a channel's ids
  are unique per shop; this one is hostile or broken).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple, Protocol

from django.db import transaction
from django.utils.translation import gettext as _

from orders import events
from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent, OrderLine

# Statuses after which a channel refund does not move any more (Shopify transaction "success",
# WooCommerce refunds exist only when done, TikTok "RETURN_OR_REFUND_REQUEST_COMPLETE").
FINAL_STATUSES = frozenset({"success", "completed", "refunded", "return_or_refund_request_complete"})
MAX_AMOUNT = Decimal("9999999999.99")  # the column's range (12 digits, 2 decimals)
REFUSED_CODE = "customer_refund_refused"


class RefundLineData(NamedTuple):
    channel_line_id: str
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class CustomerRefundData:
    """One refund as a channel reports it, normalized by its provider's mapping."""

    channel_refund_id: str
    amount: Decimal
    currency: str
    refunded_at: datetime
    reason: str = ""
    status: str = ""
    lines: tuple[RefundLineData, ...] = field(default_factory=tuple)
    # Set by a mapping that could not read this refund (what was wrong): stored never, refused
    # with a note, while the rest of the order's update goes on.
    malformed: str = ""


def customer_refund_malformed(*, channel_refund_id: str, detail: str) -> CustomerRefundData:
    """A refund a mapping could not read: carries its id and what was wrong, to be refused."""
    return CustomerRefundData(
        channel_refund_id=channel_refund_id,
        amount=Decimal(0),
        currency="",
        refunded_at=datetime.min.replace(tzinfo=UTC),
        malformed=detail[:200] or "malformed",
    )


@dataclass
class CustomerRefundsResult:
    created: list[int] = field(default_factory=list)  # CustomerRefund ids
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (channel refund id, reason)


class _Refused(Exception):
    """A refund that cannot be stored, with the reason shown on the order."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _checked(
    *, order: Order, refund: CustomerRefundData, lines: dict[str, tuple[int, int]]
) -> tuple[Decimal, list[dict[str, object]]]:
    """The refund's amount and stored lines; ``_Refused`` with the reason when hostile."""
    try:
        amount = _cents(Decimal(refund.amount))
    except (InvalidOperation, TypeError, ValueError):
        raise _Refused(_("the amount is not a number")) from None
    if not amount.is_finite() or amount < 0:
        raise _Refused(_("the amount %(amount)s is below zero") % {"amount": refund.amount})
    if amount > MAX_AMOUNT or amount > order.total:
        raise _Refused(
            _("the amount %(amount)s is more than the order's total %(total)s")
            % {"amount": amount, "total": order.total}
        )
    if refund.currency.strip().upper() != order.currency.upper():
        raise _Refused(
            _("the refund is in %(currency)s, the order in %(order_currency)s")
            % {"currency": refund.currency[:8], "order_currency": order.currency}
        )
    stored: list[dict[str, object]] = []
    for line in refund.lines:
        known = lines.get(line.channel_line_id)
        if known is None:
            raise _Refused(_("line %(line)s is not on the order") % {"line": line.channel_line_id[:64]})
        order_line_id, ordered = known
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity < 0:
            raise _Refused(_("line %(line)s has a quantity below zero") % {"line": line.channel_line_id})
        if line.quantity > ordered:
            raise _Refused(
                _("line %(line)s refunds %(quantity)s of %(ordered)s ordered")
                % {"line": line.channel_line_id, "quantity": line.quantity, "ordered": ordered}
            )
        try:
            line_amount = _cents(Decimal(line.amount))
        except (InvalidOperation, TypeError, ValueError):
            raise _Refused(_("line %(line)s has no amount") % {"line": line.channel_line_id}) from None
        if not line_amount.is_finite() or line_amount < 0 or line_amount > order.total:
            raise _Refused(_("line %(line)s has an impossible amount") % {"line": line.channel_line_id})
        stored.append(
            {
                "order_line_id": order_line_id,
                "channel_line_id": line.channel_line_id,
                "quantity": line.quantity,
                "amount": str(line_amount),
            }
        )
    return amount, stored


class StoreLike(Protocol):
    """A ``channels_sync.Store`` (orders imports no channel app)."""

    pk: int


def customer_refunds_upsert(*, store: StoreLike, order: Order, refunds: Sequence[CustomerRefundData]) -> int:
    """Store ``refunds`` of one order (known ones updated when the channel changed them); the number
    of new rows. Takes the order's row lock, so concurrent deliveries of one order queue."""
    store_id = store.pk
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).get(pk=order.pk, store_id=store_id)
        return len(customer_refunds_store(store_id=store_id, items=[(locked, refunds)]).created)


def customer_refunds_store(
    *, store_id: int, items: Sequence[tuple[Order, Sequence[CustomerRefundData]]]
) -> CustomerRefundsResult:
    """Store the refunds of several orders of one store, in a fixed number of statements.

    The caller holds the orders' row locks inside its transaction (the order upsert does)."""
    result = CustomerRefundsResult()
    wanted = [(order, refund) for order, refunds in items for refund in refunds]
    if not wanted:
        return result
    orders = {order.pk: order for order, _refund in wanted}
    lines: dict[int, dict[str, tuple[int, int]]] = {}
    for line_id, order_id, channel_line_id, quantity in OrderLine.objects.filter(order_id__in=list(orders)).values_list(
        "id", "order_id", "channel_line_id", "quantity"
    ):
        if channel_line_id:
            lines.setdefault(order_id, {})[channel_line_id] = (line_id, quantity)
    ids = {refund.channel_refund_id.strip() for _, refund in wanted if refund.channel_refund_id}
    known = {
        row.channel_refund_id: row
        for row in CustomerRefund.objects.filter(store_id=store_id, channel_refund_id__in=ids)
    }
    to_create: list[CustomerRefund] = []
    to_update: list[CustomerRefund] = []
    refusals: list[tuple[Order, str, str]] = []
    seen: dict[str, int] = {}  # refund id → the order its first valid copy is on
    for order, refund in wanted:
        refund_id = (refund.channel_refund_id or "").strip()
        try:
            if refund.malformed and not refund_id:
                raise _Refused(_("the channel sent it malformed (%(detail)s)") % {"detail": refund.malformed})
            if not refund_id or len(refund_id) > 64:
                raise _Refused(_("the refund has no usable id"))
            if refund.malformed:
                raise _Refused(_("the channel sent it malformed (%(detail)s)") % {"detail": refund.malformed})
            amount, stored_lines = _checked(order=order, refund=refund, lines=lines.get(order.pk, {}))
            row = known.get(refund_id)
            if row is not None and row.order_id != order.pk:
                raise _Refused(_("the store already has refund %(id)s on another order") % {"id": refund_id})
            if refund_id in seen:  # twice in one batch, after validation: the first valid copy counts
                if seen[refund_id] != order.pk:
                    raise _Refused(_("the channel sent refund %(id)s on another order too") % {"id": refund_id})
                continue
            seen[refund_id] = order.pk
        except _Refused as refused:
            refusals.append((order, refund_id[:64], str(refused)))
            result.refused.append((refund_id[:64], str(refused)))
            continue
        status, reason = refund.status.strip()[:48], refund.reason.strip()[:500]
        if row is None:
            to_create.append(
                CustomerRefund(
                    account_id=order.account_id,
                    store_id=store_id,
                    order=order,
                    channel_refund_id=refund_id,
                    amount=amount,
                    currency=order.currency,
                    lines=stored_lines,
                    reason=reason,
                    status=status,
                    refunded_at=refund.refunded_at,
                )
            )
            continue
        regress = row.status.lower() in FINAL_STATUSES and status.lower() not in FINAL_STATUSES
        if regress or (row.status == status and row.amount == amount and row.lines == stored_lines):
            result.unchanged.append(row.pk)
            continue
        row.status, row.amount, row.lines, row.reason, row.refunded_at = (
            status,
            amount,
            stored_lines,
            reason,
            refund.refunded_at,
        )
        to_update.append(row)
    if to_create:
        CustomerRefund.objects.bulk_create(to_create)
        result.created = [row.pk for row in to_create]
    if to_update:
        CustomerRefund.objects.bulk_update(
            to_update, ["status", "amount", "lines", "reason", "refunded_at", "updated_at"]
        )
        result.updated = [row.pk for row in to_update]
    events.events_customer_refund(
        refunds=[(orders[row.order_id], row, "new") for row in to_create]
        + [(orders[row.order_id], row, "updated") for row in to_update]
    )
    _notes_refused(refusals)
    return result


def _notes_refused(refusals: list[tuple[Order, str, str]]) -> None:
    """One note per order, refund and reason: a channel that keeps sending the same bad refund
    (every pull) does not fill the timeline."""
    if not refusals:
        return
    noted = {
        (order_id, params.get("refund_id"), params.get("reason"))
        for order_id, params in OrderEvent.objects.filter(
            order_id__in={order.pk for order, _id, _why in refusals},
            type=OrderEventType.NOTE,
            parameters__code=REFUSED_CODE,
        ).values_list("order_id", "parameters")
    }
    fresh: dict[tuple[int, str, str], Order] = {}
    for order, refund_id, reason in refusals:
        key = (order.pk, refund_id, reason)
        if key not in noted:
            fresh.setdefault(key, order)
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order=order,
                type=OrderEventType.NOTE,
                parameters={
                    "code": REFUSED_CODE,
                    "refund_id": refund_id,
                    "reason": reason,
                    "text": _("A customer refund %(id)s from the channel was not recorded: %(reason)s.")
                    % {"id": refund_id or "?", "reason": reason},
                },
            )
            for (_order_id, refund_id, reason), order in fresh.items()
        ]
    )
